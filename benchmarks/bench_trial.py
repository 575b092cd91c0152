"""Where a trial's wall time goes: model build, data, training steps, evaluation, the
study's storage and sampler, and the rest, for the base networks and their proxies.

A proxy pays when a trial's time follows its FLOPs. This runs real trials (moprune's
TrialObjective in an Optuna study on a journal file, as ``moprune hpo`` runs them) with
exclusive timers around each phase, and prints per network: the trial's wall time over
its pure training steps (forward, backward, update), and the proxy/base ratio of trial
time against their FLOPs ratio.

    python benchmarks/bench_trial.py                      # lenet5, vgg, resnet20
    python benchmarks/bench_trial.py --models lenet5 --trials 3 --json out.json

The proxy of each network is the base network thinned uniformly to ``--share`` of its
FLOPs (``--proxy uniform:SHARE``: the same kind of network as a compacted knee, with no
front to train first); ``--knee NAME=FILE`` uses a compacted knee's model file instead.
Median over the trials after the first (which pays the imports and caches).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import torch

from moprune.config import DataConfig, TrainConfig
from moprune.data import prepare_data
from moprune.data.loaders import LazyLoader, TensorLoader
from moprune.hpo import DEFAULT_SPACE, StudySettings
from moprune.hpo.objective import TrialObjective, architecture, fresh_model
from moprune.hpo.sources import uniform_proxy
from moprune.hpo.study import open_study
from moprune.pruning import count_flops
from moprune.solvers.base import Solver
from moprune.training import loop

PHASES = ("build", "data", "steps", "evaluation", "storage", "sampler")


class Phases:
    """Exclusive timers: a phase entered inside another is taken out of the outer one."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PHASES, 0.0)
        self._stack: list[list[Any]] = []  # [name, start, nested time]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._stack.append([name, time.perf_counter(), 0.0])
        try:
            yield
        finally:
            _, start, nested = self._stack.pop()
            spent = time.perf_counter() - start
            self.totals[name] += spent - nested
            if self._stack:
                self._stack[-1][2] += spent

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)
        return timed

    def reset(self) -> dict[str, float]:
        out, self.totals = self.totals, dict.fromkeys(PHASES, 0.0)
        return out


@contextlib.contextmanager
def instrumented(phases: Phases) -> Iterator[None]:
    """Timers around the training steps, the batches' fetch and the evaluation."""
    saved = (Solver.step, loop.evaluate, TensorLoader.__iter__, LazyLoader.__iter__)

    def batches(original: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def iterate(self: Any) -> Iterator[Any]:
            it = original(self)
            while True:
                with phases.phase("data"):
                    try:
                        batch = next(it)
                    except StopIteration:
                        return
                yield batch
        return iterate

    Solver.step = phases.wrap("steps", Solver.step)  # type: ignore[method-assign]
    loop.evaluate = phases.wrap("evaluation", loop.evaluate)
    TensorLoader.__iter__ = batches(TensorLoader.__iter__)  # type: ignore[method-assign]
    LazyLoader.__iter__ = batches(LazyLoader.__iter__)  # type: ignore[method-assign]
    try:
        yield
    finally:
        (Solver.step, loop.evaluate, TensorLoader.__iter__,
         LazyLoader.__iter__) = saved  # type: ignore[method-assign]


def _wrap_methods(obj: Any, names: list[str], phases: Phases, phase: str) -> None:
    for name in names:
        method = getattr(obj, name, None)
        if callable(method):
            setattr(obj, name, phases.wrap(phase, method))


def trial_times(recipe: dict[str, Any], splits: Any, train: TrainConfig, trials: int,
                phases: Phases) -> list[dict[str, float]]:
    """``trials`` TPE trials of ``recipe`` in a fresh study on a journal file; each
    trial's phases and wall time (``wall``)."""
    shape = {"in_channels": splits.in_channels, "num_classes": splits.num_classes,
             "image_size": splits.image_size}

    def factory(seed: int) -> torch.nn.Module:
        with phases.phase("build"):
            return fresh_model(recipe, seed=seed, **shape)

    objective = TrialObjective(factory, splits, train, DEFAULT_SPACE)
    with tempfile.TemporaryDirectory() as out:
        settings = StudySettings(trials=trials, seed=train.seed)
        study = open_study(settings, out, directions=objective.directions,
                           max_epochs=train.epochs)
        _wrap_methods(study._storage, [n for n in dir(study._storage)
                                       if not n.startswith("_")], phases, "storage")
        _wrap_methods(study.sampler, ["sample_relative", "sample_independent",
                                      "infer_relative_search_space", "before_trial",
                                      "after_trial"], phases, "sampler")
        rows = []
        with instrumented(phases):
            for _ in range(trials):
                phases.reset()
                start = time.perf_counter()
                study.optimize(objective, n_trials=1, catch=())
                wall = time.perf_counter() - start
                rows.append({"wall": wall, **phases.reset()})
    return rows


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    """Medians over the trials after the first; ``rest``: the wall time no phase took."""
    used = rows[1:] if len(rows) > 1 else rows
    out = {k: statistics.median(r[k] for r in used) for k in ("wall", *PHASES)}
    out["rest"] = max(0.0, out["wall"] - sum(out[k] for k in PHASES))
    out["wall_over_steps"] = out["wall"] / out["steps"] if out["steps"] else float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="lenet5,vgg,resnet20")
    parser.add_argument("--share", type=float, default=0.1,
                        help="the proxy: the base network thinned uniformly to this share "
                             "of its FLOPs")
    parser.add_argument("--knee", action="append", default=[], metavar="NAME=FILE",
                        help="a compacted knee's model file as NAME's proxy instead")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit-train", type=int, default=10000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    splits = prepare_data(DataConfig(limit_train=args.limit_train))
    train = TrainConfig(epochs=args.epochs)
    knees = dict(k.split("=", 1) for k in args.knee)
    x = torch.zeros(1, splits.in_channels, splits.image_size, splits.image_size)
    shape = {"in_channels": splits.in_channels, "num_classes": splits.num_classes,
             "image_size": splits.image_size}
    phases = Phases()
    results: dict[str, Any] = {"settings": vars(args) | {"json": str(args.json)},
                               "threads": torch.get_num_threads(), "networks": {}}
    header = (f"{'network':<22}{'wall s':>8}{'steps':>8}{'data':>7}{'eval':>7}{'build':>7}"
              f"{'store':>7}{'sampl':>7}{'rest':>7}{'wall/steps':>11}")
    print(header)
    for name in args.models.split(","):
        base = {"model": name, **shape}
        proxy = (architecture(knees[name]) if name in knees
                 else uniform_proxy(base, args.share))
        pair = {}
        for label, recipe in (("base", {"model": name}), ("proxy", proxy)):
            flops = count_flops(fresh_model(recipe, seed=0, **shape).eval(), x)
            s = summary(trial_times(recipe, splits, train, args.trials, phases))
            pair[label] = {**s, "flops": flops}
            print(f"{name + ' ' + label:<22}{s['wall']:>8.2f}{s['steps']:>8.2f}{s['data']:>7.2f}"
                  f"{s['evaluation']:>7.2f}{s['build']:>7.2f}{s['storage']:>7.2f}"
                  f"{s['sampler']:>7.2f}{s['rest']:>7.2f}{s['wall_over_steps']:>11.2f}")
        pair["time_ratio"] = pair["proxy"]["wall"] / pair["base"]["wall"]
        pair["flops_ratio"] = pair["proxy"]["flops"] / pair["base"]["flops"]
        print(f"  {name}: proxy/base trial time {pair['time_ratio']:.3f} at a FLOPs ratio "
              f"{pair['flops_ratio']:.3f} ({pair['time_ratio'] / pair['flops_ratio']:.1f}x "
              "what the FLOPs predict)")
        results["networks"][name] = pair
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
