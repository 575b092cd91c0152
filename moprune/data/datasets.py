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
from typing import Any

import torch
from torch.utils.data import Dataset

from moprune.errors import DataNotFoundError
from moprune.io import write_failed
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
    val_set: Dataset | None = None  # a validation set of its own (an image folder's val/)
    notes: list[str] = field(default_factory=list)  # how the folders were read

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
    name: str, *, root: str | None = None, download: bool = False, image_size: int | None = None,
    channels: int | None = None,
) -> RawDataset:
    """Load a dataset by name.

    Args:
        name: ``fashion-mnist``, ``mnist``, ``cifar10``, ``cifar100`` or
            ``imagefolder:<path>`` (a folder of class subfolders, or one with ``train/``,
            optionally ``val/`` and a labelled ``test/``, each of class subfolders).
        root: Where to look first.
        download: Let torchvision download missing files (needs a network).
        image_size: Side length images are resized to (image folders only; default: the
            first training image's shorter side).
        channels: 1 (greyscale) or 3 (RGB) (image folders only; default: the first
            training image's mode).

    Raises:
        UnknownNameError: for an unknown name.
        DataNotFoundError: when the files are missing, saying how to get them.
    """
    if name.lower().startswith("imagefolder:"):
        return _image_folder(name.split(":", 1)[1], image_size=image_size, channels=channels)
    return DATASETS.get(name)(root=root, download=download)


def dataset_status(name: str, *, root: str | None = None) -> tuple[bool, str]:
    """Whether ``name`` loads without a download: ``(True, source)`` or ``(False, why)``."""
    try:
        return True, load_dataset(name, root=root).source
    except DataNotFoundError as e:
        return False, str(e)


def dataset_rows(root: str | None = None) -> list[dict[str, Any]]:
    """Every registered dataset with whether it loads here and from where (``moprune
    datasets``), and the image-folder form.

    Raises:
        ConfigError: when ``root`` is given and is not a directory.
    """
    from moprune.validation import check_in_dir

    if root is not None:
        check_in_dir(root, "--data-root")
    rows: list[dict[str, Any]] = []
    for name in DATASETS.names():
        ok, where = dataset_status(name, root=root)
        rows.append({"name": name, "available": ok, "where": where})
    rows.append({"name": "imagefolder:<path>", "available": None,
                 "where": "a folder of class subfolders, or with train/ (+ val/, test/) "
                 "inside; missing parts are split off by seed"})
    return rows


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
        try:
            with gzip.open(src / f"{f}.gz", "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            os.replace(tmp, raw / f)
        except OSError as e:  # a full disk: no partial file left in the cache
            tmp.unlink(missing_ok=True)
            raise write_failed(raw / f, e) from e
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


def _image_folder(path: str, *, image_size: int | None, channels: int | None) -> RawDataset:
    """A folder of class subfolders, the way ImageFolder users lay them out.

    - ``train/`` (+ ``val/``) (+ a labelled ``test/``): training, validation and test
      images; a part that is missing is carved from ``train/`` (seeded, see
      :func:`moprune.data.prepare_data`). A ``test/`` without the training classes'
      folders (TinyImageNet's ``test/images/``) is unlabelled and left out.
    - otherwise the folder itself holds the class subfolders, split into all three.

    Images keep their own size and mode unless ``image_size``/``channels`` are given,
    and are normalised by the mean and spread of (up to 256 of) the training images.
    """
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    base = Path(path).expanduser()
    if not base.is_dir():
        raise DataNotFoundError(f"image folder {path!r} does not exist")
    nested = (base / "train").is_dir()
    train_dir = base / "train" if nested else base
    notes = [f"train: {train_dir.name + '/' if nested else 'the folder'}"]
    classes = _class_folders(train_dir)
    if len(classes) < 2:
        raise DataNotFoundError(
            f"image folder {path!r}: {train_dir} has {len(classes)} class folder(s) "
            f"{classes}; a classifier needs two or more (one subfolder of images per class)")
    val_dir = base / "val" if nested and (base / "val").is_dir() else None
    test_dir = base / "test" if nested and (base / "test").is_dir() else None
    for name, folder in (("val", val_dir), ("test", test_dir)):
        if folder is None:
            continue
        theirs = _class_folders(folder)
        if theirs == classes:
            continue
        if name == "test" and not set(theirs) & set(classes):
            notes.append("test/ has no class folders (unlabelled): left out")
            test_dir = None
            continue
        raise DataNotFoundError(f"image folder {path!r}: {name}/ has other class folders "
                                f"than train/ ({theirs[:5]} vs {classes[:5]})")
    from PIL import Image

    def open_folder(d: Path | None) -> ImageFolder | None:
        try:
            return None if d is None else ImageFolder(str(d))
        except (FileNotFoundError, RuntimeError) as e:
            raise DataNotFoundError(f"image folder {path!r} has no usable images: {e}"
                                    ) from None

    train, val, test = open_folder(train_dir), open_folder(val_dir), open_folder(test_dir)
    assert train is not None
    with Image.open(train.samples[0][0]) as first:
        mode, (w, h) = first.mode, first.size
    size = image_size or min(w, h)
    chans = channels or (1 if mode in ("1", "L", "I", "I;16", "F") else 3)
    if chans not in (1, 3):
        raise DataNotFoundError(f"channels must be 1 (greyscale) or 3 (RGB), got {chans}")
    convert = transforms.Grayscale(1) if chans == 1 else transforms.Lambda(_rgb)
    to_tensor = transforms.Compose([convert, transforms.Resize((size, size)),
                                    transforms.ToTensor()])
    train.transform = to_tensor  # (each folder is scanned once; its transform set after)
    mean, std = _image_stats(train)
    tf = transforms.Compose([to_tensor, transforms.Normalize(mean, std)])
    for folder in (train, val, test):
        if folder is not None:
            folder.transform = tf
    notes += [f"val: {'val/' if val is not None else 'carved from train'}",
              f"test: {'test/' if test is not None else 'carved from train'}",
              f"images: {chans} channel(s), resized to {size}x{size}"]
    return RawDataset(
        name=f"imagefolder:{path}", in_channels=chans, num_classes=len(classes),
        image_size=size, mean=mean, std=std, source=str(base), classes=classes,
        train_set=train, test_set=test, val_set=val, notes=notes,
    )


def _class_folders(folder: Path) -> list[str]:
    """The class folders ImageFolder would find in ``folder`` (its own rule), or []."""
    from torchvision.datasets.folder import find_classes

    try:
        return find_classes(folder)[0]
    except FileNotFoundError:
        return []


def _rgb(image: object) -> object:
    return image.convert("RGB")  # type: ignore[attr-defined]


def _image_stats(dataset: Dataset, n: int = 256) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of up to ``n`` images (evenly spaced)."""
    total = len(dataset)  # type: ignore[arg-type]
    k = min(n, total)
    picks = sorted({round(i * (total - 1) / max(1, k - 1)) for i in range(k)})
    x = torch.stack([dataset[i][0] for i in picks])
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
