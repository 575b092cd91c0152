"""moprune: multiobjective pruning and tuning of neural networks on PyTorch.

Example:
    >>> import moprune
    >>> data = moprune.prepare_data(moprune.DataConfig(dataset="fashion-mnist"))  # doctest: +SKIP
    >>> model = moprune.build_model("lenet5", in_channels=1, num_classes=10, image_size=28)
    >>> result = moprune.train(model, data, moprune.TrainConfig(epochs=1))  # doctest: +SKIP
"""

from moprune.config import DataConfig, RunConfig, TrainConfig
from moprune.data import DataSplits, load_dataset, prepare_data
from moprune.errors import (
    ConfigError,
    DataNotFoundError,
    DivergedError,
    MopruneError,
    UnknownNameError,
)
from moprune.models import build_model, load_model, register_model, save_model
from moprune.training import Callback, TrainResult, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "ConfigError",
    "DataConfig",
    "DataNotFoundError",
    "DataSplits",
    "DivergedError",
    "MopruneError",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "UnknownNameError",
    "__version__",
    "build_model",
    "evaluate",
    "load_dataset",
    "load_model",
    "prepare_data",
    "register_model",
    "save_model",
    "train",
]
