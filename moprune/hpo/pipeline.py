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

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from moprune.config import TrainConfig, config_to_dict
from moprune.data import DataSplits, prepare_data
from moprune.errors import ConfigError
from moprune.hpo.backends import get_backend
from moprune.hpo.job import HPOJob, job_objective
from moprune.hpo.objective import (
    fresh_model,
)
from moprune.hpo.sources import proxy_source, uniform_proxy
from moprune.hpo.space import SearchSpace
from moprune.hpo.storage import check_study_directions
from moprune.hpo.study import make_pruner, open_study
from moprune.hpo.transfer import drop_weights, train_cached, transfer_top
from moprune.hpo.workers import job_directions, run_workers
from moprune.io import read_json, write_json
from moprune.layout import RunLayout
from moprune.progress import notice, progress_line

__all__ = ["HPOJob", "check_hpo", "interrupted", "proxy_source", "run_hpo", "run_workers",
           "trial_table", "uniform_proxy"]




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
    directions = job_directions(job)
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
    objective = job_objective(job, splits)
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
    transfer = transfer_top(job, splits, top, space, epochs, out,
                         trials=rows if job.keep_weights else ())
    drop_weights(out / "weights", keep={r["reused_trial"] for r in transfer
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
