"""What a worker needs to run trials: the picklable job of a study, the objective it trains,
and muP's base shapes of a proxy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from moprune.config import DataConfig, TrainConfig
from moprune.errors import ConfigError
from moprune.hpo.lr_transfer import LR_TRANSFERS, base_shapes
from moprune.hpo.objective import (
    TrialObjective,
    check_objectives,
    fresh_model,
)
from moprune.hpo.space import SearchSpace
from moprune.hpo.study import StudySettings

__all__ = ["HPOJob", "job_objective", "mup_base"]


@dataclass(frozen=True)
class HPOJob:
    """Everything a worker needs to run trials (picklable: workers are processes)."""

    model: Any  # the base network: a registered name, an nn.Module or a callable making one
    data: DataConfig
    train: TrainConfig  # base settings; ``epochs`` = epochs of a trial
    space: dict[str, Any]
    settings: StudySettings
    out: str
    proxy: dict[str, Any] | None = None  # the proxy's recipe; None: trials train the base
    objectives: tuple[str, ...] = ("accuracy",)
    init_weights: str | None = None  # a model file: trials start from its weights instead
    threads: int | None = None  # torch threads per worker
    meta: dict[str, Any] = field(default_factory=dict)
    lr_transfer: str = "none"  # "mup": muP's per-layer factors on proxy trials
    keep_weights: bool = False  # save completed trials' weights (identical transfers)

    def __post_init__(self) -> None:
        check_objectives(tuple(self.objectives))
        if self.lr_transfer not in LR_TRANSFERS:
            raise ConfigError(f"lr transfer must be one of {', '.join(LR_TRANSFERS)}, got "
                              f"{self.lr_transfer!r}")

    def recipe(self) -> dict[str, Any]:
        return self.proxy if self.proxy is not None else {"model": self.model}


def job_objective(job: HPOJob, splits: Any) -> TrialObjective:
    recipe = job.recipe()

    def factory(seed: int) -> torch.nn.Module:
        if job.init_weights is not None:  # fine-tuning: every trial from the same weights
            from moprune.models import load_model

            return load_model(job.init_weights)
        return fresh_model(recipe, in_channels=splits.in_channels,
                           num_classes=splits.num_classes, image_size=splits.image_size,
                           seed=seed)

    return TrialObjective(factory, splits, job.train, SearchSpace.from_dict(job.space),
                          job.objectives,
                          weights_dir=Path(job.out) / "weights" if job.keep_weights else None,
                          mup_base=mup_base(job.model, job.proxy, job.lr_transfer, splits))


def mup_base(model: Any, proxy: Mapping[str, Any] | None, lr_transfer: str,
              splits: Any) -> dict[str, tuple[int, ...]] | None:
    """The base network's parameter shapes when proxy trainings use muP's factors."""
    if lr_transfer != "mup" or proxy is None:
        return None
    base = fresh_model({"model": model}, in_channels=splits.in_channels,
                       num_classes=splits.num_classes, image_size=splits.image_size, seed=0)
    return base_shapes(base)
