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


def test_image_folder(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for label, colour in (("cat", 0), ("dog", 255)):
            folder = tmp_path / "imgs" / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (20, 24), (colour, i * 40, 0)).save(folder / f"{i}.png")
    splits = prepare_data(DataConfig(dataset=f"imagefolder:{tmp_path / 'imgs'}",
                                     image_size=16, val_fraction=0.5))
    assert splits.num_classes == 2 and splits.in_channels == 3 and splits.image_size == 16
    assert splits.sizes == {"train": 3, "val": 3, "test": 6}
    x, y = next(iter(splits.loader("test", batch_size=6)))
    assert x.shape == (6, 3, 16, 16) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]


def test_missing_image_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="image folder '.*nope' does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'nope'}")
