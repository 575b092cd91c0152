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

import contextlib
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from moprune.errors import ConfigError, DivergedError
from moprune.hpo.objective import TrialObjective
from moprune.hpo.space import SearchSpace
from moprune.io import WriteError, write_failed
from moprune.layout import RunLayout
from moprune.names import BACKENDS, PRUNERS, SAMPLERS
from moprune.progress import bar, progress_line
from moprune.validation import bounded, check_ranges

__all__ = ["BACKENDS", "PRUNERS", "SAMPLERS", "StudySettings", "awaiting_retry",
           "check_study_directions", "counted", "make_pruner", "make_sampler", "open_study",
           "recover_dead_trials", "run_pymoo", "work"]

_HEARTBEAT_S = 10
_MAX_RETRY = 3  # RDB storage: how many times Optuna's heartbeat retries a stale trial
_POP_SIZE = 8


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


def check_storage(url: str) -> None:
    """The syntax of a storage: a ``*.journal`` file whose folder exists, or a sqlite://
    (whose file's folder exists), postgresql:// or mysql:// URL (one line naming the value
    otherwise). Whether a server answers is :func:`check_study_directions`' part."""
    from moprune.validation import check_in_dir, check_out_file

    if url.endswith(".journal"):
        check_in_dir(Path(url).expanduser().parent, flag=f"--storage {url!r}: its folder")
        check_out_file(url, flag="--storage")
        return
    if not url.startswith(("sqlite://", "postgresql://", "postgresql+", "mysql://",
                           "mysql+")):
        raise ConfigError(f"--storage must be a sqlite://, postgresql:// or mysql:// URL "
                          f"or a *.journal file, got {url!r}")
    if url.startswith("sqlite:///"):
        file = url[len("sqlite:///"):].split("?", 1)[0]
        if file and file != ":memory:":
            check_in_dir(Path(file).expanduser().parent or Path("."),
                         flag=f"--storage {url!r}: its folder")


def check_study_directions(settings: StudySettings, directions: Sequence[str]) -> None:
    """Open ``settings.storage`` (a given one, not the default journal: a server must
    answer) and refuse a study of the same name there that optimises other
    ``directions``. Creates no study, and no file that does not exist yet.

    Raises:
        ConfigError: naming the storage or the study.
    """
    url = settings.storage
    if url is None:
        return
    local = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else (
        url if url.endswith(".journal") else None)
    if local is not None and local != ":memory:" and not Path(local).expanduser().exists():
        return  # a file not made yet holds no study (and opening it would make it)
    storage = _storage(url, Path("."), settings.grace)
    try:
        study_id = storage.get_study_id_from_name(settings.study)
    except KeyError:
        return
    have = [d.name.lower() for d in storage.get_study_directions(study_id)]
    if have != [d.lower() for d in directions]:
        raise ConfigError(f"study {settings.study!r} in this storage optimises {have}, not "
                          f"{list(directions)}")


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


class _WholeLinesJournal(JournalFileBackend):
    """Optuna's journal file, whose appends are whole lines or nothing: a write that fails
    (a full disk) is cut off again under the journal's lock, so that no half line stays
    for the next append to be glued to (which would make the whole journal unreadable),
    and is raised as one :class:`~moprune.io.WriteError` naming the file."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        self._lock.acquire()
        try:
            size = os.path.getsize(self._file_path)
            try:
                with open(self._file_path, "ab") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                os.truncate(self._file_path, size)
                raise write_failed(self._file_path, e) from e
        finally:
            self._lock.release()


def _storage(url: str | None, run_dir: Path, grace: int) -> optuna.storages.BaseStorage:
    if url is None or url.endswith(".journal"):
        if url is None:
            run_dir.mkdir(parents=True, exist_ok=True)
        path = str(RunLayout(run_dir).study_journal) if url is None else url
        try:
            return optuna.storages.JournalStorage(_WholeLinesJournal(path))
        except OSError as e:  # creating the file, or the study's first record
            raise write_failed(path, e) from e
    check_storage(url)
    try:
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=_HEARTBEAT_S, grace_period=grace,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=_MAX_RETRY))
    except Exception as e:  # sqlalchemy / driver errors: one line, not a traceback
        raise ConfigError(f"cannot open storage {url!r}: {type(e).__name__}: "
                          f"{str(e).splitlines()[0]}") from None


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


def counted(trial: FrozenTrial) -> bool:
    """Whether a trial uses up the study's budget: finished, running or waiting; failed only
    when its training failed (a trial of a dead worker or a surplus trial does not count,
    the latter not even while it is still running)."""
    if trial.user_attrs.get("surplus"):
        return False
    if trial.state == TrialState.FAIL:
        return "failure" in trial.user_attrs
    return True


def counted_before(trials: Sequence[FrozenTrial], number: int) -> int:
    """How many counted trials have a number below ``number``."""
    return sum(counted(t) for t in trials if t.number < number)


def _retried(trial: FrozenTrial) -> int | None:
    """The number of the trial that ``trial`` retries, if it is a retry: of moprune's
    journal recovery (``retry_of``) or of Optuna's heartbeat callback (``retry_history``)."""
    if "retry_of" in trial.user_attrs:
        return int(trial.user_attrs["retry_of"])
    history = trial.system_attrs.get("retry_history")
    return int(history[-1]) if history else None


def awaiting_retry(study: optuna.Study, trials: Sequence[FrozenTrial], number: int) -> int:
    """How many trials below ``number`` were failed because their worker died and are to
    be enqueued again, with no retry below ``number`` yet.

    A dead worker's trial is failed first and its retry written just after (by
    :func:`recover_dead_trials`, or by Optuna's heartbeat callback). A trial another worker
    starts in between must not take the dead trial's place in the sampler's seeds: it
    would draw the very configuration the retry then trains again."""
    journal = isinstance(study._storage, optuna.storages.JournalStorage)
    below = [t for t in trials if t.number < number]
    retried = {_retried(t) for t in below}
    return sum(_owes_retry(t, retried, journal=journal) for t in below)


def _owes_retry(trial: FrozenTrial, retried: set[int | None], *, journal: bool) -> bool:
    """Whether ``trial`` failed because its worker died, is to be enqueued again, and is
    not in ``retried`` (the trials that have a retry)."""
    if (trial.state != TrialState.FAIL or counted(trial) or trial.user_attrs.get("surplus")
            or trial.number in retried):
        return False
    if journal or trial.user_attrs.get("interrupted"):  # recover_dead_trials says so
        #                                                  before it fails the trial
        return bool(trial.user_attrs.get("interrupted") and trial.user_attrs.get("retry"))
    # RDB: Optuna's heartbeat retries a stale trial up to _MAX_RETRY times (a trial
    # stopped by Ctrl-C looks the same there: it only shifts the seeds after it)
    return len(trial.system_attrs.get("retry_history", ())) < _MAX_RETRY


class _Surplus(Exception):
    """A worker asked for a trial after the budget was used up (a race between workers)."""


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_trials(study: optuna.Study, n_params: int | None = None, *,
                        pids: Collection[int] = ()) -> int:
    """Journal storage has no heartbeats: fail the RUNNING trials of dead processes of this
    host (marked ``interrupted``; they do not count) and enqueue their parameters again
    when all ``n_params`` were drawn (a trial killed while its parameters were being drawn
    is not retried with half of them: the next trial draws all afresh). Returns how many
    were recovered. ``pids``: processes of this host known to be dead (reaped by the
    caller); their trials are recovered on any storage, without waiting for a heartbeat.

    One worker recovers at a time (a lock file beside the journal, which the system
    releases when its holder dies). So the failure and the retry of a trial are written by
    one worker, and a retry that a recovering worker did not live to write (killed between
    the two writes) is written by the next one: no configuration is left without its
    retry, and none gets two."""
    journal = isinstance(study._storage, optuna.storages.JournalStorage)
    if not journal and not pids:
        return 0
    host = socket.gethostname()
    recovered = 0
    storage = study._storage
    lock = (_recovery_lock(storage) if isinstance(storage, optuna.storages.JournalStorage)
            else contextlib.nullcontext())
    with lock:
        trials = study.get_trials(deepcopy=False)
        retried = {_retried(t) for t in trials}
        for t in trials:
            if t.state == TrialState.FAIL:  # failed by a recovering worker that then died
                if journal and _owes_retry(t, retried, journal=True):
                    _enqueue_retry(study, t)
                    recovered += 1
                continue
            owner = str(t.user_attrs.get("worker", ""))
            name, _, pid = owner.rpartition(":")
            if (t.state != TrialState.RUNNING or name != host or not pid.isdigit()
                    or (int(pid) not in pids and (not journal or _pid_alive(int(pid))))):
                continue
            retry = bool(t.system_attrs.get("fixed_params") or n_params is None
                         or len(t.params) == n_params)
            try:
                study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
                study._storage.set_trial_user_attr(t._trial_id, "retry", retry)
                study.tell(t.number, state=TrialState.FAIL)
            except (RuntimeError, ValueError):  # finished meanwhile (a journal without lock)
                continue
            if retry:
                _enqueue_retry(study, t)
            recovered += 1
    return recovered


def _enqueue_retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue ``trial``'s parameters again (an enqueued trial's whole fixed parameters)."""
    attrs = {k: v for k, v in trial.user_attrs.items() if k in ("eval_index", "seed")}
    study.enqueue_trial(dict(trial.system_attrs.get("fixed_params") or trial.params),
                        user_attrs={**attrs, "retry_of": trial.number})


@contextlib.contextmanager
def _recovery_lock(storage: optuna.storages.JournalStorage) -> Iterator[None]:
    """Hold an exclusive lock on ``JOURNAL.recover.lock`` (none for a journal that is not
    a file, or where ``fcntl`` is missing)."""
    path = getattr(getattr(storage, "_backend", None), "_file_path", None)
    try:
        import fcntl
    except ImportError:  # not POSIX
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    with open(f"{path}.recover.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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


def check_pymoo_sampler(sampler: str, objectives: int) -> None:
    """pymoo's nsga2 needs several objectives, ga and de one.

    Raises:
        ConfigError: naming the sampler and the number of objectives.
    """
    if (sampler == "nsga2") != (objectives > 1):
        raise ConfigError("pymoo's nsga2 is for several objectives, ga and de for one "
                          f"(this study has {objectives})")


def run_pymoo(study: optuna.Study, objective: TrialObjective, settings: StudySettings,
              space: SearchSpace, *, run_workers: Callable[[int], None]) -> None:
    """Drive pymoo's GA, DE or NSGA-II by ask and tell; every evaluation is an Optuna trial.

    Each population is enqueued as trials (``eval_index`` = evaluation number) and run by
    ``run_workers(budget)``; the values go back to pymoo. pymoo is seeded, so a resumed
    run asks the same points again and takes finished trials' values instead of
    training them again.
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.soo.nonconvex.de import DE
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import Problem

    n_obj = len(objective.objectives)
    check_pymoo_sampler(settings.sampler, n_obj)
    pop = _POP_SIZE  # fixed, so that a resumed run with a larger budget asks the same points
    algorithm = {"ga": lambda: GA(pop_size=pop, eliminate_duplicates=True),
                 "de": lambda: DE(pop_size=pop),
                 "nsga2": lambda: NSGA2(pop_size=pop)}[settings.sampler]()
    problem = Problem(n_var=len(space), n_obj=n_obj, xl=0.0, xu=1.0)
    algorithm.setup(problem, termination=("n_eval", settings.trials), seed=settings.seed,
                    verbose=False)
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in objective.directions])
    evaluated = 0
    while algorithm.has_next():
        population = algorithm.ask()
        xs = population.get("X")
        xs = xs[: settings.trials - evaluated]
        if len(xs) == 0:
            break
        done = _by_eval_index(study)
        for k, x in enumerate(xs):
            if evaluated + k in done:
                _check_same(done[evaluated + k], space.decode(x))
            else:
                study.enqueue_trial(space.decode(x), user_attrs={"eval_index": evaluated + k},
                                    skip_if_exists=False)
        run_workers(evaluated + len(xs))
        done = _by_eval_index(study)
        f = np.array([_values(done.get(evaluated + k), objective.directions)
                      for k in range(len(xs))])
        evaluated += len(xs)
        population = population[: len(xs)]
        population.set("F", f * signs)
        algorithm.tell(infills=population)


def _check_same(trial: FrozenTrial, params: dict[str, Any]) -> None:
    """A resumed pymoo run must ask what it asked before (same seed, algorithm, space)."""
    same = all(np.isclose(trial.params[k], v) if isinstance(v, float) else trial.params[k] == v
               for k, v in params.items() if k in trial.params)
    if not same or set(trial.params) != set(params):
        raise ConfigError(f"trial {trial.number} of this study was asked with other "
                          "parameters: resume a pymoo study with the same seed, algorithm "
                          "and space")


def _by_eval_index(study: optuna.Study) -> dict[int, FrozenTrial]:
    """Finished trials of pymoo's evaluations, by evaluation number (retries included)."""
    out = {}
    for t in study.get_trials(deepcopy=False):
        if "eval_index" in t.user_attrs and (t.state == TrialState.COMPLETE or (counted(t)
                                             and t.state == TrialState.FAIL)):
            out[int(t.user_attrs["eval_index"])] = t
    return out


def _values(trial: FrozenTrial | None, directions: Sequence[str]) -> list[float]:
    """A trial's objective values for pymoo; a failed trial gets the worst values (accuracy
    0, an enormous time or size)."""
    if trial is None or trial.state != TrialState.COMPLETE:
        return [0.0 if d == "maximize" else 1e12 for d in directions]
    return list(trial.values)


def wait_for(processes: Sequence[Any], *, poll: float = 0.5,
             on_failure: Callable[[int, Any], None] | None = None) -> list[int]:
    """Wait for worker processes, reaping each as soon as it ends (every poll asks each
    process, so none stays a zombie while another runs). ``on_failure(index, process)`` is
    called once for each that ends with a non-zero exit code or a signal, while the others
    go on. Returns the indices of those that failed."""
    failed: list[int] = []
    while True:
        codes = [p.exitcode for p in processes]  # each call reaps a process that ended
        for i, code in enumerate(codes):
            if code not in (0, None) and i not in failed:
                failed.append(i)
                if on_failure is not None:
                    on_failure(i, processes[i])
        if all(code is not None for code in codes):
            return failed
        time.sleep(poll)
