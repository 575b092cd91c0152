"""moprune: multiobjective pruning and tuning of neural networks on PyTorch.

Example:
    >>> import moprune
    >>> data = moprune.prepare_data(moprune.DataConfig(dataset="fashion-mnist"))  # doctest: +SKIP
    >>> model = moprune.build_model("lenet5", in_channels=1, num_classes=10, image_size=28)
    >>> result = moprune.train(model, data, moprune.TrainConfig(epochs=1))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from moprune.errors import (
    ConfigError,
    DataNotFoundError,
    DivergedError,
    MopruneError,
    UnknownNameError,
)

if TYPE_CHECKING:  # imported on first use (torch takes seconds): `moprune --version` is quick
    from moprune.config import DataConfig, RunConfig, TrainConfig
    from moprune.data import DataSplits, from_tensors, load_dataset, prepare_data
    from moprune.front import Front, Point, train_front
    from moprune.hpo import FidelityResult, HPOResult, fidelity, tune
    from moprune.models import build_model, load_model, register_model, save_model
    from moprune.pruning import CompactResult, compact
    from moprune.runs.front import KneeFile, export_knee
    from moprune.sensitivity import SensitivityResult, SensitivitySettings, run_sensitivity
    from moprune.training import (
        Callback,
        GradualMagnitudePruning,
        TrainResult,
        evaluate,
        train,
    )

_LAZY = {
    "DataConfig": "moprune.config", "RunConfig": "moprune.config",
    "TrainConfig": "moprune.config",
    "DataSplits": "moprune.data", "load_dataset": "moprune.data",
    "from_tensors": "moprune.data",
    "Front": "moprune.front", "Point": "moprune.front", "train_front": "moprune.front",
    "KneeFile": "moprune.runs.front", "export_knee": "moprune.runs.front",
    "HPOResult": "moprune.hpo", "tune": "moprune.hpo",
    "FidelityResult": "moprune.hpo", "fidelity": "moprune.hpo",
    "CompactResult": "moprune.pruning", "compact": "moprune.pruning",
    "SensitivityResult": "moprune.sensitivity", "SensitivitySettings": "moprune.sensitivity",
    "run_sensitivity": "moprune.sensitivity",
    "prepare_data": "moprune.data",
    "build_model": "moprune.models", "load_model": "moprune.models",
    "register_model": "moprune.models", "save_model": "moprune.models",
    "Callback": "moprune.training", "TrainResult": "moprune.training",
    "GradualMagnitudePruning": "moprune.training",
    "evaluate": "moprune.training", "train": "moprune.training",
}


#: Subpackages and modules loaded on first use as attributes (``moprune.front.Path``).
_SUBMODULES = ("compaction", "config", "data", "front", "hpo", "io", "layout", "models",
               "names", "objectives", "pipeline", "pruning", "registry", "report", "runs",
               "sensitivity", "solvers", "training", "validation", "verdicts")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"moprune.{name}")
    raise AttributeError(f"module 'moprune' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Callback",
    "CompactResult",
    "ConfigError",
    "DataConfig",
    "DataNotFoundError",
    "DataSplits",
    "DivergedError",
    "FidelityResult",
    "Front",
    "GradualMagnitudePruning",
    "HPOResult",
    "KneeFile",
    "MopruneError",
    "Point",
    "RunConfig",
    "SensitivityResult",
    "SensitivitySettings",
    "TrainConfig",
    "TrainResult",
    "UnknownNameError",
    "__version__",
    "build_model",
    "compact",
    "evaluate",
    "export_knee",
    "fidelity",
    "from_tensors",
    "load_dataset",
    "load_model",
    "prepare_data",
    "register_model",
    "run_sensitivity",
    "save_model",
    "train",
    "train_front",
    "tune",
]
