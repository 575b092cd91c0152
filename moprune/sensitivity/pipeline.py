"""Sensitivity analysis (Matthiesen): does a pruned network need its hyperparameters tuned
again, and from which pruning level on?

1. HPO on the base network N_B (TPE; with Hyperband as a BOHB-like method) over the chosen
   hyperparameters finds its optimum.
2. A log grid around that optimum is trained on N_B with ``seeds`` seeds per cell: the
   hyperparameter-performance landscape. It is measured anew, never read from the HPO's
   trials: the HPO trains with the run's seed, the grid with the next ``seeds`` seeds, so
   the optimum the grid is centred on is not also its own lucky measurement.
3. N_B, trained with its optimum, is pruned structurally by group magnitude to each FLOPs
   level (Torch-Pruning), and the same grid with the same seeds is trained on every pruned
   network, from scratch (fresh weights of the pruned architecture) or by fine-tuning.
4. Each landscape (the mean over seeds) is compared with N_B's (:func:`compare_landscapes`),
   every figure with a bootstrap 95% interval over the seeds of each cell; a verdict ("lr
   moves", "retuning pays") is given only when its interval clears the threshold.

Every (cell, seed) is a trial in Optuna storage (one study per network, the cells
enqueued, each run exactly once), so a grid runs on many workers, resumes after a kill,
and a rerun with more seeds trains only the new ones.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
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
from moprune.hpo.workers import run_workers
from moprune.io import JSONResult, write_json
from moprune.models import build_model, load_model, save_model
from moprune.sensitivity.bootstrap import bootstrap_intervals, seed_noise, significant_cells
from moprune.sensitivity.landscape import DISTRIBUTIONS, Grid, compare_landscapes, log_grid
from moprune.training import train
from moprune.validation import bounded, check_ranges

__all__ = [
    "RERUN_MAY_CHANGE",
    "SensitivityResult",
    "SensitivitySettings",
    "check_sensitivity",
    "grid_seeds",
    "levels_from_text",
    "run_sensitivity",
    "verdicts",
]


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
    # None: the measured seed noise (median per-cell standard deviation between seeds)
    temperature: float | None = bounded(None, gt=0)
    quantile: float = bounded(0.8, gt=0, lt=1)
    retune_points: float = bounded(0.5, ge=0)  # retuning "pays" when it gains more
    # A hyperparameter "moves" at a level when its marginal moves this far, or when putting
    # it back at N_B's best value costs the pruned network more than retune_points.
    move_decades: float = bounded(0.25, gt=0)
    seeds: int = bounded(3, ge=1)  # per grid cell of every network
    bootstrap: int = bounded(1000, ge=100)  # replicates of every interval
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
        # the HPO's sampler, pruner and storage: the study's own checks, made here so that
        # a refused analysis writes nothing
        StudySettings(sampler=self.hpo_sampler, pruner=self.hpo_pruner, storage=self.storage)
        if len(self.params) < 1 or len(set(self.params)) != len(self.params):
            raise ConfigError(f"give one or more distinct hyperparameters, got "
                              f"{list(self.params)}")
        for name, allowed in (("prune_mode", ("global", "uniform")),
                              ("init", ("scratch", "finetune")),
                              ("distribution", DISTRIBUTIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, "
                                  f"got {getattr(self, name)!r}")


#: The settings a rerun in the same directory may change: those of the analysis alone (the
#: trainings are read back and analysed again), and ``seeds`` (more seeds train only the
#: new ones; fewer analyse the first ones).
RERUN_MAY_CHANGE = ("distribution", "temperature", "quantile", "retune_points",
                    "move_decades", "bootstrap", "seeds")

#: A training "diverged" when it failed (non-finite loss) or ended within this much of
#: chance accuracy (1 / classes).
CHANCE_MARGIN = 0.02

#: The default temperature when there is one seed (nothing to measure the noise with).
FALLBACK_TEMPERATURE = 0.01


def _label(level: float | None) -> str:
    return "base" if level is None else f"keep-{level:g}"


def grid_seeds(seed: int, seeds: int) -> list[int]:
    """The seeds of the grid cells: the ``seeds`` seeds after the run's seed, which is the
    HPO's (its trials are never a grid measurement)."""
    return [seed + 1 + s for s in range(seeds)]


def check_sensitivity(space: SearchSpace, settings: SensitivitySettings, *,
                      model: str | None = None, splits: DataSplits | None = None) -> None:
    """Everything the analysis checks before it writes: the grid's hyperparameters must be
    log-scaled floats of the space, and ``model`` (with ``splits``) must build.

    Raises:
        ConfigError: naming the hyperparameter or the model.
    """
    for name in settings.params:
        param = next((p for p in space.params if p.name == name), None)
        if param is None or param.type != "float" or not param.log:
            raise ConfigError(f"{name!r} must be a log-scaled float of the search space to "
                              "lay a log grid over it")
    if model is not None and splits is not None:
        build_model(model, in_channels=splits.in_channels, num_classes=splits.num_classes,
                    image_size=splits.image_size)


@dataclass(frozen=True)
class SensitivityResult(JSONResult):
    """What pruning does to the best hyperparameters (``sensitivity.json``).

    Attributes:
        summary: The worded answer ("lr: no significant move (...)").
        moves: Per hyperparameter, whether it moves significantly and at which levels.
        retune_from_level: The first pruning level from which retuning pays, or None.
        optimum: The base network's HPO optimum (the grid's centre).
        comparisons: Per pruned network, every figure with its bootstrap interval.
        seeds: The grid's training seeds.
        temperature: The softmax temperature used, and where it came from.
        out: The run directory.
    """

    summary: str
    moves: dict[str, dict[str, Any]]
    retune_from_level: float | None
    optimum: dict[str, Any]
    comparisons: dict[str, dict[str, Any]]
    seeds: list[int]
    temperature: dict[str, Any]
    out: Path

    @classmethod
    def from_dict(cls, report: Mapping[str, Any], out: str | Path) -> SensitivityResult:
        answer = report["answer"]
        return cls(summary=answer["summary"], moves=dict(answer["hyperparameters"]),
                   retune_from_level=answer["retune_from_level"],
                   optimum=dict(report["optimum"]), comparisons=dict(report["comparisons"]),
                   seeds=list(report["seeds"]), temperature=dict(report["temperature"]),
                   out=Path(out), raw=dict(report))


def run_sensitivity(model: str, data: DataConfig, *, train: TrainConfig, space: SearchSpace,
                    settings: SensitivitySettings, out: str | Path,
                    splits: DataSplits | None = None) -> SensitivityResult:
    """Run (or resume) the analysis; write ``sensitivity.json``, heatmaps and plots.

    Args:
        model: The base network (registered name).
        data: The data.
        train: The base training settings; ``train.epochs`` is the epochs of every trial
            and grid cell.
        space: The HPO search space; ``settings.params`` must be log-scaled floats in it.

    Example:
        >>> r = run_sensitivity("lenet5", DataConfig(limit_train=20000),
        ...                     train=TrainConfig(epochs=2), space=DEFAULT_SPACE,
        ...                     settings=SensitivitySettings(), out="runs/sens")  # doctest: +SKIP
        >>> r.summary, r.moves["lr"]["moves"]  # doctest: +SKIP
    """
    splits = splits if splits is not None else prepare_data(data)
    check_sensitivity(space, settings, model=model, splits=splits)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sub = SearchSpace([p for p in space.params if p.name in settings.params])
    timings: dict[str, float] = {}

    # 1. The base network's optimum.
    t0 = time.perf_counter()
    hpo_job = _job(model, data, train, sub.to_dict(), settings, out, "hpo-base",
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
    networks = _pruned_networks(model, splits, sub.apply(train, optimum), settings, out)
    timings["pruning"] = time.perf_counter() - t0

    seeds = grid_seeds(train.seed, settings.seeds)
    runs: dict[str, np.ndarray] = {}
    diverged: dict[str, np.ndarray] = {}
    sizes: dict[str, dict[str, float]] = {}
    for level, info in networks.items():
        label = _label(level)
        t0 = time.perf_counter()
        runs[label], diverged[label], trial_seconds[f"grid_{label}"] = _grid_landscape(
            model, data, train, grid, seeds, settings, out, level, info,
            chance=1 / splits.num_classes)
        timings[f"grid_{label}"] = time.perf_counter() - t0
        sizes[label] = {k: v for k, v in info.items() if k != "file"}

    noise = seed_noise(runs, diverged)
    temperature, temperature_source = _temperature(settings, noise)
    distribution: dict[str, Any] = {"method": settings.distribution,
                                    "temperature": temperature, "quantile": settings.quantile}
    comparisons, significant = {}, {}
    for i, level in enumerate(settings.levels):
        label = _label(level)
        comparisons[label] = {
            "level": level,
            **compare_landscapes(grid, runs["base"], runs[label], **distribution),
            "interval": bootstrap_intervals(grid, runs["base"], runs[label],
                                            n=settings.bootstrap, seed=train.seed + i,
                                            **distribution)}
        significant[label] = significant_cells(runs["base"], runs[label])
    answer = verdicts(comparisons, settings)
    landscapes = {k: v.mean(axis=0) for k, v in runs.items()}
    report = {
        "model": model, "settings": asdict(settings), "data": config_to_dict(data),
        "train": config_to_dict(train), "optimum": optimum, "grid": grid.to_dict(),
        "seeds": seeds, "networks": sizes,
        "landscapes": {k: v.tolist() for k, v in landscapes.items()},
        "runs": {k: v.tolist() for k, v in runs.items()},
        "diverged": {k: v.tolist() for k, v in diverged.items()},
        "divergence_rate": {k: float(v.sum() / (v.size * len(seeds)))
                            for k, v in diverged.items()},
        "significant_cells": {k: v.tolist() for k, v in significant.items()},
        "noise": noise,
        "temperature": {"value": temperature, "source": temperature_source},
        "comparisons": comparisons, "answer": answer,
        "seconds": {"training": trial_seconds, "wall_this_run": timings},
    }
    write_json(out / "sensitivity.json", report)
    from moprune.sensitivity.report import plot_distances, plot_heatmaps

    plot_heatmaps(grid, landscapes, out / "landscapes.png", significant=significant,
                  diverged=diverged, seeds=len(seeds))
    plot_distances(comparisons, settings.params, out / "distances.png")
    return SensitivityResult.from_dict(report, out)


def _temperature(settings: SensitivitySettings, noise: dict[str, Any] | None
                 ) -> tuple[float, str]:
    """The softmax temperature and where it came from."""
    if settings.temperature is not None:
        return float(settings.temperature), "given"
    if noise is None:
        return FALLBACK_TEMPERATURE, ("one seed per cell, no noise to measure: the default "
                                      f"{FALLBACK_TEMPERATURE:g}")
    value = max(noise["median_std"], 1e-3)
    return value, (f"the median per-cell standard deviation between seeds, "
                   f"{noise['median_std']:.4f}, over {noise['cells']} cells without a "
                   f"diverged seed" + (" (floored at 0.001)" if value > noise["median_std"]
                                       else ""))


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
                    seeds: list[int], settings: SensitivitySettings, out: Path,
                    level: float | None, info: dict[str, Any], *, chance: float
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Train every cell of ``grid`` with every seed on one network ((cell, seed) pairs as
    enqueued trials, keyed ``eval_index = seed_index * cells + cell``, so more seeds extend
    a finished grid); return the validation accuracies ``(seeds, *grid.shape)`` (0 for a
    failed training), how many seeds of each cell diverged (failed, or within
    :data:`CHANCE_MARGIN` of ``chance``), and the seconds its trials trained."""
    space = SearchSpace.from_dict({n: {"type": "categorical", "choices": list(v)}
                                   for n, v in zip(grid.names, grid.values, strict=True)})
    recipe = architecture(info["file"])
    job = _job(model, data, base, space.to_dict(), settings, out, f"cells-{_label(level)}",
               trials=len(grid.cells()) * len(seeds), proxy=recipe,
               init_weights=info["file"] if settings.init == "finetune" and level else None)
    study = _open(job)
    study.sampler = optuna.samplers.GridSampler(
        {n: list(v) for n, v in zip(grid.names, grid.values, strict=True)}, seed=base.seed)
    cells = grid.cells()
    have = {int(t.user_attrs["eval_index"]) for t in study.get_trials(deepcopy=False)
            if "eval_index" in t.user_attrs and counted(t)}
    for s, seed in enumerate(seeds):
        for i, cell in enumerate(cells):
            if s * len(cells) + i not in have:
                study.enqueue_trial(cell, user_attrs={"eval_index": s * len(cells) + i,
                                                      "seed": seed})
    run_workers(job, len(cells) * len(seeds), only_enqueued=True)
    acc = np.zeros((len(seeds), len(cells)))
    bad = np.zeros((len(seeds), len(cells)), dtype=bool)
    found = np.zeros((len(seeds), len(cells)), dtype=bool)
    for t in study.get_trials(deepcopy=False):
        index = t.user_attrs.get("eval_index")
        if index is None or not counted(t) or int(index) >= acc.size:
            continue
        s, i = divmod(int(index), len(cells))
        found[s, i] = True
        if t.state == TrialState.COMPLETE:
            acc[s, i] = t.values[0]
        bad[s, i] = t.state != TrialState.COMPLETE or acc[s, i] < chance + CHANCE_MARGIN
    if not found.all():
        raise ConfigError(f"{int((~found).sum())} grid trainings of {_label(level)} did not "
                          "finish; run the command again to resume them")
    return (acc.reshape(len(seeds), *grid.shape),
            bad.sum(axis=0).reshape(grid.shape), _trial_seconds(study))


def _trial_seconds(study: optuna.Study) -> float:
    return float(sum(t.user_attrs.get("seconds", 0.0) for t in study.get_trials(deepcopy=False)))


def _low(estimate: float, interval: list[float] | None) -> float:
    """What a verdict must clear: the lower of the estimate and its interval's lower end
    (a distance between resampled, noisier landscapes is larger, so the bootstrap of W1
    or JS can sit wholly above the estimate; the verdict takes the smaller); -inf without
    an interval (one seed: no verdict)."""
    return -np.inf if interval is None else min(estimate, interval[0])


def _with_interval(value: float, interval: list[float] | None, fmt: str = ".2f") -> str:
    return (f"{value:{fmt}}" if interval is None else
            f"{value:{fmt}} [{interval[0]:{fmt}}, {interval[1]:{fmt}}]")


def verdicts(comparisons: dict[str, dict[str, Any]], settings: SensitivitySettings
            ) -> dict[str, Any]:
    """Which hyperparameters move, and from which level on retuning pays; a verdict only
    where the estimate and the lower end of its 95% interval both clear the threshold
    (W1 >= move_decades, or a gain of retuning that hyperparameter alone > retune_points;
    a regret > retune_points)."""
    moves: dict[str, dict[str, Any]] = {}
    words = []
    for name in settings.params:
        levels, largest = [], None
        for c in comparisons.values():
            iv = c["interval"] or {}
            w_iv = (iv.get("wasserstein_decades") or {}).get(name)
            g_iv = (iv.get("retune_gain_points") or {}).get(name)
            if (_low(c["wasserstein_decades"][name], w_iv) >= settings.move_decades
                    or _low(c["retune_gain_points"][name], g_iv) > settings.retune_points):
                levels.append(c["level"])
            if largest is None or c["wasserstein_decades"][name] > \
                    largest["wasserstein_decades"][name]:
                largest = c
        moves[name] = {"moves": bool(levels), "at_levels": levels}
        if levels:
            words.append(f"{name} moves at keep {', '.join(f'{v:g}' for v in levels)}")
        elif largest is not None:
            iv = (largest["interval"] or {}).get("wasserstein_decades", {}).get(name)
            words.append(f"{name}: no significant move (largest W1 "
                         f"{_with_interval(largest['wasserstein_decades'][name], iv)} "
                         f"decades, at keep {largest['level']:g})")
    ordered = sorted(comparisons.values(), key=lambda c: -c["level"])
    paying = [c for c in ordered
              if _low(c["regret_points"], (c["interval"] or {}).get("regret_points"))
              > settings.retune_points]
    retune_from = paying[0]["level"] if paying else None
    if paying:
        c = paying[0]
        words.append(f"retuning pays from keep {retune_from:g} of the FLOPs on (regret "
                     f"{_with_interval(c['regret_points'], c['interval']['regret_points'])} "
                     "points)")
    else:
        c = max(ordered, key=lambda c: c["regret_points"])
        regret = _with_interval(c["regret_points"], (c["interval"] or {}).get("regret_points"))
        words.append(f"retuning: no significant gain over {settings.retune_points:g} points "
                     f"(largest regret {regret} points, at keep {c['level']:g})")
    if any(c["interval"] is None for c in comparisons.values()):
        words.append("one seed per cell: no intervals, so no verdicts")
    return {"hyperparameters": moves, "retune_from_level": retune_from,
            "summary": "; ".join(words)}


def levels_from_text(text: str) -> tuple[float, ...]:
    """``"0.8,0.6"`` -> (0.8, 0.6), with a one-line error for anything else."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"levels must be comma-separated numbers, got {text!r}") from None
