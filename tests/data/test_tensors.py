"""A user's own tensors: checked, split by seed, never silently rescaled."""

import numpy as np
import pytest
import torch

import moprune
from moprune.config import TrainConfig
from moprune.data import from_tensors, load
from moprune.errors import ConfigError
from moprune.models import build_model
from moprune.training import train


def _data(n=120, c=1, size=8, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, size, size, generator=g), torch.randint(0, classes, (n,),
                                                                    generator=g)


def _batch(splits, part="train"):
    return torch.cat([xb for xb, _ in splits.loader(part, batch_size=1000)])


def test_float_images_are_normalised_on_their_own_scale():
    x, y = _data()
    for scale in (1.0, 255.0, 0.01):  # float images are never divided by 255
        splits = from_tensors(x * scale, y)
        batch = _batch(splits)
        assert abs(float(batch.mean())) < 0.1 and float(batch.std()) == pytest.approx(1, abs=0.1)
        assert splits.raw.mean[0] == pytest.approx(float((x * scale).mean()), rel=1e-4)


def test_uint8_and_the_same_images_as_floats_give_the_same_batches():
    x, y = _data()
    x8 = (x * 255).round().to(torch.uint8)
    a, b = from_tensors(x8, y), from_tensors(x8.float() / 255, y)
    assert torch.allclose(_batch(a), _batch(b), atol=1e-5)
    assert a.raw.mean == pytest.approx(b.raw.mean, rel=1e-5)


def test_splits_are_seeded_disjoint_and_take_a_given_test_set():
    x, y = _data(n=200)
    s0, s0b, s1 = from_tensors(x, y, seed=0), from_tensors(x, y, seed=0), from_tensors(x, y,
                                                                                      seed=1)
    assert s0.sizes == {"train": 162, "val": 18, "test": 20} and s0.test_from == "train"
    assert torch.equal(s0.train_idx, s0b.train_idx) and not torch.equal(s0.val_idx, s1.val_idx)
    parts = [set(s0.train_idx.tolist()), set(s0.val_idx.tolist()), set(s0.test_idx.tolist())]
    assert sum(map(len, parts)) == 200 and len(set().union(*parts)) == 200
    xt, yt = _data(n=30, seed=1)
    own = from_tensors(x.numpy(), y.numpy(), x_test=xt, y_test=yt, val_fraction=0.25,
                       num_classes=5, limit_train=50)
    assert own.sizes == {"train": 50, "val": 50, "test": 30} and own.test_from == "test"
    assert own.num_classes == 5 and own.in_channels == 1 and own.image_size == 8
    assert own.origin["test"] == "the dataset's test set"


def test_a_network_trains_on_them_through_the_top_level_api():
    x, y = _data(n=200, c=3, size=8, classes=4)
    splits = moprune.from_tensors(x[:, :, :, :], y)  # N x C x H x W
    model = build_model("mlp", in_channels=3, num_classes=4, image_size=8, seed=0)
    result = train(model, splits, TrainConfig(epochs=1, batch_size=32), progress=False)
    assert 0 <= result.val_acc <= 1
    grey = from_tensors(x[:, 0], y)  # N x H x W: one channel
    assert grey.in_channels == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"x": torch.rand(10, 8, 8, 1, 1)}, "x must be images N x C x H x W"),
    ({"x": torch.rand(10, 1, 8, 6)}, "x must be square images \\(H == W\\), got 8 x 6"),
    ({"x": torch.randint(0, 255, (10, 1, 8, 8))}, "uint8 \\(0-255\\) or floating-point"),
    ({"x": torch.full((10, 1, 8, 8), float("nan"))}, "x holds NaN or infinite values"),
    ({"x": [[1, 2]]}, "x must be a torch tensor or a numpy array, got list"),
    ({"y": torch.zeros(10, 2, dtype=torch.long)}, "y must be one label per image"),
    ({"y": torch.zeros(10)}, "y must hold integer class labels, got torch.float32"),
    ({"y": torch.arange(9) % 2}, "y has 9 labels for 10 images"),
    ({"y": torch.arange(10) - 1}, "labels must be >= 0, got -1"),
    ({"num_classes": 2}, "labels must be < num_classes=2, got 2"),
    ({"num_classes": 1}, "num_classes must be an integer >= 2"),
    ({"y": torch.zeros(10, dtype=torch.long)}, "one class"),
    ({"x_test": torch.rand(4, 1, 8, 8)}, "give x_test and y_test together"),
    ({"x_test": torch.rand(4, 1, 6, 6), "y_test": torch.zeros(4, dtype=torch.long)},
     "x_test images are \\(1, 6, 6\\), x's are \\(1, 8, 8\\)"),
    ({"x_test": torch.zeros(4, 1, 8, 8, dtype=torch.uint8),
      "y_test": torch.zeros(4, dtype=torch.long)}, "give both as uint8 or both as floating"),
    ({"mean": (0.5, 0.5)}, "mean needs one value per channel \\(1\\), got 2"),
    ({"std": (0.0,)}, "std must be > 0 per channel"),
    ({"val_fraction": 1.5}, "val_fraction must be a number > 0 and < 1"),
    ({"classes": ["a", "b"]}, "2 class names for 3 classes"),
])
def test_bad_tensors_are_one_clear_error(kwargs, message):
    args = {"x": torch.rand(10, 1, 8, 8), "y": torch.arange(10) % 3, **kwargs}
    with pytest.raises(ConfigError, match=message):
        from_tensors(args.pop("x"), args.pop("y"), **args)


def test_numpy_uint8_images_without_channel_axis():
    x = np.random.default_rng(0).integers(0, 256, size=(40, 6, 6), dtype=np.uint8)
    splits = from_tensors(x, np.arange(40) % 2)
    assert splits.raw.train_x.dtype == torch.uint8 and splits.in_channels == 1


def test_load_names_an_unknown_option():
    with pytest.raises(ConfigError, match="unknown data option\\(s\\) batch; known: "):
        load("fashion-mnist", batch=3)
