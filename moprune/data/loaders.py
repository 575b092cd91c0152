"""Seeded train/validation/test splits and fast batch iterators.

Small image sets live in memory as uint8 (or a user's float) tensors, on the training
device, and are normalised per batch, which is several times faster than a per-image DataLoader on a
few CPU cores. Batch order depends only on ``(seed, epoch)``, so a resumed run sees
exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from moprune.config import DataConfig
from moprune.data.datasets import RawDataset, load_dataset
from moprune.errors import ConfigError

__all__ = ["DataSplits", "LazyLoader", "TensorLoader", "load", "prepare_data", "split_data",
           "split_indices"]

Batch = tuple[torch.Tensor, torch.Tensor]


def _generator(seed: int, epoch: int = 0) -> torch.Generator:
    # One stream per (seed, epoch): resuming at any epoch needs no saved loader state.
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def split_indices(n: int, *, val_fraction: float, seed: int, what: str = "val_fraction"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint train and validation indices into ``range(n)``, fixed by ``seed``.

    Returns:
        ``(train_idx, val_idx)``; together they cover ``range(n)`` exactly once.
    """
    n_val = round(n * val_fraction)
    if n_val < 1 or n_val >= n:
        held = "test" if what == "test_fraction" else "validation"
        raise ConfigError(f"{what} {val_fraction} leaves no {held} or training images out "
                          f"of {n}")
    perm = torch.randperm(n, generator=_generator(seed))
    return perm[n_val:], perm[:n_val]


def eval_batch_size(device: torch.device | str) -> int:
    """Images per evaluation batch when the config leaves it open: 128 on the CPU, whose
    convolutions slow down past a few hundred images a batch (benchmarks/bench_trial.py:
    the VGG's validation pass 3.6 s at 1024, 1.4 s at 128; resnet20's 5.1 s and 1.4 s),
    1024 on a GPU."""
    return 1024 if torch.device(device).type == "cuda" else 128


class TensorLoader:
    """Iterates over ``(x, y)`` batches of in-memory images, normalised on the fly.

    Args:
        x: ``N x C x H x W`` images: uint8 (0..255, read on the 0..1 scale) or floating
            point (on their own scale, never rescaled).
        y: ``N`` int64 labels.
        batch_size: Images per batch.
        shuffle: Shuffle every epoch (seeded by ``seed`` and the epoch from
            :meth:`set_epoch`).
        mean, std: Per-channel normalisation (for uint8 images on the 0..1 scale).
        augment: Random crop (padding 4) and horizontal flip.
        device: Where batches are produced (the data is moved there once).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, shuffle: bool,
                 mean: tuple[float, ...], std: tuple[float, ...], seed: int = 0,
                 augment: bool = False, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.augment = augment
        self.epoch = 0
        shape = (1, -1, 1, 1)
        unit = 255.0 if x.dtype == torch.uint8 else 1.0
        self._scale = (1.0 / (unit * torch.tensor(std))).view(shape).to(self.device)
        self._shift = (torch.tensor(mean) / torch.tensor(std)).view(shape).to(self.device)

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle (and augmentation) stream of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.y) + self.batch_size - 1) // self.batch_size

    @property
    def num_samples(self) -> int:
        return len(self.y)

    def __iter__(self) -> Iterator[Batch]:
        gen = _generator(self.seed, self.epoch + 1)
        n = len(self.y)
        order = torch.randperm(n, generator=gen).to(self.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            stop = start + self.batch_size
            if order is None:
                xb, yb = self.x[start:stop], self.y[start:stop]
            else:
                xb, yb = self.x[order[start:stop]], self.y[order[start:stop]]
            if self.augment:
                xb = _crop_flip(xb, gen)
            yield xb.float() * self._scale - self._shift, yb


def _crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop of a zero-padded batch and random horizontal flip, per image."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    flip = (torch.rand(b, generator=gen) < 0.5).to(x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + ox[:, None]
    out = padded[torch.arange(b, device=x.device)[:, None, None], :, rows[:, :, None],
                 cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


class LazyLoader:
    """The same interface over a torchvision dataset read from disk (image folders)."""

    def __init__(self, dataset: Dataset, *, batch_size: int, shuffle: bool, seed: int = 0,
                 device: torch.device | str = "cpu", num_workers: int = 0) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.device = torch.device(device)
        self.num_workers = num_workers
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size  # type: ignore[arg-type]

    @property
    def num_samples(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        loader = DataLoader(self.dataset, batch_size=self.batch_size, shuffle=self.shuffle,
                            generator=_generator(self.seed, self.epoch + 1),
                            num_workers=self.num_workers,
                            pin_memory=self.device.type == "cuda")
        for xb, yb in loader:
            yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)


Loader = TensorLoader | LazyLoader


@dataclass
class DataSplits:
    """A dataset split into train, validation and test parts, ready to batch.

    Build one with :func:`prepare_data`. The test part is for final reporting only.
    """

    raw: RawDataset
    config: DataConfig
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor | None
    val_from: str = "train"  # which set the validation indices point into: train | val
    test_from: str = "test"  # which set the test indices point into: test | train

    @property
    def origin(self) -> dict[str, str]:
        """Where each part comes from, in words (for results files)."""
        return {"val": ("the dataset's validation set" if self.val_from == "val" else
                        f"{self.config.val_fraction:g} of the training set (seeded)"),
                "test": ("the dataset's test set" if self.test_from == "test" else
                         f"{self.config.test_fraction:g} of the training set (seeded)"),
                **({"notes": "; ".join(self.raw.notes)} if self.raw.notes else {})}

    @property
    def in_channels(self) -> int:
        return self.raw.in_channels

    @property
    def num_classes(self) -> int:
        return self.raw.num_classes

    @property
    def image_size(self) -> int:
        return self.raw.image_size

    @property
    def sizes(self) -> dict[str, int]:
        """Number of images in each part."""
        test = 0 if self.test_idx is None else len(self.test_idx)
        return {"train": len(self.train_idx), "val": len(self.val_idx), "test": test}

    def loader(self, part: str, *, batch_size: int | None = None, seed: int = 0,
               device: torch.device | str = "cpu") -> Loader:
        """Batches of ``part`` (``train``, ``val`` or ``test``); only ``train`` shuffles."""
        if part not in ("train", "val", "test"):
            raise ConfigError(f"part must be train, val or test, got {part!r}")
        if part == "test" and self.test_idx is None:
            raise ConfigError(f"dataset {self.raw.name!r} has no test set")
        train = part == "train"
        bs = batch_size or self.config.eval_batch_size or eval_batch_size(device)
        idx = {"train": self.train_idx, "val": self.val_idx, "test": self.test_idx}[part]
        raw = self.raw
        source = {"train": "train", "val": self.val_from, "test": self.test_from}[part]
        if raw.in_memory:
            from_train = source == "train"
            x = (raw.train_x if from_train else raw.test_x)[idx]  # type: ignore[index]
            y = (raw.train_y if from_train else raw.test_y)[idx]  # type: ignore[index]
            return TensorLoader(x, y, batch_size=bs, shuffle=train, mean=raw.mean, std=raw.std,
                                seed=seed, augment=train and self.config.augment, device=device)
        base = {"train": raw.train_set, "val": raw.val_set, "test": raw.test_set}[source]
        assert base is not None and idx is not None  # a lazy dataset always has its parts
        return LazyLoader(Subset(base, idx.tolist()), batch_size=bs, shuffle=train,
                          seed=seed, device=device)


def prepare_data(config: DataConfig | None = None) -> DataSplits:
    """Load ``config.dataset`` and split it (seeded, disjoint, optionally subset).

    Example:
        >>> splits = prepare_data(DataConfig(dataset="fashion-mnist", limit_train=1000))
        >>> splits.sizes["train"]
        1000

    Raises:
        UnknownNameError, DataNotFoundError, ConfigError: for bad input.
    """
    config = config or DataConfig()
    raw = load_dataset(config.dataset, root=config.data_root, download=config.download,
                       image_size=config.image_size, channels=config.channels)
    return split_data(raw, config)


def load(name: str = "fashion-mnist", *, val_fraction: float = 0.1, seed: int = 0,
         **options: Any) -> DataSplits:
    """A registered dataset, or an image folder (``"imagefolder:PATH"``), split and ready.

    ``options`` are the other fields of :class:`~moprune.config.DataConfig`
    (``limit_train``, ``data_root``, ``image_size`` ...); ``seed`` is the split's seed.

    Example:
        >>> splits = load("fashion-mnist", limit_train=1000)  # doctest: +SKIP

    Raises:
        ConfigError: for an unknown option or a bad value, naming it.
    """
    import dataclasses

    fields = {f.name for f in dataclasses.fields(DataConfig)} - {"dataset", "split_seed",
                                                                  "val_fraction"}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ConfigError(f"unknown data option(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(fields))}")
    return prepare_data(DataConfig(dataset=name, val_fraction=val_fraction, split_seed=seed,
                                   **options))


def split_data(raw: RawDataset, config: DataConfig) -> DataSplits:
    """Split a loaded dataset as ``config`` says: the test set is the dataset's own or a
    seeded ``test_fraction`` of its training images; validation is its own validation set
    or a seeded ``val_fraction`` of the rest; ``limit_train``/``limit_eval`` subset them."""
    pool = torch.arange(raw.num_train)
    test_from = "test" if raw.num_test else "train"
    if raw.num_test:
        test_idx = _subset(raw.num_test, config.limit_eval, config.split_seed, -1)
    else:  # no test set: a seeded share of the training images, before validation
        pool, test_idx = split_indices(raw.num_train, val_fraction=config.test_fraction,
                                       seed=config.split_seed + 7919, what="test_fraction")
        test_idx = test_idx.sort().values[:config.limit_eval]
    if raw.val_set is not None:  # a validation set of its own
        val_from, train_idx = "val", pool[torch.randperm(len(pool),
                                                          generator=_generator(config.split_seed))]
        val_idx = _subset(len(raw.val_set), config.limit_eval, config.split_seed, -2)  # type: ignore[arg-type]
    else:
        val_from = "train"
        rest, val_pos = split_indices(len(pool), val_fraction=config.val_fraction,
                                      seed=config.split_seed)
        train_idx, val_idx = pool[rest], pool[val_pos][:config.limit_eval]
    if config.limit_train is not None:
        train_idx = train_idx[:config.limit_train]
    return DataSplits(raw=raw, config=config, train_idx=train_idx, val_idx=val_idx,
                      test_idx=test_idx, val_from=val_from, test_from=test_from)


def _subset(n: int, limit: int | None, seed: int, stream: int) -> torch.Tensor:
    """``range(n)``, or a seeded sorted subset of ``limit`` of it."""
    if limit is None or limit >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=_generator(seed, stream))[:limit].sort().values
