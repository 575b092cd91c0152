"""Datasets by name, seeded splits and batch loaders."""

from moprune.data.datasets import DATASETS, RawDataset, dataset_status, load_dataset
from moprune.data.loaders import (
    DataSplits,
    LazyLoader,
    TensorLoader,
    prepare_data,
    split_indices,
)

__all__ = [
    "DATASETS",
    "DataSplits",
    "LazyLoader",
    "RawDataset",
    "TensorLoader",
    "dataset_status",
    "load_dataset",
    "prepare_data",
    "split_indices",
]
