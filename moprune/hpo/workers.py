"""Worker processes of a study: started, watched (a killed one is reaped at once and its trial
retried), stopped with the parent."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from typing import Any

import optuna
import torch

from moprune.data import DataSplits, prepare_data
from moprune.data.tensors import TENSORS_PREFIX
from moprune.errors import MopruneError
from moprune.hpo.job import HPOJob, job_objective
from moprune.hpo.objective import (
    OBJECTIVES,
)
from moprune.hpo.recovery import recover_dead_trials, wait_for
from moprune.hpo.space import SearchSpace
from moprune.hpo.study import open_study, work
from moprune.progress import notice

__all__ = ["job_directions", "run_workers"]

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
    objective = job_objective(job, splits)
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
            study = open_study(job.settings, job.out, directions=job_directions(job),
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


def job_directions(job: HPOJob) -> list[str]:
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
