import pytest
import torch

from moprune.config import DataConfig
from moprune.data import dataset_status, load_dataset, prepare_data
from moprune.data.datasets import DEBIAN_FASHION_MNIST
from moprune.errors import DataNotFoundError, UnknownNameError
from tests.conftest import write_idx


def test_fashion_mnist_from_debian_files(fmnist_available):
    ds = load_dataset("fashion-mnist")
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.test_x.shape == (10000, 1, 28, 28)
    assert ds.train_x.dtype == torch.uint8
    assert sorted(ds.train_y.unique().tolist()) == list(range(10))
    assert ds.classes[0] == "T-shirt/top"
    ok, where = dataset_status("fashion-mnist")
    assert ok and where


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_data_root(tmp_path, gz):
    root = write_idx(tmp_path / "root", n_train=50, n_test=20, gz=gz)
    ds = load_dataset("fashion-mnist", root=str(root))
    assert ds.train_x.shape == (50, 1, 28, 28) and len(ds.test_y) == 20


def test_missing_data_root_is_named(tmp_path):
    with pytest.raises(DataNotFoundError, match="data root '.*nowhere' does not exist"):
        load_dataset("fashion-mnist", root=str(tmp_path / "nowhere"))


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr("moprune.data.datasets.DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", root=str(tmp_path))
    assert DEBIAN_FASHION_MNIST.name == "fashion-mnist"


def test_missing_torchvision_dataset_says_download(tmp_path):
    with pytest.raises(DataNotFoundError, match="cifar10.*--download"):
        load_dataset("cifar10", root=str(tmp_path))


def test_unknown_dataset_lists_known():
    with pytest.raises(UnknownNameError, match="unknown dataset 'svhn'; known: cifar10"):
        load_dataset("svhn")


def _images(folder, classes, n, *, size=(20, 24), mode="RGB"):
    from PIL import Image

    for label, colour in classes:
        d = folder / label
        d.mkdir(parents=True)
        for i in range(n):
            fill = colour if mode == "L" else (colour, i * 40, 0)
            Image.new(mode, size, fill).save(d / f"{i}.png")


def test_image_folder_train_val_test(tmp_path):
    classes = (("cat", 0), ("dog", 255))
    for split, n in (("train", 5), ("val", 3), ("test", 2)):
        _images(tmp_path / "imgs" / split, classes, n)
    splits = prepare_data(DataConfig(dataset=f"imagefolder:{tmp_path / 'imgs'}",
                                     image_size=16))
    # val/ is the validation set, test/ the test set; train/ is all training
    assert splits.sizes == {"train": 10, "val": 6, "test": 4}
    assert splits.num_classes == 2 and splits.in_channels == 3 and splits.image_size == 16
    assert splits.origin["val"] == "the dataset's validation set"
    x, y = next(iter(splits.loader("test", batch_size=6)))
    assert x.shape == (4, 3, 16, 16) and sorted(y.tolist()) == [0, 0, 1, 1]
    x, y = next(iter(splits.loader("val", batch_size=6)))
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]


def test_image_folder_flat_is_split_into_three(tmp_path):
    # most users' folder: class subfolders only; grey 12x12 images keep their size/mode
    _images(tmp_path / "flat", (("a", 0), ("b", 128), ("c", 255)), 10, size=(12, 12),
            mode="L")
    config = DataConfig(dataset=f"imagefolder:{tmp_path / 'flat'}", test_fraction=0.2)
    splits = prepare_data(config)
    assert splits.in_channels == 1 and splits.image_size == 12
    assert splits.sizes == {"train": 22, "val": 2, "test": 6}
    assert "0.2 of the training set" in splits.origin["test"]
    parts = [set(splits.train_idx.tolist()), set(splits.val_idx.tolist()),
             set(splits.test_idx.tolist())]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert torch.equal(prepare_data(config).test_idx, splits.test_idx)  # seeded
    x, _ = next(iter(splits.loader("train", batch_size=30)))
    assert abs(x.mean().item()) < 0.3 and 0.7 < x.std().item() < 1.3  # own normalisation


def test_image_folder_unlabelled_test_is_left_out(tmp_path):
    # TinyImageNet's layout: val/ with classes, test/images/ without labels
    classes = (("cat", 0), ("dog", 255))
    _images(tmp_path / "tin" / "train", classes, 10)
    _images(tmp_path / "tin" / "val", classes, 2)
    _images(tmp_path / "tin" / "test", (("images", 0),), 3)
    splits = prepare_data(DataConfig(dataset=f"imagefolder:{tmp_path / 'tin'}",
                                     channels=1, image_size=8))
    assert splits.sizes == {"train": 18, "val": 4, "test": 2}
    assert "unlabelled" in splits.origin["notes"]
    x, _ = next(iter(splits.loader("val")))
    assert x.shape == (4, 1, 8, 8)


def test_image_folder_needs_two_classes(tmp_path):
    _images(tmp_path / "one", (("only", 0),), 3)
    with pytest.raises(DataNotFoundError, match="1 class folder.*two or more"):
        load_dataset(f"imagefolder:{tmp_path / 'one'}")


def test_image_folder_val_with_other_classes(tmp_path):
    _images(tmp_path / "x" / "train", (("cat", 0), ("dog", 255)), 2)
    _images(tmp_path / "x" / "val", (("cat", 0), ("cow", 255)), 2)
    with pytest.raises(DataNotFoundError, match="val/ has other class folders"):
        load_dataset(f"imagefolder:{tmp_path / 'x'}")


def test_missing_image_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="image folder '.*nope' does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'nope'}")
