"""Sensitivity analysis (Matthiesen): does a pruned network need its hyperparameters tuned
again, and from which pruning level on?

1. HPO on the base network N_B (TPE; with Hyperband as a BOHB-like method) over the chosen
   hyperparameters finds its optimum.
2. A log grid around that optimum is trained on N_B: the hyperparameter-performance
   landscape.
3. N_B, trained with its optimum, is pruned structurally by group magnitude to each FLOPs
   level (Torch-Pruning), and the same grid is trained on every pruned network, from
   scratch (fresh weights of the pruned architecture) or by fine-tuning its weights.
4. Each landscape is compared with N_B's (:func:`compare_landscapes`).

Every grid cell is a trial in Optuna storage (one study per network, the cells enqueued,
each run exactly once), so a grid runs on many workers and resumes after a kill.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from moprune.config import DataConfig, TrainConfig, config_to_dict
from moprune.data import DataSplits, prepare_data
from moprune.errors import ConfigError
from moprune.hpo import HPOJob, SearchSpace, StudySettings, architecture, counted, open_study
from moprune.hpo.pipeline import run_workers
from moprune.hpo.study import check_storage
from moprune.io import write_json
from moprune.models import build_model, load_model, save_model
from moprune.sensitivity.landscape import DISTRIBUTIONS, Grid, compare_landscapes, log_grid
from moprune.training import train
from moprune.validation import bounded, check_ranges

__all__ = ["SensitivitySettings", "check_sensitivity", "levels_from_text", "run_sensitivity"]


@dataclass(frozen=True)
class SensitivitySettings:
    """What the analysis tunes, where it prunes, and how it compares."""

    params: tuple[str, ...] = ("lr", "weight_decay")
    levels: tuple[float, ...] = (0.8, 0.6, 0.4, 0.2)  # kept share of FLOPs
    grid_size: int = bounded(7, ge=2)
    span: float = bounded(1.0, gt=0)  # decades each side of the optimum
    hpo_trials: int = bounded(20, ge=1)
    hpo_sampler: str = "tpe"
    hpo_pruner: str = "none"  # hyperband: BOHB-like
    prune_mode: str = "global"  # global | uniform
    init: str = "scratch"  # scratch | finetune
    distribution: str = "softmax"  # softmax | quantile
    temperature: float = bounded(0.01, gt=0)
    quantile: float = bounded(0.8, gt=0, lt=1)
    retune_points: float = bounded(0.5, ge=0)  # retuning "pays" when it gains more
    # A hyperparameter "moves" at a level when its marginal moves this far, or when putting
    # it back at N_B's best value costs the pruned network more than retune_points.
    move_decades: float = bounded(0.25, gt=0)
    storage: str | None = None
    workers: int = bounded(1, ge=1)

    def __post_init__(self) -> None:
        if not self.levels:
            raise ConfigError("give at least one pruning level")
        for level in self.levels:
            if not (isinstance(level, (int, float)) and 0 < level <= 1):
                raise ConfigError(f"levels are kept shares of FLOPs in (0, 1], got {level!r}")
        if len(set(self.levels)) != len(self.levels):
            raise ConfigError(f"levels repeat: {list(self.levels)}")
        check_ranges(self)
        if self.storage is not None:
            check_storage(self.storage)
        if len(self.params) < 1 or len(set(self.params)) != len(self.params):
            raise ConfigError(f"give one or more distinct hyperparameters, got "
                              f"{list(self.params)}")
        for name, allowed in (("prune_mode", ("global", "uniform")),
                              ("init", ("scratch", "finetune")),
                              ("distribution", DISTRIBUTIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, "
                                  f"got {getattr(self, name)!r}")


def _label(level: float | None) -> str:
    return "base" if level is None else f"keep-{level:g}"


def check_sensitivity(space: SearchSpace, settings: SensitivitySettings) -> None:
    """The grid's hyperparameters must be log-scaled floats of the space.

    Raises:
        ConfigError: naming the hyperparameter.
    """
    for name in settings.params:
        param = next((p for p in space.params if p.name == name), None)
        if param is None or param.type != "float" or not param.log:
            raise ConfigError(f"{name!r} must be a log-scaled float of the search space to "
                              "lay a log grid over it")


def run_sensitivity(model: str, data: DataConfig, base: TrainConfig, space: SearchSpace,
                    settings: SensitivitySettings, out: str | Path,
                    splits: DataSplits | None = None) -> dict[str, Any]:
    """Run (or resume) the analysis; write ``sensitivity.json``, heatmaps and plots.

    Args:
        model: The base network (registered name).
        data: The data; ``base.epochs`` is the epochs of every trial and grid cell.
        space: The HPO search space; ``settings.params`` must be log-scaled floats in it.
    """
    check_sensitivity(space, settings)
    splits = splits if splits is not None else prepare_data(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sub = SearchSpace([p for p in space.params if p.name in settings.params])
    timings: dict[str, float] = {}

    # 1. The base network's optimum.
    t0 = time.perf_counter()
    hpo_job = _job(model, data, base, sub.to_dict(), settings, out, "hpo-base",
                   sampler=settings.hpo_sampler, pruner=settings.hpo_pruner,
                   trials=settings.hpo_trials)
    run_workers(hpo_job, settings.hpo_trials)
    study = _open(hpo_job)
    trial_seconds = {"hpo": _trial_seconds(study)}
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        raise ConfigError("no HPO trial of the base network finished; widen the space")
    optimum = dict(max(done, key=lambda t: t.values[0]).params)
    timings["hpo"] = time.perf_counter() - t0
    grid = log_grid(optimum, settings.params, size=settings.grid_size, span=settings.span)

    # 2-3. The base network trained with its optimum, pruned to each level.
    t0 = time.perf_counter()
    networks = _pruned_networks(model, splits, sub.apply(base, optimum), settings, out)
    timings["pruning"] = time.perf_counter() - t0

    landscapes: dict[str, np.ndarray] = {}
    sizes: dict[str, dict[str, float]] = {}
    for level, info in networks.items():
        t0 = time.perf_counter()
        landscapes[_label(level)], trial_seconds[f"grid_{_label(level)}"] = _grid_landscape(
            model, data, base, grid, settings, out, level, info)
        timings[f"grid_{_label(level)}"] = time.perf_counter() - t0
        sizes[_label(level)] = {k: v for k, v in info.items() if k != "file"}

    base_land = landscapes["base"]
    comparisons = {}
    for level in settings.levels:
        comparisons[_label(level)] = {"level": level, **compare_landscapes(
            grid, base_land, landscapes[_label(level)], method=settings.distribution,
            temperature=settings.temperature, quantile=settings.quantile)}
    answer = _answer(comparisons, settings)
    report = {
        "model": model, "settings": asdict(settings), "data": config_to_dict(data),
        "train": config_to_dict(base), "optimum": optimum, "grid": grid.to_dict(),
        "networks": sizes,
        "landscapes": {k: v.tolist() for k, v in landscapes.items()},
        "comparisons": comparisons, "answer": answer,
        "seconds": {"training": trial_seconds, "wall_this_run": timings},
    }
    write_json(out / "sensitivity.json", report)
    from moprune.sensitivity.report import plot_distances, plot_heatmaps

    plot_heatmaps(grid, landscapes, out / "landscapes.png")
    plot_distances(comparisons, settings.params, out / "distances.png")
    return report


def _job(model: str, data: DataConfig, base: TrainConfig, space: dict[str, Any],
         settings: SensitivitySettings, out: Path, study: str, *, sampler: str = "random",
         pruner: str = "none", trials: int = 1, proxy: dict[str, Any] | None = None,
         init_weights: str | None = None) -> HPOJob:
    return HPOJob(model=model, data=data, train=base, space=space, out=str(out), proxy=proxy,
                  init_weights=init_weights,
                  settings=StudySettings(sampler=sampler, pruner=pruner, trials=trials,
                                         seed=base.seed, storage=settings.storage,
                                         study=study, workers=settings.workers))


def _open(job: HPOJob) -> optuna.Study:
    return open_study(job.settings, job.out, directions=["maximize"],
                      max_epochs=job.train.epochs)


def _pruned_networks(model: str, splits: Any, config: TrainConfig,
                     settings: SensitivitySettings, out: Path) -> dict[float | None, dict]:
    """Train N_B with its optimum (cached), prune it to each level (cached): model files
    and sizes, keyed by level (None: N_B)."""
    from moprune.pruning import count_flops, model_size, prune_to_flops

    base_file = out / "networks" / "base.pt"
    if not base_file.is_file():
        net = build_model(model, in_channels=splits.in_channels, num_classes=splits.num_classes,
                          image_size=splits.image_size, seed=config.seed)
        result = train(net, splits, config, progress=False)
        save_model(net, base_file, meta={"val_acc": result.val_acc})
    trained = load_model(base_file).eval()
    x = torch.randn(16, splits.in_channels, splits.image_size, splits.image_size,
                    generator=torch.Generator().manual_seed(0))
    flops = count_flops(trained, x[:1])
    networks: dict[float | None, dict] = {
        None: {"file": str(base_file), "keep": 1.0, "flops": flops,
               "parameters": model_size(trained)["parameters"]}}
    for level in settings.levels:
        path = out / "networks" / f"{_label(level)}.pt"
        if not path.is_file():
            pruned, _ = prune_to_flops(copy.deepcopy(trained), example_inputs=x,
                                       keep_flops=level, mode=settings.prune_mode)
            save_model(pruned, path)
        pruned = load_model(path)
        networks[level] = {"file": str(path), "keep": level,
                           "flops": count_flops(pruned.eval(), x[:1]),
                           "parameters": model_size(pruned)["parameters"]}
    return networks


def _grid_landscape(model: str, data: DataConfig, base: TrainConfig, grid: Grid,
                    settings: SensitivitySettings, out: Path, level: float | None,
                    info: dict[str, Any]) -> tuple[np.ndarray, float]:
    """Train every cell of ``grid`` on one network (cells as enqueued trials); return the
    validation accuracies shaped like the grid (0 for a diverged cell) and the seconds
    its trials trained (over every run that worked on them)."""
    space = SearchSpace.from_dict({n: {"type": "categorical", "choices": list(v)}
                                   for n, v in zip(grid.names, grid.values, strict=True)})
    recipe = architecture(info["file"])
    job = _job(model, data, base, space.to_dict(), settings, out, f"grid-{_label(level)}",
               trials=len(grid.cells()), proxy=recipe,
               init_weights=info["file"] if settings.init == "finetune" and level else None)
    study = _open(job)
    study.sampler = optuna.samplers.GridSampler(
        {n: list(v) for n, v in zip(grid.names, grid.values, strict=True)}, seed=base.seed)
    cells = grid.cells()
    have = {int(t.user_attrs["eval_index"]) for t in study.get_trials(deepcopy=False)
            if "eval_index" in t.user_attrs and counted(t)}
    for i, cell in enumerate(cells):
        if i not in have:
            study.enqueue_trial(cell, user_attrs={"eval_index": i})
    run_workers(job, len(cells), only_enqueued=True)
    acc = np.zeros(len(cells))
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE and "eval_index" in t.user_attrs:
            acc[int(t.user_attrs["eval_index"])] = t.values[0]
    return acc.reshape(grid.shape), _trial_seconds(study)


def _trial_seconds(study: optuna.Study) -> float:
    return float(sum(t.user_attrs.get("seconds", 0.0) for t in study.get_trials(deepcopy=False)))


def _answer(comparisons: dict[str, dict[str, Any]], settings: SensitivitySettings
            ) -> dict[str, Any]:
    """Which hyperparameters move, and from which level on retuning pays."""
    moves: dict[str, dict[str, Any]] = {}
    for name in settings.params:
        levels = [c["level"] for c in comparisons.values()
                  if c["wasserstein_decades"][name] >= settings.move_decades
                  or c["retune_gain_points"][name] > settings.retune_points]
        moves[name] = {"moves": bool(levels), "at_levels": levels}
    ordered = sorted(comparisons.values(), key=lambda c: -c["level"])
    retune_from = next((c["level"] for c in ordered
                        if c["regret_points"] > settings.retune_points), None)
    words = []
    for name, m in moves.items():
        at = ", ".join(f"{v:g}" for v in m["at_levels"])
        words.append(f"{name} moves at keep {at}" if m["moves"] else f"{name} stays")
    words.append(f"retuning gains more than {settings.retune_points:g} points from keep "
                 f"{retune_from:g} of the FLOPs on" if retune_from is not None else
                 f"retuning never gains more than {settings.retune_points:g} points")
    return {"hyperparameters": moves, "retune_from_level": retune_from,
            "summary": "; ".join(words)}


def levels_from_text(text: str) -> tuple[float, ...]:
    """``"0.8,0.6"`` -> (0.8, 0.6), with a one-line error for anything else."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"levels must be comma-separated numbers, got {text!r}") from None
