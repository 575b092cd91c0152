"""Studies in Optuna storage, run by one or many workers, with Optuna's or pymoo's algorithms.

Storage:
- default: a journal file in the run directory (``study.journal``; file locks, no server).
  A worker killed mid-trial leaves its trial RUNNING; the next worker on the same host
  sees that its process is gone, fails the trial and enqueues the same parameters again.
- ``sqlite:///...`` or ``postgresql://...``: Optuna's RDB storage with heartbeats. Workers
  on other machines join by running the same command with the same URL; a trial whose
  worker stops beating for ``grace`` seconds is failed and retried by the next worker.

A study of N trials stops when N trials are finished or running. Finished trials are
never rerun: running the command again resumes. A trial whose training diverged ends
FAIL (with its reason in the ``failure`` attribute) and counts; a trial failed because
its worker died does not count and is retried.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from moprune.errors import ConfigError, DivergedError
from moprune.hpo.objective import TrialObjective
from moprune.hpo.recovery import (
    _Surplus,
    _worker_id,
    awaiting_retry,
    counted,
    counted_before,
    recover_dead_trials,
)
from moprune.hpo.storage import _storage, check_storage
from moprune.io import WriteError
from moprune.names import BACKENDS, PRUNERS, SAMPLERS
from moprune.progress import bar, progress_line
from moprune.validation import bounded, check_ranges

__all__ = ["BACKENDS", "PRUNERS", "SAMPLERS", "StudySettings", "make_pruner", "make_sampler",
           "open_study", "work"]



@dataclass(frozen=True)
class StudySettings:
    """How a study samples, prunes and where it is stored."""

    backend: str = "optuna"
    sampler: str = ""  # "": the backend's default, its first (tpe, ga, uniform)
    pruner: str = "none"
    trials: int = bounded(20, ge=1)
    seed: int = bounded(0, ge=0)
    storage: str | None = None  # None: journal file in the run directory
    study: str = "moprune"
    workers: int = bounded(1, ge=1)
    grace: int = bounded(60, ge=1)  # seconds without a heartbeat before an RDB trial is
    #                                 retried

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if not self.sampler:  # the backend's default
            object.__setattr__(self, "sampler", BACKENDS[self.backend][0])
        if self.sampler not in BACKENDS[self.backend]:
            raise ConfigError(f"the {self.backend} backend's samplers are "
                              f"{list(BACKENDS[self.backend])}, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"pruner must be one of {list(PRUNERS)}, got {self.pruner!r}")
        if self.backend == "pymoo" and self.pruner != "none":
            raise ConfigError("pymoo's algorithms need every evaluation finished: "
                              "use --pruner none with --backend pymoo")
        check_ranges(self)
        if self.storage is not None:
            check_storage(self.storage)


def make_sampler(name: str, *, seed: int, multi: bool = False) -> optuna.samplers.BaseSampler:
    """Optuna sampler by name (``nsga2`` and ``tpe`` also serve multi-objective studies)."""
    if multi and name not in ("tpe", "nsga2", "random"):
        raise ConfigError(f"sampler {name!r} is single-objective; multi-objective studies "
                          "take tpe, nsga2 or random")
    with warnings.catch_warnings():  # multivariate TPE and QMC are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _sampler(name, seed)


#: Optuna samplers by name: each builds one from the study's seed (the names the command
#: line offers are :data:`moprune.names.SAMPLERS`; a test keeps the two alike).
SAMPLER_FACTORIES: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed,
                                                       warn_independent_sampling=False),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "qmc": lambda seed: optuna.samplers.QMCSampler(seed=seed, scramble=True),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
}

#: Optuna trial pruners by name, each built from a trial's most epochs (resources are
#: epochs; :data:`moprune.names.PRUNERS`).
PRUNER_FACTORIES: dict[str, Callable[[int], optuna.pruners.BasePruner]] = {
    "hyperband": lambda max_epochs: optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=max_epochs, reduction_factor=3),
    "successive-halving": lambda max_epochs: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3),
    "median": lambda max_epochs: optuna.pruners.MedianPruner(n_startup_trials=5,
                                                             n_warmup_steps=1),
    "none": lambda max_epochs: optuna.pruners.NopPruner(),
}


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name not in SAMPLER_FACTORIES:
        raise ConfigError(f"sampler must be one of {list(SAMPLERS)}, got {name!r}")
    return SAMPLER_FACTORIES[name](seed)


def make_pruner(name: str, *, max_epochs: int) -> optuna.pruners.BasePruner:
    """Trial pruner by name; resources are epochs."""
    if name not in PRUNER_FACTORIES:
        raise ConfigError(f"pruner must be one of {list(PRUNERS)}, got {name!r}")
    return PRUNER_FACTORIES[name](max_epochs)


def open_study(settings: StudySettings, run_dir: str | os.PathLike[str], *,
               directions: Sequence[str], max_epochs: int, worker: int = 0) -> optuna.Study:
    """Create or load the study (same name, same storage: the same study)."""
    multi = len(directions) > 1
    pruner = make_pruner(settings.pruner, max_epochs=max_epochs)
    storage = _storage(settings.storage, Path(run_dir), settings.grace)
    study = optuna.create_study(study_name=settings.study, storage=storage, pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=settings.seed),
                                directions=[str(d) for d in directions],  # type: ignore[misc]
                                load_if_exists=True)
    if [d.name.lower() for d in study.directions] != [d.lower() for d in directions]:
        raise ConfigError(f"study {settings.study!r} in this storage optimises "
                          f"{[d.name.lower() for d in study.directions]}, not {list(directions)}")
    if settings.backend == "optuna":  # (pymoo proposes; its studies' sampler is never used)
        sampler = make_sampler(settings.sampler, seed=settings.seed, multi=multi)
        # qmc: one scrambled sequence for the whole study (its position is kept in the
        # storage, so workers and resumed runs take the next points of it)
        study.sampler = sampler if settings.sampler == "qmc" else TrialSeededSampler(
            lambda seed: make_sampler(settings.sampler, seed=seed, multi=multi),
            seed=settings.seed, worker=worker)
    return study


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """A sampler made afresh for every trial, seeded by the study's seed, the worker and
    how many counted trials come before it (:func:`counted`).

    So one worker's study proposes the same configurations whether or not it was killed
    and resumed: a trial of a dead worker does not count, and its retry takes its place
    (until the retry is written, the dead trial keeps its place: :func:`awaiting_retry`);
    every sampler moprune offers reads its state from the study, not from itself.
    Several workers each draw their own stream (their order of finishing varies, so
    their studies are not reproducible trial for trial).
    """

    def __init__(self, make: Callable[[int], optuna.samplers.BaseSampler], *, seed: int,
                 worker: int = 0) -> None:
        self._make, self._seed, self._worker = make, seed, worker
        self._inner = make(seed)

    def _key(self, study: optuna.Study, trial: FrozenTrial) -> int:
        trials = study.get_trials(deepcopy=False)
        before = (counted_before(trials, trial.number)
                  + awaiting_retry(study, trials, trial.number))
        return (self._seed * 1_000_003 + self._worker * 10_007 + before) % (2**32)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._inner = self._make(self._key(study, trial))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, Any]:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._inner.after_trial(study, trial, state, values)


def _trial_line(study: optuna.Study, trial: FrozenTrial) -> None:
    """A progress line for a finished trial (not for a surplus one)."""
    if trial.user_attrs.get("surplus"):
        return
    values = ("" if not trial.values else
              ", values " + ", ".join(f"{v:.4g}" for v in trial.values))
    secs = (f", {(trial.datetime_complete - trial.datetime_start).total_seconds():.0f} s"
            if trial.datetime_complete and trial.datetime_start else "")
    params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in trial.params.items())
    progress_line(f"{study.study_name} trial {trial.number}: {trial.state.name.lower()}"
                  f"{values}{secs} ({params})")


def work(study: optuna.Study, objective: TrialObjective, budget: int | Callable[[], int],
         *, only_enqueued: bool = False, progress: bool | None = None) -> None:
    """Run trials until ``budget`` trials count (see :func:`counted`).

    Args:
        budget: The number of trials, or a callable giving it (pymoo's driver raises it
            one population at a time).
        only_enqueued: Run only enqueued trials (pymoo's populations, a sensitivity
            grid's cells); stop when none is waiting.
        progress: A progress bar over the counted trials (None: on a terminal, when
            progress lines are off; worker processes pass False).
    """
    def total() -> int:
        return budget() if callable(budget) else budget

    def guarded(trial: optuna.Trial) -> Any:
        trial.set_user_attr("worker", _worker_id())
        trials = study.get_trials(deepcopy=False)
        mine = next(t for t in trials if t.number == trial.number)
        # the budget goes to the lowest-numbered trials: of two workers that start the
        # last trial at once, exactly one runs it (each sees the other's, only one is
        # below the other)
        if counted_before(trials, trial.number) >= total() or (
                only_enqueued and "eval_index" not in mine.user_attrs):
            trial.set_user_attr("surplus", True)
            raise _Surplus()
        return objective(trial)

    shown = bar(total(), desc=study.study_name, unit="trial", enabled=progress)
    try:
        _work(study, guarded, total, objective, only_enqueued, shown)
    finally:
        shown.close()


def _work(study: optuna.Study, guarded: Callable[[optuna.Trial], Any],
          total: Callable[[], int], objective: TrialObjective, only_enqueued: bool,
          shown: Any) -> None:
    """The loop of :func:`work`: one trial at a time until the budget counts."""
    while True:
        recover_dead_trials(study, len(objective.space))
        trials = study.get_trials(deepcopy=False)
        done = sum(counted(t) and t.state.is_finished() for t in trials)
        shown.total, shown.n = max(total(), done), done
        shown.refresh()
        waiting = any(t.state == TrialState.WAITING for t in trials)
        if only_enqueued and not waiting:
            return
        if not waiting and sum(counted(t) for t in trials) >= total():
            return
        try:
            study.optimize(guarded, n_trials=1, catch=(DivergedError, _Surplus),
                           callbacks=[_trial_line])
        except AssertionError as e:  # Optuna's "Should not reach" over a failed tell
            failed = _write_failure(e)
            if failed is None:
                raise
            raise failed from None  # the trial stays RUNNING: recovered on the rerun
        last = study.get_trials(deepcopy=False)[-1]
        if last.user_attrs.get("surplus"):
            if only_enqueued:
                continue
            return


def _write_failure(error: BaseException) -> WriteError | None:
    """The :class:`~moprune.io.WriteError` behind ``error`` (its chain of causes and
    contexts), if any."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, WriteError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


