"""A user's own tensors as the splits every moprune function takes.

Example:
    >>> import torch
    >>> from moprune.data import from_tensors
    >>> x = torch.rand(200, 1, 8, 8)            # float images, on their own scale
    >>> y = torch.randint(0, 4, (200,))
    >>> splits = from_tensors(x, y, val_fraction=0.1, seed=0)
    >>> splits.sizes
    {'train': 162, 'val': 18, 'test': 20}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from moprune.config import DataConfig
from moprune.data.datasets import RawDataset
from moprune.data.loaders import DataSplits, split_data
from moprune.errors import ConfigError

__all__ = ["TENSORS_PREFIX", "from_tensors"]

#: The dataset name of a user's tensors in a DataConfig: no loader can load it by name.
TENSORS_PREFIX = "tensors:"


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise ConfigError(f"{what} must be a torch tensor or a numpy array, got "
                      f"{type(value).__name__}")


def _images(value: Any, what: str) -> torch.Tensor:
    x = _tensor(value, what)
    if x.ndim == 3:  # N x H x W: one channel
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise ConfigError(f"{what} must be images N x C x H x W (or N x H x W), got shape "
                          f"{tuple(x.shape)}")
    if x.shape[2] != x.shape[3]:
        raise ConfigError(f"{what} must be square images (H == W), got {x.shape[2]} x "
                          f"{x.shape[3]}")
    if x.shape[0] < 1 or x.shape[2] < 1:
        raise ConfigError(f"{what} holds no images (shape {tuple(x.shape)})")
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise ConfigError(f"{what} must hold uint8 (0-255) or floating-point images, got "
                          f"{x.dtype}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ConfigError(f"{what} holds NaN or infinite values")
    return x if x.dtype == torch.uint8 else x.float()


def _labels(value: Any, what: str, n: int) -> torch.Tensor:
    y = _tensor(value, what)
    if y.ndim != 1:
        raise ConfigError(f"{what} must be one label per image (1-D), got shape "
                          f"{tuple(y.shape)}")
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise ConfigError(f"{what} must hold integer class labels, got {y.dtype}")
    if len(y) != n:
        raise ConfigError(f"{what} has {len(y)} labels for {n} images")
    return y.long()


def _stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and spread (on the 0..1 scale for uint8 images)."""
    v = x.float() / (255.0 if x.dtype == torch.uint8 else 1.0)
    mean = v.mean(dim=(0, 2, 3))
    std = v.std(dim=(0, 2, 3)).clamp_min(1e-8)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def from_tensors(x: Any, y: Any, *, x_test: Any = None, y_test: Any = None,
                 val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
                 num_classes: int | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 limit_train: int | None = None, classes: Sequence[str] | None = None,
                 name: str = "tensors") -> DataSplits:
    """Split a user's images and labels into train, validation and test parts.

    Args:
        x: Training images ``N x C x H x W`` (or ``N x H x W``), square, as uint8 (0..255)
            or floating point. Float images are used on their own scale: never divided
            by 255.
        y: Integer class labels in ``[0, num_classes)``, one per image.
        x_test, y_test: A test set of the same image shape and kind; without one, a
            seeded ``test_fraction`` of ``x`` is held out as the test set.
        val_fraction: The share of the (remaining) training images held out for
            validation, seeded by ``seed``.
        num_classes: The number of classes; default: the largest label + 1.
        mean, std: Per-channel normalisation (uint8 images: on the 0..1 scale); default:
            the training images' own.
        limit_train: Use only this many training images.
        classes: Class names (default ``"0"``, ``"1"``, ...).

    Returns:
        The :class:`~moprune.data.DataSplits` that ``train``, ``train_front`` and the HPO
        take.

    Raises:
        ConfigError: naming the argument, for a wrong shape, dtype, label or fraction.
    """
    xs = _images(x, "x")
    ys = _labels(y, "y", len(xs))
    if (x_test is None) != (y_test is None):
        raise ConfigError("give x_test and y_test together, or neither")
    xt = yt = None
    if x_test is not None:
        xt = _images(x_test, "x_test")
        yt = _labels(y_test, "y_test", len(xt))
        if xt.shape[1:] != xs.shape[1:]:
            raise ConfigError(f"x_test images are {tuple(xt.shape[1:])}, x's are "
                              f"{tuple(xs.shape[1:])}")
        if (xt.dtype == torch.uint8) != (xs.dtype == torch.uint8):
            raise ConfigError(f"x is {xs.dtype} and x_test {xt.dtype}: give both as uint8 "
                              "or both as floating point (they are normalised alike)")
    labels = ys if yt is None else torch.cat([ys, yt])
    if int(labels.min()) < 0:
        raise ConfigError(f"labels must be >= 0, got {int(labels.min())}")
    top = int(labels.max())
    if num_classes is None:
        num_classes = top + 1
    elif not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ConfigError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    elif top >= num_classes:
        raise ConfigError(f"labels must be < num_classes={num_classes}, got {top}")
    if len(torch.unique(ys)) < 2:
        raise ConfigError("the training labels hold one class; a classifier needs two or more")
    channels = xs.shape[1]
    own_mean, own_std = _stats(xs)
    mean_t = tuple(float(v) for v in mean) if mean is not None else own_mean
    std_t = tuple(float(v) for v in std) if std is not None else own_std
    for what, values in (("mean", mean_t), ("std", std_t)):
        if len(values) != channels:
            raise ConfigError(f"{what} needs one value per channel ({channels}), got "
                              f"{len(values)}")
    if not all(v > 0 for v in std_t):
        raise ConfigError(f"std must be > 0 per channel, got {list(std_t)}")
    names = [str(c) for c in classes] if classes is not None else [
        str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ConfigError(f"{len(names)} class names for {num_classes} classes")
    config = DataConfig(dataset=f"{TENSORS_PREFIX}{name}", val_fraction=val_fraction,
                        test_fraction=test_fraction, split_seed=seed, limit_train=limit_train)
    raw = RawDataset(name=name, in_channels=channels, num_classes=num_classes,
                     image_size=int(xs.shape[2]), mean=mean_t, std=std_t,
                     source=f"tensors in memory ({xs.dtype})", classes=names,
                     train_x=xs, train_y=ys, test_x=xt, test_y=yt)
    return split_data(raw, config)
