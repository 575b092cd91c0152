"""The proxy HPO pipeline: search on the proxy, transfer the top configurations to the
base network, and account for every second; and the proxy's fidelity.

Lee & Yim's use of a pruned network N_P as the proxy of the base network N_B: trials
train N_P (fresh weights, the trial's hyperparameters); the ``top_k`` configurations are
retrained on N_B for the final epochs, and the best on N_B's validation accuracy is the
result (its test accuracy reported). With ``proxy=None`` the same code is the full
pipeline: trials train N_B itself.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from moprune.config import DataConfig, TrainConfig, config_to_dict
from moprune.data import DataSplits, prepare_data
from moprune.data.tensors import TENSORS_PREFIX
from moprune.errors import ConfigError, DivergedError
from moprune.hpo.backends import get_backend
from moprune.hpo.objective import TrialObjective, architecture, check_objectives, fresh_model
from moprune.hpo.space import SearchSpace
from moprune.hpo.study import StudySettings, open_study, wait_for, work
from moprune.io import read_json, write_json
from moprune.training import train

__all__ = ["HPOJob", "fidelity", "proxy_source", "rank_agreement", "run_hpo", "run_workers",
           "trial_table", "uniform_proxy"]


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

    def __post_init__(self) -> None:
        check_objectives(tuple(self.objectives))

    def recipe(self) -> dict[str, Any]:
        return self.proxy if self.proxy is not None else {"model": self.model}


def _objective(job: HPOJob, splits: Any) -> TrialObjective:
    recipe = job.recipe()

    def factory(seed: int) -> torch.nn.Module:
        if job.init_weights is not None:  # fine-tuning: every trial from the same weights
            from moprune.models import load_model

            return load_model(job.init_weights)
        return fresh_model(recipe, in_channels=splits.in_channels,
                           num_classes=splits.num_classes, image_size=splits.image_size,
                           seed=seed)

    return TrialObjective(factory, splits, job.train, SearchSpace.from_dict(job.space),
                          job.objectives)


_START_TIMEOUT = 120.0  # seconds a worker waits for the others to be ready


def _worker_main(job: HPOJob, worker: int, budget: int, only_enqueued: bool,
                 process: bool = True, ready: Any = None,
                 splits: DataSplits | None = None) -> None:
    """One worker (a process of its own, or inline): its own data, storage connection and
    sampler seed. With ``ready`` (a barrier of all this machine's workers) it asks for its
    first trial only when every worker has its data and study, so that a fast starter does
    not take the first trials alone; a worker that does not come within
    ``_START_TIMEOUT`` seconds is not waited for. ``splits``: the data already loaded
    (a user's tensors, which no worker could load by name)."""
    if process:  # a worker process of ours: its own threads, no per-trial log lines
        if job.threads:
            torch.set_num_threads(job.threads)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
    splits = splits if splits is not None else prepare_data(job.data)
    objective = _objective(job, splits)
    study = open_study(job.settings, job.out, directions=objective.directions,
                       max_epochs=job.train.epochs, worker=worker)
    if ready is not None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a slow one: go on
            ready.wait(_START_TIMEOUT)
    work(study, objective, budget, only_enqueued=only_enqueued)


def run_workers(job: HPOJob, budget: int, *, only_enqueued: bool = False,
                splits: DataSplits | None = None) -> None:
    """Run ``job.settings.workers`` workers (processes when more than one) until ``budget``
    trials count, or (``only_enqueued``) until no enqueued trial waits. ``splits``: the
    data already loaded; worker processes load a named dataset themselves and are sent
    a user's tensors."""
    n = job.settings.workers
    if n == 1:
        _worker_main(job, 0, budget, only_enqueued, process=False, splits=splits)
        return
    carry = splits if job.data.dataset.startswith(TENSORS_PREFIX) else None
    ctx = multiprocessing.get_context("spawn")
    threads = job.threads or max(1, (os.cpu_count() or 1) // n)
    job = HPOJob(**{**job.__dict__, "threads": threads})
    ready = ctx.Barrier(n)
    procs = [ctx.Process(target=_worker_main,
                         args=(job, i, budget, only_enqueued, True, ready, carry))
             for i in range(n)]
    for p in procs:
        p.start()
    wait_for(procs)


def proxy_source(source: str | os.PathLike[str], *, selector: str = "chord",
                 base: Mapping[str, Any] | None = None
                 ) -> tuple[dict[str, Any], dict[str, float]]:
    """The proxy's recipe and the seconds its creation took, from a model file, a front
    run directory (its compacted knee, ``knee-SELECTOR-compact.pt``), or ``uniform:SHARE``
    (the base network thinned uniformly to SHARE of its FLOPs, see :func:`uniform_proxy`;
    needs ``base``, the base network's recipe).

    The creation time of a front run is the training time of all its points (search and
    knee retraining) plus the compaction recorded beside the compacted file.
    """
    if str(source).startswith("uniform:"):
        if base is None:
            raise ConfigError("a uniform proxy needs the base network's recipe")
        try:
            share = float(str(source).split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"proxy {str(source)!r}: uniform:SHARE needs a number, e.g. "
                              "uniform:0.25") from None
        if not 0 < share <= 1:
            raise ConfigError(f"proxy {str(source)!r}: the share of the FLOPs must be in "
                              "(0, 1]")
        t0 = time.perf_counter()
        recipe = uniform_proxy(base, share)
        return recipe, {"compaction": time.perf_counter() - t0}
    path = Path(source)
    seconds: dict[str, float] = {}
    if path.is_dir():
        model_file = path / f"knee-{selector}-compact.pt"
        if not model_file.is_file():
            raise ConfigError(f"{str(path)!r} has no compacted knee {model_file.name}; run "
                              f"`moprune knee {path} --selector {selector} --compact` first")
        front = read_json(path / "front.json")  # its points include the retrained knee
        seconds["front"] = float(sum(p.get("seconds", 0.0) for p in front.get("points", [])))
        path = model_file
    elif not path.is_file():
        raise ConfigError(f"proxy {str(source)!r} is neither a model file, a run directory "
                          "nor uniform:SHARE")
    report = path.with_suffix(".json")
    if report.is_file():
        seconds["compaction"] = float(read_json(report).get("seconds", 0.0) or 0.0)
    return architecture(path), seconds


def uniform_proxy(base: Mapping[str, Any], share: float) -> dict[str, Any]:
    """The recipe of the base network with every prunable layer thinned by the same share
    of its channels, to ``share`` of its FLOPs (:func:`moprune.pruning.prune_to_flops`,
    mode ``uniform``; the output layer keeps its width).

    No training is needed: trials start from fresh weights, so only the channel counts
    matter, and a uniform cut gives the same counts whatever the weights. The measured
    case for it (experiments/proxy_hpo): it ranks configurations like the base network
    far better than the irregular shape of a group-l1 knee of the same cost.
    """
    from moprune.models.registry import model_recipe
    from moprune.models.serialization import build_from_recipe, plain
    from moprune.pruning import prune_to_flops

    net = build_from_recipe(dict(base), seed=0)
    example = torch.zeros(1, base["in_channels"], base["image_size"], base["image_size"])
    small, _ = prune_to_flops(net, example_inputs=example, keep_flops=share, mode="uniform")
    recipe = model_recipe(small)
    assert recipe is not None  # built by moprune
    return dict(plain(recipe))  # lists, not tuples, as a model file holds it


def trial_table(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial as plain data (state, params, values, seconds, failure)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus"):
            continue
        rows.append({"number": t.number, "state": t.state.name.lower(), "params": t.params,
                     "values": t.values, "val_acc": t.user_attrs.get("val_acc"),
                     "seconds": t.user_attrs.get("seconds"),
                     "epochs_run": t.user_attrs.get("epochs_run"),
                     "parameters": t.user_attrs.get("parameters"),
                     "failure": t.user_attrs.get("failure") or (
                         "interrupted (its worker died)"
                         if t.user_attrs.get("interrupted") else None),
                     "retry_of": t.user_attrs.get("retry_of")})
    return rows


def _top_configs(study: optuna.Study, k: int) -> list[dict[str, Any]]:
    """The ``k`` best completed trials' parameters, by validation accuracy (first objective)."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    done.sort(key=lambda t: -t.values[0])
    seen, top = set(), []
    for t in done:
        key = json.dumps(t.params, sort_keys=True)
        if key not in seen:
            seen.add(key)
            top.append(dict(t.params))
        if len(top) == k:
            break
    return top


def require_test_split(splits: DataSplits) -> None:
    """Raise :class:`ConfigError` when the data has no test split (the transfer to the
    base network and the fidelity report its test accuracy)."""
    if splits.test_idx is None:
        raise ConfigError(f"{splits.config.dataset} has no test split; give a dataset with "
                          "one (an image folder: test/ or val/, or --test-fraction)")


def run_hpo(job: HPOJob, *, top_k: int = 3, final_epochs: int | None = None,
            creation_seconds: Mapping[str, float] | None = None,
            splits: DataSplits | None = None) -> dict[str, Any]:
    """Run (or resume) the study, transfer its top configurations to the base network and
    write ``results.json``. Returns the results.

    Args:
        job: The study's settings; ``job.proxy`` None runs trials on the base network.
        top_k: Configurations retrained on the base network.
        final_epochs: Epochs of the transfer runs (default: a trial's epochs).
        creation_seconds: The proxy's creation time by phase (front, compaction).
        splits: ``job.data`` already loaded (loaded here when None).
    """
    if top_k < 1:
        raise ConfigError(f"top-k must be >= 1, got {top_k}")
    if final_epochs is not None and final_epochs < 1:
        raise ConfigError(f"final epochs must be >= 1, got {final_epochs}")
    space = SearchSpace.from_dict(job.space)
    splits = splits if splits is not None else prepare_data(job.data)
    require_test_split(splits)
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    objective = _objective(job, splits)
    study = open_study(job.settings, out, directions=objective.directions,
                       max_epochs=job.train.epochs)
    start = time.perf_counter()
    get_backend(job.settings.backend).run(
        study, objective, job.settings, space,
        lambda budget, only_enqueued=False: run_workers(job, budget,
                                                        only_enqueued=only_enqueued,
                                                        splits=splits))
    hpo_wall = time.perf_counter() - start
    previous = out / "results.json"  # a resumed run: the wall time of the earlier calls too
    if previous.is_file():
        hpo_wall += float(read_json(previous).get("time", {}).get("hpo_wall", 0.0))
    rows = trial_table(study)
    trial_seconds = float(sum(r["seconds"] or 0.0 for r in rows))

    transfer = _transfer(job, splits, _top_configs(study, top_k), space,
                         final_epochs or job.train.epochs, out)
    best = max(transfer, key=lambda r: r["val_acc"]) if transfer else None
    creation = dict(creation_seconds or {})
    time_split = {**{f"proxy_{k}": v for k, v in creation.items()},
                  "hpo_trials": trial_seconds,
                  "transfer": float(sum(r["seconds"] for r in transfer))}
    results = {
        "model": job.model if isinstance(job.model, str) else type(job.model).__name__,
        "proxy": _plain_recipe(job.proxy), "objectives": list(job.objectives),
        "settings": asdict(job.settings), "space": job.space,
        "train": config_to_dict(job.train), "data": config_to_dict(job.data),
        "trials": rows,
        "counts": {s: sum(r["state"] == s for r in rows)
                   for s in ("complete", "pruned", "fail", "running", "waiting")},
        "transfer": transfer, "best": best,
        "time": {**time_split, "total": float(sum(time_split.values())),
                 "hpo_wall": hpo_wall},
    }
    write_json(out / "results.json", results)
    _plots(results, out)
    return results


def _plain_recipe(recipe: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A recipe as JSON: a user's module (or factory) as its class name and size."""
    if recipe is None:
        return None
    spec = recipe.get("model")
    if isinstance(spec, torch.nn.Module):
        return {**recipe, "model": type(spec).__name__,
                "parameters": sum(p.numel() for p in spec.parameters())}
    if callable(spec) and not isinstance(spec, str):
        return {**recipe, "model": getattr(spec, "__name__", type(spec).__name__)}
    return dict(recipe)


def _transfer(job: HPOJob, splits: Any, configs: Sequence[Mapping[str, Any]],
              space: SearchSpace, epochs: int, out: Path) -> list[dict[str, Any]]:
    """Train the base network with each configuration (cached: a resumed run does not
    train them again)."""
    results = []
    for i, params in enumerate(configs):
        config = space.apply(job.train, params)
        config = TrainConfig(**{**config_to_dict(config), "epochs": epochs})
        results.append({**_train_cached(out / "transfer" / f"{i}.json", {"model": job.model},
                                        params, config, splits, evaluate_test=True),
                        "epochs": epochs})
    return results


def _train_cached(cache: Path, recipe: Mapping[str, Any], params: Mapping[str, Any],
                  config: TrainConfig, splits: Any, *, evaluate_test: bool = False
                  ) -> dict[str, Any]:
    """Train a fresh network of ``recipe`` with ``config`` (``params`` its tuned values),
    or read the result back from ``cache`` when it was made with the same ``params``.
    A diverged training scores validation accuracy 0 (it ranks last) with its reason."""
    if cache.is_file():
        saved = read_json(cache)
        if saved.get("params") == dict(params):
            return saved
    net = fresh_model(recipe, in_channels=splits.in_channels, num_classes=splits.num_classes,
                      image_size=splits.image_size, seed=config.seed)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"params": dict(params)}
    try:
        r = train(net, splits, config, evaluate_test=evaluate_test, progress=False)
        row["val_acc"] = r.val_acc
        if evaluate_test:
            row["test_acc"] = r.test_acc
    except DivergedError as e:
        row.update(val_acc=0.0, failure=str(e))
        if evaluate_test:
            row["test_acc"] = None
    row["seconds"] = time.perf_counter() - t0
    write_json(cache, row)
    return row


def _plots(results: Mapping[str, Any], out: Path) -> None:
    from moprune.report.plots import new_figure, save_figure

    rows = [r for r in results["trials"] if r["state"] == "complete"]
    fig, (ax1, ax2) = new_figure(ncols=2, width=10.0, height=3.8)
    if rows:
        xs = [r["number"] for r in rows]
        acc = [r["values"][0] for r in rows]
        ax1.scatter(xs, acc, s=14, label="trial")
        ax1.plot(xs, np.maximum.accumulate(acc), color="C1", label="best so far")
        ax1.legend()
    ax1.set(xlabel="trial", ylabel="validation accuracy", title="optimisation history")
    phases = {k: v for k, v in results["time"].items() if k not in ("total", "hpo_wall")}
    ax2.barh(list(phases), list(phases.values()), color="C0")
    ax2.set(xlabel="seconds", title=f"time: {results['time']['total']:.0f} s in all")
    save_figure(fig, out / "hpo.png")


def fidelity(proxy: Mapping[str, Any], model: str, data: DataConfig, base: TrainConfig,
             space: SearchSpace, *, configs: int = 16, seed: int = 0, top_k: int = 3,
             out: str | os.PathLike[str], splits: DataSplits | None = None) -> dict[str, Any]:
    """Train N_P and N_B on ``configs`` quasi-random configurations (scrambled Sobol) and
    compare the rankings: Spearman rho, Kendall tau, top-k overlap (scipy).

    Every (network, configuration) result is written as it finishes; a rerun resumes.
    """
    from scipy.stats import qmc

    if configs < 3:
        raise ConfigError(f"fidelity needs at least 3 configurations, got {configs}")
    out = Path(out)
    splits = splits if splits is not None else prepare_data(data)
    require_test_split(splits)
    points = qmc.Sobol(d=len(space), scramble=True, seed=seed).random(configs)
    rows = []
    for i, u in enumerate(points):
        params = space.decode(u)
        row: dict[str, Any] = {"index": i, "params": params}
        for label, recipe in (("proxy", proxy), ("base", {"model": model})):
            row[label] = _train_cached(out / "fidelity" / f"{label}-{i}.json", recipe, params,
                                       space.apply(base, params), splits)
        rows.append(row)
    p = np.array([r["proxy"]["val_acc"] for r in rows])
    b = np.array([r["base"]["val_acc"] for r in rows])
    results = {"configs": rows, **rank_agreement(p, b, top_k=top_k),
               "seconds": {"proxy": float(sum(r["proxy"]["seconds"] for r in rows)),
                           "base": float(sum(r["base"]["seconds"] for r in rows))}}
    write_json(out / "fidelity.json", results)
    _fidelity_plot(p, b, results, out / "fidelity.png")
    return results


def rank_agreement(proxy: Sequence[float] | np.ndarray, base: Sequence[float] | np.ndarray,
                   *, top_k: int = 3
                   ) -> dict[str, Any]:
    """How well the proxy's scores rank configurations as the base network's do: Spearman
    rho, Kendall tau (scipy; ties averaged) and the overlap of the two top-k sets (ties
    broken by order). Rho and tau are None when one network scores every configuration
    the same."""
    from scipy.stats import kendalltau, spearmanr

    p, b = np.asarray(proxy, dtype=float), np.asarray(base, dtype=float)
    if p.shape != b.shape or p.ndim != 1 or len(p) < 2:
        raise ConfigError("rank agreement needs two score lists of the same length >= 2")
    k = min(top_k, len(p))
    top = len(set(np.argsort(-p, kind="stable")[:k]) & set(np.argsort(-b, kind="stable")[:k]))
    if np.ptp(p) == 0 or np.ptp(b) == 0:  # no ranking to agree with: undefined, not NaN
        rho = tau = None
    else:
        rho = float(spearmanr(p, b).statistic)
        tau = float(kendalltau(p, b).statistic)
    return {"spearman_rho": rho, "kendall_tau": tau, f"top{k}_overlap": top / k, "top_k": k}


def _fidelity_plot(p: np.ndarray, b: np.ndarray, results: Mapping[str, Any], path: Path) -> None:
    from moprune.report.plots import new_figure, save_figure

    fig, (ax,) = new_figure(width=4.5, height=4.2)
    ax.scatter(p, b, s=18)
    ax.set(xlabel="proxy validation accuracy", ylabel="base validation accuracy",
           title=f"Spearman rho {_fmt(results['spearman_rho'])}, "
                 f"Kendall tau {_fmt(results['kendall_tau'])}")
    save_figure(fig, path)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"
