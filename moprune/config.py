"""Settings of every command as frozen dataclasses, and their YAML form.

A config file sets defaults, command-line flags override them, and the resolved
config is written beside every result (``config.yaml`` in the run directory).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from moprune.errors import ConfigError
from moprune.io import write_text
from moprune.validation import bounded, check_device, check_ranges

__all__ = [
    "DataConfig",
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
    val_fraction: float = bounded(0.1, gt=0, lt=1)  # share of the training set held out
    #                                                 for validation
    limit_train: int | None = bounded(None, ge=1, integer=True)  # use only this many
    #                                                              training images
    limit_eval: int | None = bounded(None, ge=1, integer=True)  # this many validation and
    #                                                             test images
    image_size: int | None = bounded(None, ge=1, integer=True)  # resize (imagefolder only;
    #                                                             None: the images' own)
    channels: int | None = bounded(None, ge=1, le=3, integer=True)  # 1 | 3 (imagefolder
    #                                                                 only; None: own mode)
    test_fraction: float = bounded(0.1, gt=0, lt=1)  # share of the training images held
    #                                                  out as test set when there is none
    augment: bool = False  # random crop + horizontal flip on training batches
    # images per evaluation batch; None: 128 on the CPU (its convolutions slow down past a
    # few hundred images a batch: the VGG's validation pass took 3.6 s at 1024, 1.4 s at
    # 128), 1024 on a GPU. Speed only: the results are the same
    eval_batch_size: int | None = bounded(None, ge=1, integer=True)
    split_seed: int = bounded(0, ge=0)  # seed of the train/validation split (fixed)

    def __post_init__(self) -> None:
        check_ranges(self)
        _check(self.channels in (None, 1, 3), "channels must be 1 (greyscale) or 3 (RGB)",
               self.channels)


@dataclass(frozen=True)
class TrainConfig:
    """How one network is trained."""

    epochs: int = bounded(10, ge=0)
    batch_size: int = bounded(128, ge=1)
    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = bounded(0.05, gt=0)
    momentum: float = bounded(0.9, ge=0, lt=1)  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = bounded(0.0, ge=0)  # the complexity objective regularises;
    #                                           keep 0 for fronts
    label_smoothing: float = bounded(0.0, ge=0, lt=1)
    scheduler: str = "cosine"  # none | cosine | step (x0.1 at 50% and 75% of the epochs)
    warmup_epochs: int = bounded(0, ge=0)  # linear learning-rate warm-up first
    seed: int = bounded(0, ge=0)  # weight initialisation, batch order, dropout
    device: str = "auto"  # auto (cuda when present) | cpu | cuda | cuda:N

    def __post_init__(self) -> None:
        check_ranges(self)
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}",
               self.optimizer)
        _check(self.scheduler in SCHEDULERS, f"scheduler must be one of {SCHEDULERS}",
               self.scheduler)
        check_device(self.device, available=False, flag="device")


@dataclass(frozen=True)
class RunConfig:
    """Settings of ``moprune train``: one model, one dataset, one training run."""

    model: str = "lenet5"  # a registered name or "torchvision:<name>"
    model_args: dict[str, Any] = field(default_factory=dict)  # extra constructor arguments
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _check(ok: bool, message: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{message}, got {value!r}")


def check_choice(name: str, value: object, allowed: Any) -> None:
    """Refuse ``value`` of the setting ``name`` unless it is one of ``allowed``."""
    _check(value in tuple(allowed), f"{name} must be one of {tuple(allowed)}", value)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as plain nested dicts (for YAML and JSON); a setting that is an object
    with ``to_config()`` (a front method) is its mapping."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if hasattr(value, "to_config"):
            out[f.name] = value.to_config()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = config_to_dict(value)
        else:
            out[f.name] = copy.deepcopy(value)
    return out


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
    prepare = getattr(cls, "prepare", None)  # a config that makes its own objects
    if prepare is not None:
        values = prepare(values, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key {prefix + unknown[0]!r} in {where}; "
                          f"known: {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    base_of = getattr(cls, "section_default", None)  # a section's defaults may depend on it
    for name, value in values.items():
        default = base_of(name, value) if base_of is not None else getattr(cls(), name)
        if hasattr(default, "to_config"):  # made by ``prepare``
            kwargs[name] = value
        elif dataclasses.is_dataclass(default):
            if value is not None and not isinstance(value, Mapping):
                raise ConfigError(f"{prefix}{name} in {where} must be a mapping, got "
                                  f"{value!r}")
            # over the field's own default (which may differ from its class's defaults);
            # an object setting given (a front method) replaces the default's
            base = config_to_dict(default)
            for key in value or {}:
                if hasattr(getattr(default, key, None), "to_config"):
                    base.pop(key, None)
            merged = _merge(base, value or {})
            kwargs[name] = config_from_dict(type(default), merged, where=where,
                                            prefix=f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, default, f"{prefix}{name} in {where}")
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{where}: {e}") from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s values, nested mappings merged key by key."""
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merge(out[key], value) if isinstance(value, Mapping)
                    and isinstance(out.get(key), Mapping) else value)
    return out


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
