"""Settings of every command as frozen dataclasses, and their YAML form.

A config file sets defaults, command-line flags override them, and the resolved
config is written beside every result (``config.yaml`` in the run directory).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from moprune.errors import ConfigError
from moprune.io import write_text

__all__ = [
    "DataConfig",
    "FrontConfig",
    "RunConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "load_config_file",
]

C = TypeVar("C")

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "cosine", "step")


@dataclass(frozen=True)
class DataConfig:
    """Which data, and how it is split and batched for evaluation."""

    dataset: str = "fashion-mnist"  # a registered name or "imagefolder:<path>"
    data_root: str | None = None  # where to look first; None: the usual places
    download: bool = False  # let torchvision download when the files are missing
    val_fraction: float = 0.1  # share of the training set held out for validation
    limit_train: int | None = None  # use only this many training images (quick runs)
    limit_eval: int | None = None  # use only this many validation and test images
    image_size: int | None = None  # resize (imagefolder only; None: 64)
    augment: bool = False  # random crop + horizontal flip on training batches
    eval_batch_size: int = 1024
    split_seed: int = 0  # seed of the train/validation split (fixed across runs)

    def __post_init__(self) -> None:
        _check(0.0 < self.val_fraction < 1.0, "val_fraction must be in (0, 1)", self.val_fraction)
        for name in ("limit_train", "limit_eval", "image_size"):
            value = getattr(self, name)
            _check(value is None or value >= 1, f"{name} must be >= 1", value)
        _check(self.eval_batch_size >= 1, "eval_batch_size must be >= 1", self.eval_batch_size)


@dataclass(frozen=True)
class TrainConfig:
    """How one network is trained."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.05
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0  # the complexity objective regularises; keep 0 for fronts
    label_smoothing: float = 0.0
    scheduler: str = "cosine"  # none | cosine | step (x0.1 at 50% and 75% of the epochs)
    warmup_epochs: int = 0  # linear learning-rate warm-up before the schedule
    seed: int = 0  # weight initialisation, batch order, dropout
    device: str = "auto"  # auto (cuda when present) | cpu | cuda | cuda:N

    def __post_init__(self) -> None:
        _check(self.epochs >= 0, "epochs must be >= 0", self.epochs)
        _check(self.batch_size >= 1, "batch_size must be >= 1", self.batch_size)
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}",
               self.optimizer)
        _check(math.isfinite(self.lr) and self.lr > 0, "lr must be > 0", self.lr)
        _check(0.0 <= self.momentum < 1.0, "momentum must be in [0, 1)", self.momentum)
        _check(self.weight_decay >= 0, "weight_decay must be >= 0", self.weight_decay)
        _check(0.0 <= self.label_smoothing < 1.0, "label_smoothing must be in [0, 1)",
               self.label_smoothing)
        _check(self.scheduler in SCHEDULERS, f"scheduler must be one of {SCHEDULERS}",
               self.scheduler)
        _check(self.warmup_epochs >= 0, "warmup_epochs must be >= 0", self.warmup_epochs)
        _check(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
               "device must be auto, cpu or cuda[:N]", self.device)


@dataclass(frozen=True)
class RunConfig:
    """Settings of ``moprune train``: one model, one dataset, one training run."""

    model: str = "lenet5"  # a registered name or "torchvision:<name>"
    model_args: dict[str, Any] = field(default_factory=dict)  # extra constructor arguments
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True)
class FrontConfig:
    """Settings of ``moprune front``: a Pareto front of one model on one dataset."""

    model: str = "lenet5"
    model_args: dict[str, Any] = field(default_factory=dict)
    method: str = "dichotomic"  # dichotomic | grid | bisection | smgd | path
    budget: int = 8  # training runs of the search (smgd: runs with seeds seed, seed+1, ...;
    #                  path: the points it aims at after the dense one)
    explore_epochs: int | None = None  # epochs of search runs; None: train.epochs
    complexity: str = "l1"  # l1 | group-l1 | flops
    scope: str = "all"  # all | dense | conv
    tau: float | None = None  # intra-training pruning threshold; None: 1e-3, or none with
    #                           prox; 0: off
    freeze_masks: bool = False  # pruned weights stay 0
    prox: bool = False  # proximal l1 step (soft-thresholding) instead of f2's gradient
    finetune: int = 0  # epochs of debiasing per point (mask frozen, lam = 0)
    lams: list[float] | None = None  # weights of the grid method
    smgd_variant: str = "sgd"  # sgd | adam
    smgd_normalize: str = "none"  # none | l2 | loss: g1, g2 normalised before min-norm
    path_warmup: float | None = None  # path: epochs at lam = 0 first; None: epochs / 4
    path_max_drop: float = 0.1  # path: ends this far (accuracy) below the dense point
    path_start_lam: float = 0.5  # path: the first weight of f2 after the dense point
    knee: str = "chord"  # chord | angle | slope: the knee (retrained for train.epochs)
    knee_axes: str = "auto"  # auto | objectives | kept | flops: the plane of the knee
    knee_epochs: int | None = None  # path: debias the knee to this many epochs in all
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        from moprune.front import AXES, KNEE_SELECTORS, METHODS
        from moprune.objectives import KINDS, SCOPES
        from moprune.solvers.multi_gradient import NORMALIZATIONS

        for name, allowed in (("method", METHODS), ("complexity", KINDS), ("scope", SCOPES),
                              ("smgd_variant", ("sgd", "adam")),
                              ("smgd_normalize", NORMALIZATIONS),
                              ("knee", tuple(KNEE_SELECTORS.names())),
                              ("knee_axes", ("auto", *AXES))):
            value = getattr(self, name)
            _check(value in allowed, f"{name} must be one of {tuple(allowed)}", value)
        _check(self.budget >= 1, "budget must be >= 1", self.budget)
        _check(self.explore_epochs is None or self.explore_epochs >= 1,
               "explore_epochs must be >= 1", self.explore_epochs)
        for name in ("tau", "path_warmup"):  # None defaults: their type is checked here
            value = getattr(self, name)
            _check(value is None or (isinstance(value, (int, float))
                                     and not isinstance(value, bool) and value >= 0),
                   f"{name} must be a number >= 0", value)
        _check(self.finetune >= 0, "finetune must be >= 0", self.finetune)
        _check(self.knee_epochs is None or (isinstance(self.knee_epochs, int)
                                            and self.knee_epochs >= 1),
               "knee_epochs must be an integer >= 1", self.knee_epochs)
        _check(0 < self.path_max_drop <= 1, "path_max_drop must be in (0, 1]",
               self.path_max_drop)
        _check(0 < self.path_start_lam < 1, "path_start_lam must be in (0, 1)",
               self.path_start_lam)
        _check(not (self.prox and self.method == "smgd"),
               "prox is for the weighted sum and the path, not smgd; method", self.method)
        _check(self.method != "path" or self.explore_epochs is None,
               "explore_epochs is for the weighted-sum searches; the path is one run of "
               "train.epochs; explore_epochs", self.explore_epochs)
        _check(self.knee_epochs is None or self.method == "path",
               "knee_epochs is for the path; method", self.method)
        _check(self.lams is None or (len(self.lams) > 0 and all(
            isinstance(v, (int, float)) and 0 <= v <= 1 for v in self.lams)),
            "lams must be weights in [0, 1]", self.lams)


def _check(ok: bool, message: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{message}, got {value!r}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as plain nested dicts (for YAML and JSON)."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], values: Mapping[str, Any], *, where: str = "config",
                     prefix: str = "") -> C:
    """Build ``cls`` from nested dicts, rejecting unknown keys and wrong types by name.

    Args:
        cls: A config dataclass.
        values: Its fields as (nested) dicts; missing fields keep their defaults.
        where: Where the values came from, for messages (a file name).
        prefix: The dotted key of ``values`` inside a larger config, for messages.

    Raises:
        ConfigError: naming the bad key or value.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} in {where} must be a mapping, "
                          f"got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key {prefix + unknown[0]!r} in {where}; "
                          f"known: {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = config_from_dict(type(default), value or {}, where=where,
                                            prefix=f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, default, f"{prefix}{name} in {where}")
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{where}: {e}") from None


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Check ``value`` against the type of the field's default, accepting ints for floats."""
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where} must be of type {type(default).__name__}, got {value!r}")
    return value


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file into a dict.

    Raises:
        ConfigError: if the file is missing, unreadable, not YAML, or not a mapping.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror}") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"malformed config file {str(path)!r}{at}: {problem}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping, got {values!r}")
    return values


def dump_config(config: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` as YAML to ``path`` atomically."""
    import yaml

    return write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))
