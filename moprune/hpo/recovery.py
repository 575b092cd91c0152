"""Trials that count, and trials of a dead worker: found, failed and enqueued again (once), so
that a killed worker costs its trial only."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from moprune.hpo.storage import _MAX_RETRY

__all__ = ["awaiting_retry", "counted", "counted_before", "recover_dead_trials", "wait_for"]


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
