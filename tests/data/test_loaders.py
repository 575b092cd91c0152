import pytest
import torch

from moprune.config import DataConfig
from moprune.data import TensorLoader, prepare_data, split_indices
from moprune.errors import ConfigError


def test_split_is_disjoint_complete_and_deterministic():
    train, val = split_indices(1000, val_fraction=0.1, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(1000))
    again_train, again_val = split_indices(1000, val_fraction=0.1, seed=3)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    _, other_val = split_indices(1000, val_fraction=0.1, seed=4)
    assert not torch.equal(val, other_val)


def test_split_rejects_empty_parts():
    with pytest.raises(ConfigError, match="val_fraction 0.001 leaves no validation"):
        split_indices(100, val_fraction=0.001, seed=0)


def test_real_split_and_limits(fmnist_available):
    full = prepare_data(DataConfig())
    assert full.sizes == {"train": 54000, "val": 6000, "test": 10000}
    assert set(full.train_idx.tolist()).isdisjoint(full.val_idx.tolist())
    small = prepare_data(DataConfig(limit_train=500, limit_eval=200))
    assert small.sizes == {"train": 500, "val": 200, "test": 200}
    # the validation set of a subset is part of the full one: limits never leak train data
    assert set(small.val_idx.tolist()) <= set(full.val_idx.tolist())
    x, y = next(iter(small.loader("train", batch_size=64)))
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.long


def _loader(**kw):
    x = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    y = torch.arange(10)
    return TensorLoader(x, y, batch_size=4, mean=(0.0,), std=(1.0,), **kw)


def test_loader_order_depends_only_on_seed_and_epoch():
    def order(loader, epoch):
        loader.set_epoch(epoch)
        return torch.cat([yb for _, yb in loader]).tolist()

    a, b = _loader(shuffle=True, seed=1), _loader(shuffle=True, seed=1)
    assert order(a, 0) == order(b, 0)
    assert order(a, 0) != order(a, 1)
    assert order(a, 1) == order(b, 1)
    assert sorted(order(a, 2)) == list(range(10))
    assert order(_loader(shuffle=False), 0) == list(range(10))
    assert len(a) == 3


def test_loader_normalises():
    loader = _loader(shuffle=False)
    x, y = next(iter(loader))
    assert torch.allclose(x[:, 0, 0, 0], y.float() / 255.0)


def test_augmentation_keeps_shapes_and_changes_images():
    x = torch.randint(0, 255, (64, 1, 28, 28), dtype=torch.uint8)
    loader = TensorLoader(x, torch.zeros(64, dtype=torch.long), batch_size=64, shuffle=False,
                          mean=(0.0,), std=(1.0,), augment=True)
    xb, _ = next(iter(loader))
    assert xb.shape == (64, 1, 28, 28)
    assert not torch.allclose(xb, x.float() / 255.0)
    loader.set_epoch(0)
    assert torch.equal(next(iter(loader))[0], xb)  # seeded
