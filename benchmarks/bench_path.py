"""Wall time of a continuation-path front against one dense training of the same epochs.

In one process, alternating: `moprune train`'s library call (dense LeNet-5, E epochs) and
`train_front(method="path")` (one warm-started run of E epochs that records a point after
every corrector, each point measured on validation and test and written as a model file).
Reports medians, the ratio, and the path's points (non-dominated in (f1, f2) and in
(validation error, kept share)).

    python benchmarks/bench_path.py --epochs 10 --repeats 3 \
        --json docs/results/bench_path.json

With ``--corrector magnitude`` the path cuts the smallest weights instead of raising lam
(no prox step). With ``--finetune E`` every point of the path is debiased E epochs, and
the dense training it is compared with gets the same epochs in all: the path's E + E x
points (the path runs first in each repeat, so that its point count is known).

Run it with nothing else on the machine: the ratio is the result.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from moprune.config import DataConfig, TrainConfig
from moprune.data import prepare_data
from moprune.front import Path as PathMethod
from moprune.front import train_front
from moprune.io import write_json
from moprune.models import build_model
from moprune.names import PATH_CORRECTORS
from moprune.training import train

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--model", default="lenet5")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--budget", type=int, default=30, help="points the path aims at")
parser.add_argument("--start-lam", type=float, default=0.5,
                    help="the path's first weight after the dense point (as `make knee`)")
parser.add_argument("--warmup", type=float, default=None,
                    help="epochs at lam 0 first (default: the library's, epochs/4)")
parser.add_argument("--corrector", default="l1", choices=PATH_CORRECTORS,
                    help="the path's corrector (magnitude: no prox)")
parser.add_argument("--finetune", type=int, default=0,
                    help="epochs of debiasing per point (the dense run gets them too)")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--json", type=Path, default=None)
args = parser.parse_args()

torch.set_num_threads(torch.get_num_threads())
data = prepare_data(DataConfig())
config = TrainConfig(epochs=args.epochs)
times: dict[str, list[float]] = {"dense": [], "path": []}
last = None
total_epochs: list[int] = []
for _ in range(args.repeats):
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        path = PathMethod(points=args.budget, corrector=args.corrector, start_lam=args.start_lam,
                          warmup=args.warmup)
        last = train_front(args.model, data, method=path, prox=args.corrector == "l1",
                           finetune=args.finetune, train=config, out=out)
        times["path"].append(time.perf_counter() - start)
    total_epochs.append(args.epochs + args.finetune * len(last))
    start = time.perf_counter()
    model = build_model(args.model, in_channels=data.in_channels, num_classes=data.num_classes,
                        image_size=data.image_size, seed=0)
    train(model, data, replace(config, epochs=total_epochs[-1]), evaluate_test=True)
    times["dense"].append(time.perf_counter() - start)
assert last is not None
dense, path = statistics.median(times["dense"]), statistics.median(times["path"])
nd = {axes: len(last.non_dominated(axes=axes)) for axes in ("objectives", "kept")}
result = {"model": args.model, "epochs": args.epochs, "budget": args.budget,
          "start_lam": args.start_lam, "warmup": args.warmup, "corrector": args.corrector,
          "finetune": args.finetune,
          "epochs_in_all": total_epochs,
          "repeats": args.repeats, "threads": torch.get_num_threads(), "seconds": times,
          "median_dense_s": dense, "median_path_s": path, "ratio": path / dense,
          "points": len(last), "non_dominated": nd,
          "kept_range": [min(p.kept for p in last), max(p.kept for p in last)],
          "ends": last.points[-1].extras.get("ends")}
print(f"{args.model}, {args.epochs} epochs + {args.finetune} per point (in all "
      f"{total_epochs}), {args.repeats} repeats, medians: dense "
      f"{dense:.1f} s, path {path:.1f} s, ratio {path / dense:.2f}")
print(f"path: {len(last)} points, non-dominated {nd['objectives']} in (f1, f2), "
      f"{nd['kept']} in (val error, kept share); kept {result['kept_range'][0]:.2%} .. "
      f"{result['kept_range'][1]:.2%}; ends on {result['ends']}")
if args.json:
    write_json(args.json, result)
