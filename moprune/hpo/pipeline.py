"""The proxy HPO pipeline: search on the proxy, transfer the top configurations to the
base network, and account for every second (the proxy's fidelity:
:mod:`moprune.hpo.fidelity`).

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
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState
from torch import nn

from moprune.config import DataConfig, TrainConfig, config_to_dict
from moprune.data import DataSplits, prepare_data
from moprune.data.tensors import TENSORS_PREFIX
from moprune.errors import ConfigError, DivergedError, MopruneError
from moprune.hpo.backends import get_backend
from moprune.hpo.lr_transfer import LR_TRANSFERS, base_shapes, mup_solver
from moprune.hpo.objective import (
    OBJECTIVES,
    TrialObjective,
    architecture,
    check_objectives,
    fresh_model,
)
from moprune.hpo.space import SearchSpace
from moprune.hpo.study import (
    StudySettings,
    check_study_directions,
    make_pruner,
    open_study,
    recover_dead_trials,
    wait_for,
    work,
)
from moprune.io import read_json, write_json
from moprune.layout import RunLayout
from moprune.progress import notice, progress_line
from moprune.training import train

__all__ = ["HPOJob", "check_hpo", "interrupted", "proxy_source", "run_hpo", "run_workers",
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
    lr_transfer: str = "none"  # "mup": muP's per-layer factors on proxy trials
    keep_weights: bool = False  # save completed trials' weights (identical transfers)

    def __post_init__(self) -> None:
        check_objectives(tuple(self.objectives))
        if self.lr_transfer not in LR_TRANSFERS:
            raise ConfigError(f"lr transfer must be one of {', '.join(LR_TRANSFERS)}, got "
                              f"{self.lr_transfer!r}")

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
        try:
            _worker_main(job, worker, budget, only_enqueued, False, ready, splits)
        except MopruneError as e:  # one line (the parent names the worker and goes on)
            print(f"moprune: error: HPO worker {worker}: {e}", file=sys.stderr, flush=True)
            sys.exit(1)
        return
    splits = splits if splits is not None else prepare_data(job.data)
    objective = _objective(job, splits)
    study = open_study(job.settings, job.out, directions=objective.directions,
                       max_epochs=job.train.epochs, worker=worker)
    if ready is not None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a slow one: go on
            ready.wait(_START_TIMEOUT)
    work(study, objective, budget, only_enqueued=only_enqueued,
         progress=False if ready is not None else None)  # (no bars from many workers)


def run_workers(job: HPOJob, budget: int, *, only_enqueued: bool = False,
                splits: DataSplits | None = None) -> None:
    """Run ``job.settings.workers`` workers (processes when more than one) until ``budget``
    trials count, or (``only_enqueued``) until no enqueued trial waits. ``splits``: the
    data already loaded; worker processes load a named dataset themselves and are sent
    a user's tensors.

    A worker that dies (killed, out of memory) is a fault the study survives: it is named
    in one line, its running trial is failed and enqueued again at once (the survivors
    pick the retry up), and when the workers are gone with the budget not yet counted,
    this process runs the rest itself. Every worker is reaped as soon as it ends (a
    zombie would look alive to the others' recovery)."""
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
    study: optuna.Study | None = None

    def recover(worker: int, process: Any) -> None:
        nonlocal study
        ready.abort()  # a worker waiting for the dead one at the start goes on
        notice(f"HPO worker {worker} (pid {process.pid}) {_ended(process.exitcode)}; the "
               "study goes on without it, and its trial is run again")
        if study is None:
            study = open_study(job.settings, job.out, directions=_directions(job),
                               max_epochs=job.train.epochs)
        recover_dead_trials(study, len(SearchSpace.from_dict(job.space)),
                            pids={process.pid})

    try:
        failed = wait_for(procs, on_failure=recover)
    except BaseException:  # Ctrl-C, SIGTERM: the workers stop too (their trials resume)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(10)
        raise
    ready = procs = None  # type: ignore[assignment]  # (their semaphores unregister)
    _stop_resource_tracker()
    if failed:  # the survivors have ended; what the dead left (a retry, the rest)
        _worker_main(job, 0, budget, only_enqueued, process=False, splits=splits)


def _stop_resource_tracker() -> None:
    """Stop (and reap) the process that multiprocessing started to track the workers'
    semaphores, once the workers and the barrier are gone: left to end after this process,
    it would be an orphan, a zombie until init reaps it. (The next workers start another.)"""
    import gc
    from multiprocessing import resource_tracker

    gc.collect()  # the barrier's semaphores unregister as they are freed
    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


def _directions(job: HPOJob) -> list[str]:
    return [OBJECTIVES[o] for o in job.objectives]


def _ended(exitcode: int | None) -> str:
    """How a worker process ended, in words."""
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"failed with exit code {exitcode}"


def proxy_source(source: str | os.PathLike[str], *, selector: str = "chord",
                 base: Mapping[str, Any] | None = None, flops_floor: float | None = None,
                 tolerance: float | str = 0.0,
                 factory: Callable[[], nn.Module] | None = None,
                 splits: DataSplits | None = None
                 ) -> tuple[dict[str, Any], dict[str, float]]:
    """The proxy's recipe and the seconds its creation took, from a model file, a front
    run directory, or ``uniform:SHARE`` (the base network thinned uniformly to SHARE of
    its FLOPs, see :func:`uniform_proxy`; needs ``base``, the base network's recipe).

    From a front run directory: without ``flops_floor``, its compacted knee
    (``knee-SELECTOR-compact.pt``, made by ``moprune knee --compact``); with it, the knee
    of the front in (validation error, FLOPs share) among the points keeping at least
    ``flops_floor`` of the FLOPs, compacted here (``knee-SELECTOR-flopsF-compact.pt``; its
    dead channels removed, no retraining: trials use only its shape; ``tolerance``: the
    accuracy that counts as noise in that choice, see :meth:`moprune.front.Front.knee`).
    A knee that keeps
    over 95% of the FLOPs is refused (ConfigError): it cannot pay for its creation.

    The creation time of a front run is the training time of all its points (the whole
    search, and a knee retraining if there is one) plus the compaction.

    A front of a user's module (not a registered model) needs ``factory``, the callable
    that builds that module: its files hold weights and the pruning history, and the
    proxy is the compacted module rebuilt from them.
    """
    if flops_floor is not None and not (Path(source).is_dir() and 0 <= flops_floor < 1):
        raise ConfigError("a FLOPs floor needs a front run directory as the proxy and a "
                          f"share in [0, 1), got {str(source)!r} and {flops_floor}")
    if tolerance and flops_floor is None:
        raise ConfigError("a knee tolerance chooses the knee in FLOPs terms: it needs a "
                          "FLOPs floor (0 for none)")
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
        run = path
        path = RunLayout(run).knee_compact(selector)
        if flops_floor is None and not path.is_file():
            raise ConfigError(f"{str(run)!r} has no compacted knee {path.name}; run "
                              f"`moprune knee {run} --selector {selector} --compact` first, "
                              "or give a FLOPs floor (--proxy-flops-floor)")
        front = read_json(RunLayout(run).front)  # its points include a retrained knee
        seconds["front"] = float(sum(p.get("seconds", 0.0) for p in front.get("points", [])))
        if flops_floor is not None:
            path = _floor_knee(run, selector, flops_floor, factory, tolerance, splits)
    elif not path.is_file():
        raise ConfigError(f"proxy {str(source)!r} is neither a model file, a run directory "
                          "nor uniform:SHARE")
    report = path.with_suffix(".json")
    if report.is_file():
        seconds["compaction"] = float(read_json(report).get("seconds", 0.0) or 0.0)
    recipe = architecture(path)
    if recipe.get("model") is None:  # a user's module: its compacted shape, rebuilt
        from moprune.models import load_model

        if factory is None:
            raise ConfigError(f"{str(path)!r} holds a module of your own; give the "
                              "callable that builds it (the model of tune)")
        recipe = {"model": load_model(path, factory=factory)}
    return recipe, seconds


# a knee keeping more of the FLOPs than this cannot pay for its creation: its trials cost
# what the base network's do (measured: the VGG's flops path at lam 0.99 gave a knee that
# keeps 99% of the FLOPs, and each of its 32-trial pipelines took 41% longer than the full
# one)
_MAX_PROXY_FLOPS = 0.95


def _floor_knee(run: Path, selector: str, floor: float,
                factory: Callable[[], nn.Module] | None = None,
                tolerance: float | str = 0.0, splits: DataSplits | None = None) -> Path:
    """The compacted model of ``run``'s knee in FLOPs terms above ``floor``, accuracy
    differences up to ``tolerance`` taken as noise (made once)."""
    from moprune.compaction import compact_file
    from moprune.front import Front

    out = RunLayout(run).knee_flops_compact(selector, floor, tolerance)
    front = Front.load(RunLayout(run).front)
    point = front.knee(selector, axes="flops", floor=floor, tolerance=tolerance)
    if point.flops_share is not None and point.flops_share > _MAX_PROXY_FLOPS:
        raise ConfigError(
            f"the knee {point.key} of {str(run)!r} keeps {point.flops_share:.1%} of the "
            f"FLOPs: no smaller network above the floor {floor:g} to search on (the "
            "front removed too few channels); use one that removes more, or uniform:SHARE")
    if point.checkpoint is None:
        raise ConfigError(f"the knee {point.key} of {str(run)!r} has no model file")
    report = out.with_suffix(".json")
    if not (out.is_file() and report.is_file()
            and read_json(report).get("point") == point.key):
        # (only the shape is needed: no test accuracy measured, which costs creation time)
        x = None if splits is None else torch.randn(
            128, splits.in_channels, splits.image_size, splits.image_size,
            generator=torch.Generator().manual_seed(0))
        made = compact_file(run / point.checkpoint, out, factory=factory, example_inputs=x)
        write_json(report, {**{k: v for k, v in made.items() if k != "out"},
                            "point": point.key, "flops_share": point.flops_share,
                            "val_acc": point.val_acc, "floor": floor,
                            "tolerance": tolerance})
    progress_line(f"proxy: knee {point.key} of {run} above {floor:.0%} of the FLOPs "
                  f"({point.flops_share:.1%} kept, val acc {point.val_acc:.4f})")
    return out


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
                     "retry_of": t.user_attrs.get("retry_of"),
                     "seed": t.user_attrs.get("seed")})
    return rows


def interrupted(row: Mapping[str, Any]) -> bool:
    """Whether a :func:`trial_table` row is a trial whose worker died (retried, not
    counted in the budget)."""
    return row["state"] == "fail" and str(row.get("failure") or "").startswith("interrupted")


def _ranked(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The completed trials, best validation accuracy (first objective) first."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    return sorted(done, key=lambda t: -t.values[0])


def _top_configs(study: optuna.Study, k: int) -> list[dict[str, Any]]:
    """The ``k`` best completed trials' parameters, by validation accuracy (first objective)."""
    seen, top = set(), []
    for t in _ranked(study):
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


def check_hpo(job: HPOJob, splits: DataSplits, *, top_k: int = 3,
              final_epochs: int | None = None) -> None:
    """Everything :func:`run_hpo` checks before its first trial, without writing anything
    into the run directory: the transfer's settings, a test split, the backend's sampler
    for these objectives, the pruner, that the proxy and the base network build for this data, and
    that a given storage opens and holds no study of this name optimising other
    directions. A command calls it before it writes its settings, so that a refused run
    leaves its directory as it was.

    Raises:
        ConfigError: naming the setting.
    """
    if top_k < 1:
        raise ConfigError(f"top-k must be >= 1, got {top_k}")
    if final_epochs is not None and final_epochs < 1:
        raise ConfigError(f"final epochs must be >= 1, got {final_epochs}")
    require_test_split(splits)
    settings = job.settings
    directions = _directions(job)
    get_backend(settings.backend).check(settings, len(directions))
    make_pruner(settings.pruner, max_epochs=job.train.epochs)
    shape = {"in_channels": splits.in_channels, "num_classes": splits.num_classes,
             "image_size": splits.image_size}
    fresh_model(job.recipe(), **shape, seed=0)
    if job.proxy is not None:  # the transfer's network
        fresh_model({"model": job.model}, **shape, seed=0)
    if settings.storage is not None:
        check_study_directions(settings, directions)


def run_hpo(job: HPOJob, *, top_k: int = 3, final_epochs: int | None = None,
            creation_seconds: Mapping[str, float] | None = None,
            splits: DataSplits | None = None, reference: bool = True,
            decision: Any = None) -> dict[str, Any]:
    """Run (or resume) the study, transfer its top configurations to the base network and
    write ``results.json``. Returns the results.

    Args:
        job: The study's settings; ``job.proxy`` None runs trials on the base network.
        top_k: Configurations retrained on the base network.
        final_epochs: Epochs of the transfer runs (default: a trial's epochs).
        creation_seconds: The proxy's creation time by phase (front, compaction).
        splits: ``job.data`` already loaded (loaded here when None).
        reference: Also train the base network with the default hyperparameters
            (``job.train``) for the transfer's epochs, the reference the tuned result is
            judged against (``results["default"]``; not counted in the pipeline's time).
        decision: How the proxy was chosen (a :class:`~moprune.hpo.ProxyDecision`),
            recorded with its pay check.
    """
    space = SearchSpace.from_dict(job.space)
    splits = splits if splits is not None else prepare_data(job.data)
    check_hpo(job, splits, top_k=top_k, final_epochs=final_epochs)
    epochs = final_epochs or job.train.epochs
    # a full pipeline's transfer with a trial's epochs is that trial again: keep weights
    job = replace(job, keep_weights=job.proxy is None and epochs == job.train.epochs)
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
    previous = RunLayout(out).results  # a resumed run: the wall time of the earlier calls too
    if previous.is_file():
        hpo_wall += float(read_json(previous).get("time", {}).get("hpo_wall", 0.0))
    rows = trial_table(study)
    trial_seconds = float(sum(r["seconds"] or 0.0 for r in rows))

    top = _top_configs(study, top_k)
    transfer = _transfer(job, splits, top, space, epochs, out,
                         trials=rows if job.keep_weights else ())
    _drop_weights(out / "weights", keep={r["reused_trial"] for r in transfer
                                         if r.get("reused_trial") is not None}
                  | {t.number for t in _ranked(study)[:max(top_k, 3)]})
    best = max(transfer, key=lambda r: r["val_acc"]) if transfer else None
    default = None
    if reference:  # the same network trained with the default hyperparameters
        config = TrainConfig(**{**config_to_dict(job.train), "epochs": epochs})
        default = {**train_cached(out / "transfer" / "default.json", {"model": job.model}, {},
                                  config, splits, evaluate_test=True), "epochs": epochs}
    creation = dict(creation_seconds or {})
    time_split = {**{f"proxy_{k}": v for k, v in creation.items()},
                  "hpo_trials": trial_seconds,
                  "transfer": float(sum(r["seconds"] for r in transfer))}
    results = {
        "model": job.model if isinstance(job.model, str) else type(job.model).__name__,
        "proxy": _plain_recipe(job.proxy), "objectives": list(job.objectives),
        "lr_transfer": job.lr_transfer,
        "settings": asdict(job.settings), "space": job.space,
        "train": config_to_dict(job.train), "data": config_to_dict(job.data),
        "trials": rows,
        # a trial whose worker died is not a failure of its configuration: it was retried
        "counts": {**{s: sum(r["state"] == s and not interrupted(r) for r in rows)
                      for s in ("complete", "pruned", "fail", "running", "waiting")},
                   "interrupted": sum(map(interrupted, rows))},
        "transfer": transfer, "best": best,
        "time": {**time_split, "total": float(sum(time_split.values())),
                 "hpo_wall": hpo_wall},
        # which phases' results were read instead of trained: a transfer identical to a
        # finished trial costs only the evaluation of the trial's weights
        "reused": {"transfer": [{"transfer": i, "trial": r["reused_trial"]}
                                for i, r in enumerate(transfer)
                                if r.get("reused_trial") is not None]},
        "default": default,
        "proxy_decision": decision.to_dict() if decision is not None else None,
    }
    from moprune.verdicts import hpo_verdicts

    verdicts = hpo_verdicts(results)
    results["verdicts"] = [v.to_dict() for v in verdicts]
    for v in verdicts:
        (progress_line if v.ok else notice)(v.line())
    write_json(RunLayout(out).results, results)
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
              space: SearchSpace, epochs: int, out: Path, *,
              trials: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Train the base network with each configuration (cached: a resumed run does not
    train them again). A configuration that a completed trial in ``trials`` already trained
    identically (the base network, same parameters, seed and epochs; its weights kept)
    is read from the trial: only its test accuracy is measured."""
    results = []
    for i, params in enumerate(configs):
        config = space.apply(job.train, params)
        config = TrainConfig(**{**config_to_dict(config), "epochs": epochs})
        cache = out / "transfer" / f"{i}.json"
        twin = _identical_trial(trials, params, epochs, out / "weights")
        if twin is not None:
            row = _evaluate_trial(cache, {"model": job.model}, params, config, splits,
                                  twin, out / "weights" / f"trial-{twin}.pt")
        else:
            row = train_cached(cache, {"model": job.model}, params, config, splits,
                                evaluate_test=True)
        results.append({**row, "epochs": epochs})
    return results


def _identical_trial(trials: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                     epochs: int, weights: Path) -> int | None:
    """The number of a completed trial that trained ``params`` for ``epochs`` with the
    base seed and whose weights are kept, or None."""
    for t in trials:
        if (t["state"] == "complete" and t["params"] == dict(params)
                and t.get("epochs_run") == epochs and t.get("seed") is None
                and (weights / f"trial-{t['number']}.pt").is_file()):
            return int(t["number"])
    return None


def _evaluate_trial(cache: Path, recipe: Mapping[str, Any], params: Mapping[str, Any],
                    config: TrainConfig, splits: Any, trial: int, weights: Path
                    ) -> dict[str, Any]:
    """A transfer read from trial ``trial``: its weights (the file ``weights``) loaded
    into the base network and evaluated on the validation and test splits (cached like a
    training)."""
    from moprune.training.loop import evaluate, resolve_device

    if cache.is_file():
        saved = read_json(cache)
        if saved.get("params") == dict(params) and saved.get("reused_trial") == trial:
            return saved
    t0 = time.perf_counter()
    device = resolve_device(config.device)
    net = fresh_model(recipe, in_channels=splits.in_channels, num_classes=splits.num_classes,
                      image_size=splits.image_size, seed=config.seed)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.to(device)
    _, val_acc = evaluate(net, splits.loader("val", device=device))
    _, test_acc = evaluate(net, splits.loader("test", device=device))
    row = {"params": dict(params), "val_acc": val_acc, "test_acc": test_acc,
           "seconds": time.perf_counter() - t0, "reused_trial": trial}
    write_json(cache, row)
    return row


def _drop_weights(folder: Path, keep: set[int]) -> None:
    """Delete kept trial weights that no transfer can need: a resumed study's top trials
    are among these or new."""
    if not folder.is_dir():
        return
    for f in folder.glob("trial-*.pt"):
        if int(f.stem.split("-", 1)[1]) not in keep:
            f.unlink(missing_ok=True)


def train_cached(cache: Path, recipe: Mapping[str, Any], params: Mapping[str, Any],
                 config: TrainConfig, splits: Any, *, evaluate_test: bool = False,
                 mup_base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train a fresh network of ``recipe`` with ``config`` (``params`` its tuned values),
    or read the result back from ``cache`` when it was made with the same ``params``,
    seed and learning-rate transfer. ``mup_base``: the base network's shapes, for muP's
    per-layer factors (:mod:`moprune.hpo.lr_transfer`). A diverged training scores
    validation accuracy 0 (it ranks last) with its reason."""
    lr_transfer = "mup" if mup_base is not None else "none"
    if cache.is_file():
        saved = read_json(cache)
        if (saved.get("params") == dict(params)
                and saved.get("seed", config.seed) == config.seed
                and saved.get("lr_transfer", "none") == lr_transfer):
            return saved
    net = fresh_model(recipe, in_channels=splits.in_channels, num_classes=splits.num_classes,
                      image_size=splits.image_size, seed=config.seed)
    solver = (mup_solver(net, mup_base, optimizer=config.optimizer)
              if mup_base is not None else None)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"params": dict(params), "seed": config.seed,
                           "lr_transfer": lr_transfer}
    try:
        r = train(net, splits, config, evaluate_test=evaluate_test, progress=False,
                  solver=solver)
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
