"""Datasets by name, a user's own tensors, seeded splits and batch loaders."""

from moprune.data.datasets import (
    DATASETS,
    RawDataset,
    dataset_rows,
    dataset_status,
    load_dataset,
)
from moprune.data.loaders import (
    DataSplits,
    LazyLoader,
    TensorLoader,
    load,
    prepare_data,
    split_data,
    split_indices,
)
from moprune.data.tensors import from_tensors

__all__ = [
    "DATASETS",
    "DataSplits",
    "LazyLoader",
    "RawDataset",
    "TensorLoader",
    "dataset_rows",
    "dataset_status",
    "from_tensors",
    "load",
    "load_dataset",
    "prepare_data",
    "split_data",
    "split_indices",
]
