"""Datasets by name, through torchvision's own dataset classes.

Each loader returns a :class:`RawDataset`: the whole train and test sets as uint8 or
float tensors in memory (small image sets) or as torchvision datasets read lazily
(image folders), plus what a model needs to know (channels, classes, image size).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from moprune.errors import DataNotFoundError
from moprune.registry import Registry

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "RawDataset",
    "cache_dir",
    "dataset_status",
    "load_dataset",
]

#: Where Debian's dataset-fashion-mnist package puts the IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass
class RawDataset:
    """A dataset before splitting.

    Tensor form (``train_x`` etc. set): images as ``N x C x H x W`` uint8 tensors, labels
    as int64. Lazy form (``train_set`` set): torchvision datasets yielding normalised
    float tensors.
    """

    name: str
    in_channels: int
    num_classes: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str  # where the files were read from
    classes: list[str] = field(default_factory=list)
    train_x: torch.Tensor | None = None
    train_y: torch.Tensor | None = None
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None
    train_set: Dataset | None = None
    test_set: Dataset | None = None

    @property
    def in_memory(self) -> bool:
        return self.train_x is not None

    @property
    def num_train(self) -> int:
        return _count(self.train_y, self.train_set)

    @property
    def num_test(self) -> int:
        return _count(self.test_y, self.test_set)


def _count(labels: torch.Tensor | None, dataset: Dataset | None) -> int:
    if labels is not None:
        return len(labels)
    return 0 if dataset is None else len(dataset)  # type: ignore[arg-type]


Loader = Callable[..., RawDataset]
DATASETS: Registry[Loader] = Registry("dataset")


def cache_dir() -> Path:
    """moprune's data cache: ``$MOPRUNE_CACHE`` or ``~/.cache/moprune``."""
    return Path(os.environ.get("MOPRUNE_CACHE", Path.home() / ".cache" / "moprune"))


def load_dataset(
    name: str, *, root: str | None = None, download: bool = False, image_size: int | None = None
) -> RawDataset:
    """Load a dataset by name.

    Args:
        name: ``fashion-mnist``, ``mnist``, ``cifar10``, ``cifar100`` or
            ``imagefolder:<path>`` (a folder of class subfolders, or one with ``train/``
            and ``val/``/``test/`` folders of class subfolders).
        root: Where to look first.
        download: Let torchvision download missing files (needs a network).
        image_size: Side length images are resized to (image folders only).

    Raises:
        UnknownNameError: for an unknown name.
        DataNotFoundError: when the files are missing, saying how to get them.
    """
    if name.lower().startswith("imagefolder:"):
        return _image_folder(name.split(":", 1)[1], image_size=image_size)
    return DATASETS.get(name)(root=root, download=download)


def dataset_status(name: str, *, root: str | None = None) -> tuple[bool, str]:
    """Whether ``name`` loads without a download: ``(True, source)`` or ``(False, why)``."""
    try:
        return True, load_dataset(name, root=root).source
    except DataNotFoundError as e:
        return False, str(e)


def _to_tensor_images(data: object) -> torch.Tensor:
    """torchvision's ``.data`` (N x H x W tensor or N x H x W x C array) as N x C x H x W uint8."""
    images = torch.as_tensor(data)
    if images.ndim == 3:
        return images.unsqueeze(1).contiguous()
    return images.permute(0, 3, 1, 2).contiguous()


def _from_torchvision(cls: type, root: Path, *, download: bool, name: str, **meta) -> RawDataset:
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError:
        raise DataNotFoundError(
            f"dataset {name!r} not found under {root}; pass --download to fetch it "
            "(needs a network) or --data-root DIR pointing at torchvision's layout"
        ) from None
    return RawDataset(
        name=name,
        classes=list(train.classes),
        train_x=_to_tensor_images(train.data),
        train_y=torch.as_tensor(train.targets, dtype=torch.long),
        test_x=_to_tensor_images(test.data),
        test_y=torch.as_tensor(test.targets, dtype=torch.long),
        source=str(root),
        **meta,
    )


def _find_fashion_mnist(root: str | None) -> Path:
    """A folder holding torchvision's ``FashionMNIST/raw`` layout, making one if needed.

    Looks under ``root`` (torchvision's layout, or the four IDX files, .gz or not),
    then in Debian's ``/usr/share/datasets/fashion-mnist``. torchvision reads only
    uncompressed IDX files, so gzip'd ones are decompressed once into moprune's cache.
    """
    if root and not Path(root).is_dir():
        raise DataNotFoundError(f"data root {root!r} does not exist")
    candidates = [Path(root)] if root else []
    candidates.append(DEBIAN_FASHION_MNIST)
    for base in candidates:
        if _has_idx(base / "FashionMNIST" / "raw", gz=False):
            return base
        if _has_idx(base, gz=False):
            return _link_layout(base)
        if _has_idx(base, gz=True) or _has_idx(base / "FashionMNIST" / "raw", gz=True):
            src = base if _has_idx(base, gz=True) else base / "FashionMNIST" / "raw"
            return _decompress_layout(src)
    where = " or ".join(str(c) for c in candidates)
    raise DataNotFoundError(
        f"Fashion-MNIST not found in {where}; install it with "
        "'apt-get install dataset-fashion-mnist', pass --data-root DIR, or pass --download"
    )


def _has_idx(folder: Path, *, gz: bool) -> bool:
    suffix = ".gz" if gz else ""
    return all((folder / f"{f}{suffix}").is_file() for f in _IDX_FILES)


def _layout_dir(kind: str, src: Path, files: list[Path]) -> Path:
    """A cache folder keyed by the source files' path, size and time: one per source."""
    key = hashlib.sha1()
    for f in files:
        st = f.stat()
        key.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
    return cache_dir() / "data" / f"{kind}-{key.hexdigest()[:12]}"


def _link_layout(src: Path) -> Path:
    """Make torchvision's layout over uncompressed IDX files with symlinks (no copy)."""
    base = _layout_dir("fashion-mnist-links", src, [src / f for f in _IDX_FILES])
    raw = base / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in _IDX_FILES:
        if not (raw / f).exists():
            tmp = raw / f".{f}.tmp{os.getpid()}"
            tmp.symlink_to((src / f).resolve())
            os.replace(tmp, raw / f)
    return base


def _decompress_layout(src: Path) -> Path:
    """Decompress the IDX .gz files once into the cache, atomically per file."""
    base = _layout_dir("fashion-mnist", src, [src / f"{f}.gz" for f in _IDX_FILES])
    raw = base / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in _IDX_FILES:
        if (raw / f).is_file():
            continue
        tmp = raw / f".{f}.tmp{os.getpid()}"
        with gzip.open(src / f"{f}.gz", "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(tmp, raw / f)
    return base


@DATASETS.register("fashion-mnist")
def fashion_mnist(*, root: str | None = None, download: bool = False) -> RawDataset:
    """Fashion-MNIST (28x28 grey, 10 classes), Debian's files when present."""
    from torchvision.datasets import FashionMNIST

    meta = dict(in_channels=1, num_classes=10, image_size=28, mean=(0.2860,), std=(0.3530,))
    try:
        base = _find_fashion_mnist(root)
    except DataNotFoundError:
        if not download:
            raise
        base = Path(root) if root else cache_dir() / "data"
    return _from_torchvision(FashionMNIST, base, download=download, name="fashion-mnist", **meta)


def _torchvision_loader(name: str, cls_name: str, **meta) -> Loader:
    def load(*, root: str | None = None, download: bool = False) -> RawDataset:
        import torchvision.datasets as tvd

        base = Path(root) if root else cache_dir() / "data"
        return _from_torchvision(getattr(tvd, cls_name), base, download=download, name=name,
                                 **meta)

    load.__doc__ = f"{name} through torchvision.datasets.{cls_name}."
    return load


_GREY = dict(in_channels=1, num_classes=10, image_size=28)
_TORCHVISION_SPECS = {
    "mnist": ("MNIST", dict(_GREY, mean=(0.1307,), std=(0.3081,))),
    "cifar10": ("CIFAR10", dict(in_channels=3, num_classes=10, image_size=32,
                                mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))),
    "cifar100": ("CIFAR100", dict(in_channels=3, num_classes=100, image_size=32,
                                  mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762))),
}
for _name, (_cls, _meta) in _TORCHVISION_SPECS.items():
    DATASETS.register(_name)(_torchvision_loader(_name, _cls, **_meta))


def _image_folder(path: str, *, image_size: int | None) -> RawDataset:
    """A folder of class subfolders (TinyImageNet after the usual reformatting)."""
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    base = Path(path).expanduser()
    if not base.is_dir():
        raise DataNotFoundError(f"image folder {path!r} does not exist")
    train_dir = base / "train" if (base / "train").is_dir() else base
    test_dir = next((base / d for d in ("test", "val") if (base / d).is_dir()), None)
    size = image_size or 64
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet statistics
    tf = transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    try:
        train = ImageFolder(str(train_dir), transform=tf)
        test = ImageFolder(str(test_dir), transform=tf) if test_dir is not None else None
    except (FileNotFoundError, RuntimeError) as e:
        raise DataNotFoundError(f"image folder {path!r} has no usable images: {e}") from None
    if test is not None and test.classes != train.classes:
        raise DataNotFoundError(
            f"image folder {path!r}: its test folder has other classes than {train_dir.name}/")
    return RawDataset(
        name=f"imagefolder:{path}", in_channels=3, num_classes=len(train.classes),
        image_size=size, mean=mean, std=std, source=str(base), classes=list(train.classes),
        train_set=train, test_set=test,
    )
