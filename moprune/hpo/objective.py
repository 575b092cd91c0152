"""A trial: train a freshly initialised network with the trial's hyperparameters.

The network is the proxy (a compacted knee, rebuilt from its recipe) or the base network;
its weights are always new, drawn with the trial's seed, since HPO tunes training from
scratch. Validation accuracy is reported every epoch so that a trial pruner can stop the
trial; a diverging trial raises :class:`~moprune.errors.DivergedError` with the reason
kept on the trial.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.data import DataSplits
from moprune.errors import ConfigError, DivergedError
from moprune.hpo.lr_transfer import mup_solver
from moprune.hpo.space import SearchSpace
from moprune.models.serialization import build_from_recipe, read_model_file
from moprune.training import Callback, train

__all__ = ["OBJECTIVES", "TrialObjective", "architecture", "fresh_model"]

#: What a study optimises: validation accuracy, and optionally time or size as well.
OBJECTIVES = {"accuracy": "maximize", "seconds": "minimize", "params": "minimize"}


def architecture(source: str | os.PathLike[str]) -> dict[str, Any]:
    """The recipe of a model file (a compacted knee, say): what :func:`fresh_model` builds.

    ``source`` is a moprune model file, or a registered model name.
    """
    if Path(source).is_file():
        return dict(read_model_file(source)["recipe"])
    return {"model": str(source)}


def fresh_model(recipe: Mapping[str, Any], *, in_channels: int, num_classes: int,
                image_size: int, seed: int) -> nn.Module:
    """A network of ``recipe``'s architecture with newly drawn weights (seeded).

    A compacted recipe (with a pruning history) is rebuilt at its smaller channel counts
    and every layer is then re-initialised by its own ``reset_parameters`` (the fan-in is
    the compacted one).
    """
    spec = recipe.get("model")
    if isinstance(spec, nn.Module) or (callable(spec) and not isinstance(spec, str)):
        # a user's module (copied) or a callable returning one: every trial its own
        # module with weights drawn afresh, never the previous trial's
        torch.manual_seed(seed)
        model = copy.deepcopy(spec) if isinstance(spec, nn.Module) else spec()
        if not isinstance(model, nn.Module):
            raise ConfigError(f"the model callable returned {type(model).__name__}, not an "
                              "nn.Module")
        _reset(model, seed)
        return model
    for key, value in (("in_channels", in_channels), ("num_classes", num_classes)):
        if key in recipe and recipe[key] != value:
            raise ConfigError(f"the proxy was built for {key}={recipe[key]}, the data has "
                              f"{value}")
    model = build_from_recipe({"in_channels": in_channels, "num_classes": num_classes,
                               "image_size": image_size, **recipe}, seed=seed)
    if recipe.get("pruning_history"):  # new weights at the compacted fan-ins
        _reset(model, seed)
    return model


def _reset(model: nn.Module, seed: int) -> None:
    """Draw every layer's weights afresh (its own ``reset_parameters``), seeded."""
    torch.manual_seed(seed)
    for m in model.modules():
        reset = getattr(m, "reset_parameters", None)
        if callable(reset) and m is not model:
            reset()


class _Report(Callback):
    """Report validation accuracy every epoch; raise TrialPruned when the pruner says so."""

    def __init__(self, trial: optuna.Trial, prunable: bool) -> None:
        self.trial, self.prunable = trial, prunable
        self.epochs = 0

    def on_epoch_end(self, *, epoch: int, record: Any, model: Any) -> None:
        self.epochs = epoch
        if self.prunable:
            self.trial.report(record.val_acc, epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch} "
                                         f"(val acc {record.val_acc:.4f})")


def check_objectives(objectives: tuple[str, ...]) -> None:
    """Objectives of a study: ``accuracy`` first, then any of :data:`OBJECTIVES`.

    Raises:
        ConfigError: naming the objectives.
    """
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or not objectives or objectives[0] != "accuracy" or len(set(objectives)) < len(
            objectives):
        raise ConfigError(f"objectives must start with 'accuracy' and be distinct, among "
                          f"{list(OBJECTIVES)}, got {','.join(objectives)!r}")


class TrialObjective:
    """Callable for Optuna: trains one configuration and returns its objective values.

    Args:
        factory: ``seed -> model`` (see :func:`fresh_model`).
        splits: The data.
        base: Training settings the space's values override (epochs, seed, device ...).
        space: The hyperparameters tuned.
        objectives: Names from :data:`OBJECTIVES`; the first is always ``accuracy``.

    Every trial records ``seconds`` (its wall time, pruned or not), ``val_acc``,
    ``epochs_run`` and ``parameters`` (network size) as user attributes; a diverged trial records
    ``failure``. An enqueued trial with a ``seed`` user attribute trains with that seed
    instead of the base one (a replicate of a sensitivity grid cell).

    With ``weights_dir``, a completed trial's trained weights are saved there as
    ``trial-NUMBER.pt`` (a state dict), so that a transfer identical to the trial (the
    full pipeline's: same network, configuration, seed, epochs and data) reads them
    instead of training again.
    With ``mup_base`` (the base network's :func:`~moprune.hpo.lr_transfer.base_shapes`), every
    trial's learning rate, weight decay and initialisation are scaled per layer by muP's
    factors (:func:`~moprune.hpo.lr_transfer.mup_scales`, for the trial's optimizer).
    """

    def __init__(self, factory: Callable[[int], nn.Module], splits: DataSplits,
                 base: TrainConfig, space: SearchSpace,
                 objectives: tuple[str, ...] = ("accuracy",), *,
                 weights_dir: str | os.PathLike[str] | None = None,
                 mup_base: Mapping[str, Sequence[int]] | None = None) -> None:
        check_objectives(objectives)
        self.factory, self.splits, self.base, self.space = factory, splits, base, space
        self.objectives = tuple(objectives)
        self.weights_dir = Path(weights_dir) if weights_dir is not None else None
        self.mup_base = dict(mup_base) if mup_base else None

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objectives]

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        values = self.space.suggest(trial)
        config = self.space.apply(self.base, values)
        if "seed" in trial.user_attrs:
            config = dataclasses.replace(config, seed=int(trial.user_attrs["seed"]))
        model = self.factory(config.seed)
        solver = (mup_solver(model, self.mup_base, optimizer=config.optimizer)
                  if self.mup_base is not None else None)
        size = sum(p.numel() for p in model.parameters())
        report = _Report(trial, prunable=len(self.objectives) == 1)
        start = time.perf_counter()
        try:
            result = train(model, self.splits, config, callbacks=[report], progress=False,
                           solver=solver)
        except DivergedError as e:
            trial.set_user_attr("failure", str(e))
            raise
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - start)
            trial.set_user_attr("epochs_run", report.epochs)
            trial.set_user_attr("parameters", size)
        seconds = time.perf_counter() - start
        trial.set_user_attr("val_acc", result.val_acc)
        if self.weights_dir is not None:
            from moprune.io import atomic_write

            self.weights_dir.mkdir(parents=True, exist_ok=True)
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            atomic_write(self.weights_dir / f"trial-{trial.number}.pt",
                         lambda f: torch.save(state, f))
        measured = {"accuracy": result.val_acc, "seconds": seconds, "params": float(size)}
        out = tuple(measured[o] for o in self.objectives)
        return out[0] if len(out) == 1 else out
