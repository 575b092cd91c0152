"""Shared fixtures: real Fashion-MNIST (required in CI) and small synthetic data."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from moprune.config import DataConfig
from moprune.data import dataset_status, prepare_data


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # The decompressed Fashion-MNIST cache is shared by the session's tests, but never
    # the user's own cache.
    monkeypatch.setenv("MOPRUNE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    # progress lines (on when stderr is not a terminal) off, unless a test turns them on
    monkeypatch.setenv("MOPRUNE_PROGRESS_LINES", "0")


@pytest.fixture(scope="session")
def fmnist_available() -> None:
    """Skip (outside CI) or fail (in CI) when the real Fashion-MNIST files are missing."""
    ok, why = dataset_status("fashion-mnist")
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real Fashion-MNIST files: {why}")
        pytest.skip(f"real Fashion-MNIST not installed ({why}); run scripts/setup.sh")


@pytest.fixture
def small_fmnist(fmnist_available):
    """2,000 real training images, 500 validation and 500 test images."""
    return prepare_data(DataConfig(limit_train=2000, limit_eval=500))


def write_idx(folder: Path, *, n_train: int = 300, n_test: int = 100, seed: int = 0,
              gz: bool = True) -> Path:
    """Write a synthetic Fashion-MNIST-shaped dataset as IDX files: noise plus a bright
    band whose height depends on the class, so a network can learn it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.random((n, 28, 28)) * 60
        for i, label in enumerate(labels):
            images[i, 2 * label + 2: 2 * label + 6] += 180
        images = images.astype(np.uint8)
        files = {
            f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 2051, n, 28, 28)
            + images.tobytes(),
            f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 2049, n) + labels.tobytes(),
        }
        for name, payload in files.items():
            if gz:
                with gzip.open(folder / f"{name}.gz", "wb") as f:
                    f.write(payload)
            else:
                (folder / name).write_bytes(payload)
    return folder


@pytest.fixture
def synthetic_root(tmp_path) -> Path:
    """A --data-root holding synthetic Fashion-MNIST-shaped .gz IDX files."""
    return write_idx(tmp_path / "fmnist")


@pytest.fixture
def synthetic_data(synthetic_root):
    return prepare_data(DataConfig(data_root=str(synthetic_root), val_fraction=0.2))
