"""Faults under load: two `moprune hpo` workers on one journal, one SIGKILLed and restarted.

Worker A runs the study to its end. Worker B runs the same command beside it and is
killed with SIGKILL every few seconds once it has started a trial (at any moment after:
while a trial trains, while it draws its parameters, while it writes the journal), then
started again, until A is done. Should A end counting a trial B is then killed in, the
command is run once more, as a user would after a crash (``resumed`` in the counts).
The study must then hold exactly ``--trials`` counted trials, every interrupted trial that
had drawn its parameters retried once, and no configuration trained twice.

    python benchmarks/hpo_faults.py --out runs/hpo-faults            # real Fashion-MNIST
    python benchmarks/hpo_faults.py --data-root DIR --out runs/x     # other IDX files

With ``--workers``, one ``moprune hpo --workers 2`` command instead, whose workers are
SIGKILLed ``--kills`` times at random (the command itself when none is left, then started
again): it must exit 0 with exactly the budget counted, nothing trained twice, every
killed worker reaped within 2 s and no zombie in ``ps``.

    python benchmarks/hpo_faults.py --workers --kills 5 --kill-every 4 --out runs/x

Prints the counts and writes ``faults.json`` in the run directory; exits 1 when a check
fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def hpo_command(out: Path, *, trials: int, data_root: str | None, limit_train: int,
                epochs: int) -> list[str]:
    cmd = [sys.executable, "-m", "moprune.cli", "hpo", "--model", "mlp", "--proxy", "none",
           "--limit-train", str(limit_train), "--limit-eval", "500", "--epochs", str(epochs),
           "--trials", str(trials), "--top-k", "1", "--seed", "0", "--out", str(out)]
    return cmd + (["--data-root", data_root] if data_root else [])


def run_faults(out: Path, *, trials: int = 20, kill_every: float = 8.0,
               data_root: str | None = None, limit_train: int = 3000, epochs: int = 2,
               timeout: float = 600.0, kills_alone: int = 0) -> dict[str, Any]:
    """Run the two workers (B killed every ``kill_every`` seconds); return the counts.

    ``kills_alone``: B runs alone, and is killed as soon as it holds a trial, that many
    times before A starts, so that a study on a fast machine cannot end before it has been
    hit."""
    if out.exists():
        shutil.rmtree(out)
    cmd = hpo_command(out, trials=trials, data_root=data_root, limit_train=limit_train,
                      epochs=epochs)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    rng = random.Random(0)  # kill times jitter (0.5 to 1.5 x kill_every): every phase is hit
    kills, restarts, start = 0, 0, time.monotonic()
    a: subprocess.Popen | None = None
    if not kills_alone:
        a = subprocess.Popen(cmd, **quiet)  # type: ignore[call-overload]
    b = subprocess.Popen(cmd, **quiet)  # type: ignore[call-overload]
    while a is None or a.poll() is None:
        if time.monotonic() - start > timeout:
            for worker in (a, b):
                if worker is not None:
                    worker.kill()
            raise RuntimeError(f"worker A did not finish in {timeout:.0f} s")
        born = time.monotonic()
        _wait_for_trial_of(out, b, a)  # a kill in start-up would test nothing
        if a is not None:  # alone, B is killed in its first trial, however short
            time.sleep(max(0.0, born + kill_every * rng.uniform(0.5, 1.5) - time.monotonic()))
        if b.poll() is None and (a is None or a.poll() is None):  # once A is done, B ends
            b.kill()  # SIGKILL
            kills += 1
        b.wait()
        if a is None and (kills >= kills_alone or b.returncode == 0):
            a = subprocess.Popen(cmd, **quiet)  # type: ignore[call-overload]
        if a is None or a.poll() is None:
            b = subprocess.Popen(cmd, **quiet)  # type: ignore[call-overload]
            restarts += 1
    b.wait()
    if a.returncode != 0:
        raise RuntimeError(f"worker A failed: {a.stderr.read() if a.stderr else ''}")
    resumed = False
    if check_study(out, trials)["still_running_or_waiting"]:
        # A ended counting B's running trial, and B was killed in it just after: the study
        # is left as after any crash, and the user's next run of the command finishes it
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        resumed = True
    return {**check_study(out, trials), "kills": kills, "restarts": restarts,
            "resumed": resumed, "seconds": time.monotonic() - start}


def _wait_for_trial_of(out: Path, worker: subprocess.Popen,
                       other: subprocess.Popen | None) -> None:
    """Wait until ``worker`` has started a trial of the study in ``out`` (or either worker
    has ended): kills then land in trials or between them, never in start-up, so the number
    of kills does not depend on how fast a machine imports torch."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    journal = out / "study.journal"
    while worker.poll() is None and (other is None or other.poll() is None):
        if journal.exists():
            try:
                storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
                trials = optuna.load_study(study_name="moprune",
                                           storage=storage).get_trials(deepcopy=False)
            except (KeyError, ValueError):  # the study is not created yet, a line half written
                trials = []
            if any(str(t.user_attrs.get("worker", "")).endswith(f":{worker.pid}")
                   for t in trials):
                return
        time.sleep(0.1)


def _children(pid: int) -> list[tuple[int, str, str]]:
    """The child processes of ``pid``: (pid, state letter, command line)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # ended meanwhile
            continue
        state, ppid = text.rsplit(") ", 1)[1].split()[:2]
        if int(ppid) == pid:
            out.append((int(stat.parent.name), state, cmd))
    return out


def _workers(pid: int) -> list[int]:
    """The live HPO worker processes of the command ``pid`` (spawned, not its resource
    tracker)."""
    return [c for c, state, cmd in _children(pid) if "spawn_main" in cmd and state != "Z"]


def zombies() -> list[str]:
    """Every zombie process of this machine that a moprune command left (``ps``)."""
    ps = subprocess.run(["ps", "-eo", "stat=,pid=,ppid=,args="], capture_output=True,
                        text=True).stdout
    return [line.strip() for line in ps.splitlines()
            if line.strip().startswith("Z") and ("python" in line or "moprune" in line)]


def run_worker_kills(out: Path, *, trials: int = 20, kills: int = 5, kill_every: float = 4.0,
                     data_root: str | None = None, limit_train: int = 3000, epochs: int = 2,
                     seed: int = 0, timeout: float = 900.0) -> dict[str, Any]:
    """`moprune hpo --workers 2`, SIGKILLed ``kills`` times: each kill, about
    ``kill_every`` seconds (0.5-1.5x, seeded) after a worker of the command holds a trial,
    hits one of its live workers at random, or the command itself when no worker is left
    (then the same command is started again, as a user would). Returns the study's counts,
    the kills, the last command's exit code, and the zombies ``ps`` shows at the end."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [*hpo_command(out, trials=trials, data_root=data_root, limit_train=limit_train,
                        epochs=epochs), "--workers", "2"]
    rng = random.Random(seed)
    landed: list[dict[str, Any]] = []
    reaped_late: list[int] = []
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    while len(landed) < kills and time.monotonic() - start < timeout:
        _wait_for_trial_of_group(out, proc)
        time.sleep(kill_every * rng.uniform(0.5, 1.5))
        if proc.poll() is not None:
            break  # the study ended first
        workers = _workers(proc.pid)
        if workers:
            victim = rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            landed.append({"worker": victim, "at_s": round(time.monotonic() - start, 1)})
            time.sleep(2.0)  # the parent polls every 0.5 s
            if any(c == victim for c, _, _ in _children(proc.pid)):
                reaped_late.append(victim)  # still a zombie of the parent
        else:  # no worker left: the parent finishes the study itself; kill it, rerun
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            landed.append({"command": proc.pid, "at_s": round(time.monotonic() - start, 1)})
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
    _, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - start)))
    return {**check_study(out, trials), "kills": landed, "kill_count": len(landed),
            "exit_code": proc.returncode, "stderr": err.strip().splitlines(),
            "not_reaped_within_2s": reaped_late, "zombies": zombies(),
            "seconds": time.monotonic() - start}


def _wait_for_trial_of_group(out: Path, proc: subprocess.Popen) -> None:
    """Wait until a worker of the command ``proc`` (or the command itself) holds a trial."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    while proc.poll() is None:
        pids = {proc.pid, *(c for c, _, _ in _children(proc.pid))}
        if (out / "study.journal").exists():
            try:
                storage = optuna.storages.JournalStorage(
                    JournalFileBackend(str(out / "study.journal")))
                trials = optuna.load_study(study_name="moprune",
                                           storage=storage).get_trials(deepcopy=False)
            except (KeyError, ValueError):
                trials = []
            if any(t.state.name == "RUNNING" and str(t.user_attrs.get("worker", "")).rpartition(
                    ":")[2] in {str(p) for p in pids} for t in trials):
                return
        time.sleep(0.1)


def check_study(out: Path, trials: int) -> dict[str, Any]:
    """The counts of the study in ``out``'s journal, and whether they are right."""
    import optuna
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    from moprune.hpo.recovery import counted

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    study = optuna.load_study(study_name="moprune", storage=storage)
    ts = study.get_trials(deepcopy=False)
    complete = [t for t in ts if t.state == TrialState.COMPLETE]
    interrupted = [t for t in ts if t.user_attrs.get("interrupted")]
    retried = Counter(t.user_attrs["retry_of"] for t in ts if "retry_of" in t.user_attrs)
    whole = [t for t in interrupted if len(t.params) == len(complete[0].params)] if complete \
        else []
    twice = [p for p, n in Counter(json.dumps(t.params, sort_keys=True)
                                   for t in complete).items() if n > 1]
    counts = {
        "trials_asked": trials,
        "counted": sum(counted(t) for t in ts),
        "complete": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in ts),
        "interrupted": len(interrupted),
        "interrupted_with_all_params": len(whole),
        "retried": len(retried),
        "retried_more_than_once": sum(n > 1 for n in retried.values()),
        "lost": sum(retried.get(t.number, 0) == 0 for t in whole),
        "surplus": sum(bool(t.user_attrs.get("surplus")) for t in ts),
        "configurations_trained_twice": len(twice),
        "still_running_or_waiting": sum(t.state in (TrialState.RUNNING, TrialState.WAITING)
                                        for t in ts),
    }
    counts["ok"] = (counts["counted"] == trials and counts["lost"] == 0
                    and counts["retried_more_than_once"] == 0
                    and counts["configurations_trained_twice"] == 0
                    and counts["still_running_or_waiting"] == 0)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/hpo-faults"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=8.0,
                        help="seconds between kills (jittered 0.5-1.5x)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--limit-train", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", action="store_true",
                        help="one `moprune hpo --workers 2` command whose workers are killed")
    parser.add_argument("--kills", type=int, default=5, help="with --workers: kills to land")
    parser.add_argument("--seed", type=int, default=0, help="with --workers: of the kills")
    args = parser.parse_args()
    if args.workers:
        counts = run_worker_kills(args.out, trials=args.trials, kills=args.kills,
                                  kill_every=args.kill_every, data_root=args.data_root,
                                  limit_train=args.limit_train, epochs=args.epochs,
                                  seed=args.seed)
        counts["ok"] = (counts["ok"] and counts["exit_code"] == 0 and not counts["zombies"]
                        and not counts["not_reaped_within_2s"])
    else:
        counts = run_faults(args.out, trials=args.trials, kill_every=args.kill_every,
                            data_root=args.data_root, limit_train=args.limit_train,
                            epochs=args.epochs)
    (args.out / "faults.json").write_text(json.dumps(counts, indent=2) + "\n")
    width = max(map(len, counts))
    for key, value in counts.items():
        print(f"{key:<{width}}  {value:.1f}" if isinstance(value, float) else
              f"{key:<{width}}  {value}")
    return 0 if counts["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
