"""Debiasing path points: fine-tuning with the mask frozen and lam = 0, and the knee
brought to a front's full epochs; a point's network written and read back.

The l1 pull also shrinks the weights it keeps: :func:`debias` removes that bias (a relaxed
lasso) and keeps the point's raw objectives in ``raw``; :func:`debias_knee` trains a path's
knee until it has seen the epochs of a full training.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.data import DataSplits
from moprune.errors import ConfigError, MopruneError
from moprune.front.measure import measure_point as measure
from moprune.front.points import Point
from moprune.io import read_json, write_json
from moprune.layout import RunLayout
from moprune.models import save_model
from moprune.models.serialization import read_model_file
from moprune.progress import progress_line
from moprune.solvers import WeightedSumSolver
from moprune.training import train

__all__ = ["debias", "debias_knee", "load_point_model", "path_epochs", "save_point_model"]


def save_point_model(model: nn.Module, point: Point, out_dir: Path, *,
                     name: str = "model.pt") -> None:
    """Write ``point``'s network (a moprune model file; a user's module's loads with its
    factory) and ``point.json`` under ``out_dir/points/<key>/``."""
    folder = RunLayout(out_dir).point(point.key)
    model_file = folder / name
    save_model(model, model_file, meta={"point": point.key})
    point.checkpoint = str(model_file.relative_to(out_dir))
    write_json(folder / "point.json", point.to_dict())
    progress_line(f"front point {point.summary()}")


def load_point_model(factory: Callable[[], nn.Module], path: Path) -> nn.Module:
    """The network of a point's model file, built by ``factory`` (a moprune model file or
    a user module's weights)."""
    model = factory()
    try:
        state = read_model_file(path)["state_dict"]
    except MopruneError:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


def debias(
    point: Point,
    factory: Callable[[], nn.Module],
    splits: DataSplits,
    config: TrainConfig,
    *,
    epochs: int,
    complexity: str = "l1",
    scope: str = "all",
    out_dir: Path,
    progress: bool | None = None,
) -> Point:
    """Fine-tune ``point``'s network ``epochs`` epochs with its mask frozen and lam = 0
    (cosine schedule from ``config.lr``); return the point with the fine-tuned network's
    objectives, the raw ones kept in ``raw``. Resumable: a finished one is read back.

    Raises:
        ConfigError: for ``epochs < 1`` or a point without a model file.
    """
    if epochs < 1:
        raise ConfigError(f"finetune epochs must be >= 1, got {epochs}")
    if point.finetune_epochs == epochs:
        return point
    if point.finetune_epochs:
        raise ConfigError(f"point {point.key} was fine-tuned {point.finetune_epochs} "
                          f"epochs, not {epochs}")
    if point.checkpoint is None:
        raise ConfigError(f"point {point.key} has no model file to fine-tune")
    folder = RunLayout(out_dir).point(point.key)
    raw_file = folder / "raw.pt"
    if not raw_file.exists():  # keep the path's network beside the fine-tuned one
        (out_dir / point.checkpoint).replace(raw_file)
    torch.manual_seed(config.seed)
    model = load_point_model(factory, raw_file)
    solver = WeightedSumSolver(0.0, complexity=complexity, scope=scope, tau=0.0,
                               freeze_masks=True)
    ft_config = replace(config, epochs=epochs, scheduler="cosine", warmup_epochs=0)
    start = time.perf_counter()
    train(model, splits, ft_config, solver=solver, checkpoint=folder / "finetune.pt",
          progress=progress)
    tuned = measure(model, splits, method=point.method, complexity=complexity, scope=scope)
    raw = {k: getattr(point, k) for k in ("f1", "f2", "val_acc", "test_acc", "test_loss",
                                          "zeros", "flops_share")}
    result = replace(point, f1=tuned.f1, f2=tuned.f2, val_acc=tuned.val_acc,
                     test_acc=tuned.test_acc, test_loss=tuned.test_loss, zeros=tuned.zeros,
                     flops_share=tuned.flops_share, finetune_epochs=epochs, raw=raw,
                     extras={**point.extras,
                             "finetune_seconds": time.perf_counter() - start})
    save_point_model(model.cpu(), result, out_dir)
    (folder / "finetune.pt").unlink(missing_ok=True)
    return result


def debias_knee(
    point: Point,
    factory: Callable[[], nn.Module],
    splits: DataSplits,
    config: TrainConfig,
    *,
    total_epochs: int,
    complexity: str = "l1",
    scope: str = "all",
    out_dir: Path,
    progress: bool | None = None,
) -> Point:
    """The knee of a path front (fine-tuned or not), debiased from its raw network until it
    has seen ``total_epochs`` epochs in all (its path epochs, rounded up, plus the
    fine-tune), as a weighted-sum front retrains its knee for the full epochs. The result
    is a point of its own (``retrained``, key ending in ``-e{total_epochs}``). Resumable.

    Raises:
        ConfigError: when the point has no raw network, or has seen ``total_epochs``
            already.
    """
    source = out_dir / "points" / point.key / "raw.pt"  # the path's network ...
    if not source.exists() and not point.finetune_epochs and point.checkpoint:
        source = out_dir / point.checkpoint  # ... which a point not fine-tuned holds
    if not source.exists():
        raise ConfigError(f"point {point.key} has no raw network to debias")
    extra = total_epochs - path_epochs(point)
    if extra < 1:
        raise ConfigError(f"the knee {point.key} has seen {total_epochs} epochs already")
    knee = replace(point, epochs=total_epochs, retrained=True, finetune_epochs=0, raw=None,
                   extras=dict(point.extras), **(point.raw or {}))
    folder = out_dir / "points" / knee.key
    done = folder / "point.json"
    if done.exists():
        return Point.from_dict(read_json(done))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / "raw.pt")
    knee.checkpoint = str((folder / "raw.pt").relative_to(out_dir))
    return debias(knee, factory, splits, config, epochs=extra, complexity=complexity,
                  scope=scope, out_dir=out_dir, progress=progress)


def path_epochs(point: Point) -> int:
    """The whole epochs a path point has been trained on the path (its fractional
    ``epochs_trained`` rounded up; 0 for a point not from a path)."""
    return math.ceil(point.extras.get("epochs_trained", 0) - 1e-9)
