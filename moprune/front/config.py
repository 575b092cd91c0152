"""``FrontConfig``: the settings of a front (``moprune front``, ``moprune run``'s front).

The method is an object with its own options (:mod:`moprune.front.methods`); in YAML::

    model: lenet5
    method: {name: path, points: 30, knee_epochs: 12}
    prox: true
    train: {epochs: 10}

Older files (and the command line) give the method's options as flat keys (``method:
path``, ``budget: 30``, ``path_corrector: channel``, ``knee_epochs: 12``): they load into
the same config, so older run directories resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moprune.config import DataConfig, TrainConfig, check_choice
from moprune.errors import ConfigError
from moprune.front.methods import FrontMethod, Path, method_from_config
from moprune.names import KNEE_AXES
from moprune.validation import bounded, check_ranges

__all__ = ["FrontConfig"]


@dataclass(frozen=True)
class FrontConfig:
    """Settings of ``moprune front``: a Pareto front of one model on one dataset.

    ``method`` is a :class:`~moprune.front.methods.FrontMethod` (default: the main job's
    continuation path, :class:`~moprune.front.methods.Path`).
    """

    model: str = "lenet5"
    model_args: dict[str, Any] = field(default_factory=dict)
    method: FrontMethod = field(default_factory=Path)
    complexity: str = "l1"  # l1 | group-l1 | flops
    scope: str = "all"  # all | dense | conv
    # intra-training pruning threshold; None: 1e-3, or none with prox; 0: off
    tau: float | None = bounded(None, ge=0, integer=False)
    freeze_masks: bool = False  # pruned weights stay 0
    prox: bool = False  # proximal l1 step (soft-thresholding) instead of f2's gradient
    finetune: int = bounded(0, ge=0)  # epochs of debiasing per point (mask frozen, lam 0)
    knee: str = "chord"  # chord | angle | slope: the knee (retrained for train.epochs)
    knee_axes: str = "auto"  # auto | objectives | kept | flops: the plane of the knee
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        from moprune.front.knee import KNEE_SELECTORS
        from moprune.objectives import COMPLEXITIES, SCOPES

        if not isinstance(self.method, FrontMethod):
            object.__setattr__(self, "method", method_from_config(self.method))
        for name, allowed in (("complexity", COMPLEXITIES.names()), ("scope", SCOPES),
                              ("knee", KNEE_SELECTORS.names()),
                              ("knee_axes", ("auto", *KNEE_AXES))):
            check_choice(name, getattr(self, name), allowed)
        check_ranges(self)
        if self.train.epochs < 1:
            raise ConfigError(f"a front trains: train.epochs must be >= 1, got "
                              f"{self.train.epochs}")
        self.method.check(epochs=self.train.epochs, complexity=self.complexity,
                          prox=self.prox, tau=self.tau)

    @property
    def method_name(self) -> str:
        return self.method.name

    @staticmethod
    def prepare(values: Mapping[str, Any], where: str) -> dict[str, Any]:
        """``values`` (a YAML mapping) with its method made (``config_from_dict`` calls
        this): flat method keys of older files and of the command line go into it."""
        from moprune.front.methods import method_flags

        values = dict(values)
        flat_keys = {f["key"] for f in method_flags()}
        flat = {k: values.pop(k) for k in list(values) if k in flat_keys}
        method = values.get("method", Path())
        values["method"] = method_from_config(
            method if method is not None else Path(), flat=flat, where=where)
        return values

