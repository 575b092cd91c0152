"""Hyperparameter search spaces: which training settings a study tunes, and over what.

A space maps :class:`~moprune.config.TrainConfig` fields to ranges. In YAML::

    lr: {type: float, low: 1.0e-3, high: 0.3, log: true}
    weight_decay: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
    batch_size: {type: categorical, choices: [64, 128, 256]}
    warmup_epochs: {type: int, low: 0, high: 2}

Optuna samples it through ``trial.suggest_*``; pymoo's algorithms search the unit cube
``[0, 1]^d``, which :meth:`SearchSpace.decode` maps onto the same parameters.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from moprune.config import TrainConfig, load_config_file
from moprune.errors import ConfigError

__all__ = ["DEFAULT_SPACE", "Param", "SearchSpace", "load_space"]

_TYPES = ("float", "int", "categorical")
_TUNABLE = {f.name for f in dataclasses.fields(TrainConfig)} - {"seed", "device", "epochs"}


@dataclass(frozen=True)
class Param:
    """One tuned setting: a float or int range (optionally log-scaled) or a set of choices."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        where = f"hyperparameter {self.name!r}"
        if self.name not in _TUNABLE:
            raise ConfigError(f"{where} is not a training setting; tunable: "
                              f"{', '.join(sorted(_TUNABLE))}")
        if self.type not in _TYPES:
            raise ConfigError(f"{where}: type must be one of {_TYPES}, got {self.type!r}")
        if self.type == "categorical":
            if len(self.choices) < 1:
                raise ConfigError(f"{where}: categorical needs a non-empty 'choices' list")
            return
        if self.low is None or self.high is None:
            raise ConfigError(f"{where}: {self.type} needs 'low' and 'high'")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ConfigError(f"{where}: needs finite low <= high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0, got {self.low}")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ConfigError(f"{where}: int bounds must be integers")

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a float or int parameter."""
        assert self.low is not None and self.high is not None, f"{self.name} is categorical"
        return self.low, self.high

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution of this parameter."""
        if self.type == "float":
            return optuna.distributions.FloatDistribution(*self.bounds, log=self.log)
        if self.type == "int":
            low, high = self.bounds
            return optuna.distributions.IntDistribution(int(low), int(high), log=self.log)
        return optuna.distributions.CategoricalDistribution(self.choices)

    def decode(self, u: float) -> Any:
        """Map ``u`` in [0, 1] to a value (uniform, or uniform in log space)."""
        u = min(max(float(u), 0.0), 1.0)
        if self.type == "categorical":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        assert self.low is not None and self.high is not None
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        if self.type == "int":
            return int(min(max(round(value), self.low), self.high))
        return min(max(value, self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high, "log": self.log}


class SearchSpace:
    """An ordered set of :class:`Param`.

    Example:
        >>> space = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-3, "high": 0.3,
        ...                                       "log": True}})
        >>> space.apply(TrainConfig(), {"lr": 0.01}).lr
        0.01
    """

    def __init__(self, params: Sequence[Param]) -> None:
        if not params:
            raise ConfigError("a search space needs at least one hyperparameter")
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ConfigError(f"hyperparameters repeat in the search space: {names}")
        self.params = tuple(params)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SearchSpace:
        """Build from ``{name: {type, low, high, log} | {type: categorical, choices}}``."""
        if not isinstance(spec, Mapping):
            raise ConfigError("a search space must be a mapping of hyperparameter names "
                              "to ranges")
        params = []
        for name, entry in spec.items():
            if not isinstance(entry, Mapping):
                raise ConfigError(f"hyperparameter {name!r}: expected a mapping like "
                                  "{type: float, low: ..., high: ...}")
            unknown = set(entry) - {"type", "low", "high", "log", "choices"}
            if unknown:
                raise ConfigError(f"hyperparameter {name!r}: unknown keys {sorted(unknown)}")
            params.append(Param(
                name=str(name), type=str(entry.get("type", "float")),
                low=_number(entry.get("low"), name, "low"),
                high=_number(entry.get("high"), name, "high"),
                log=bool(entry.get("log", False)),
                choices=tuple(entry.get("choices", ()) or ())))
        return cls(params)

    def to_dict(self) -> dict[str, Any]:
        return {p.name: p.to_dict() for p in self.params}

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __len__(self) -> int:
        return len(self.params)

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {p.name: p.distribution() for p in self.params}

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """The trial's values of every parameter (sampled, or fixed when enqueued)."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.type == "float":
                values[p.name] = trial.suggest_float(p.name, *p.bounds, log=p.log)
            elif p.type == "int":
                low, high = p.bounds
                values[p.name] = trial.suggest_int(p.name, int(low), int(high), log=p.log)
            else:
                values[p.name] = trial.suggest_categorical(p.name, p.choices)
        return values

    def decode(self, u: Sequence[float]) -> dict[str, Any]:
        """A point of the unit cube (one coordinate per parameter) as parameter values."""
        if len(u) != len(self.params):
            raise ConfigError(f"expected {len(self.params)} coordinates, got {len(u)}")
        return {p.name: p.decode(x) for p, x in zip(self.params, u, strict=True)}

    def apply(self, config: TrainConfig, values: Mapping[str, Any]) -> TrainConfig:
        """``config`` with the given hyperparameter values (validated by TrainConfig)."""
        try:
            return dataclasses.replace(config, **dict(values))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"hyperparameters {dict(values)} do not make a valid "
                              f"training config: {e}") from None


def _number(value: Any, name: str, key: str) -> float | None:
    """YAML reads ``1e-3`` (no dot) as a string: accept numeric strings."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"hyperparameter {name!r}: {key} must be a number, "
                          f"got {value!r}") from None


#: Learning rate and weight decay on log scales, momentum, batch size, label smoothing.
DEFAULT_SPACE = SearchSpace.from_dict({
    "lr": {"type": "float", "low": 1e-3, "high": 0.3, "log": True},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
    "momentum": {"type": "float", "low": 0.5, "high": 0.99},
    "batch_size": {"type": "categorical", "choices": [64, 128, 256]},
    "label_smoothing": {"type": "float", "low": 0.0, "high": 0.2},
})


def load_space(source: str | os.PathLike[str] | Mapping[str, Any] | None) -> SearchSpace:
    """A space from a YAML file, a mapping, or None for :data:`DEFAULT_SPACE`.

    A YAML file may hold the space at its top level or under a ``space:`` key.
    """
    if source is None:
        return DEFAULT_SPACE
    if isinstance(source, Mapping):
        return SearchSpace.from_dict(source)
    spec = load_config_file(source)
    return SearchSpace.from_dict(spec.get("space", spec) if isinstance(spec, dict) else spec)
