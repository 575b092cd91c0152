"""The knee against its compacted network: FLOPs, time per training step and per
inference batch, measured side by side in one process (interleaved repeats, medians).

    python benchmarks/bench_compact.py runs/lenet5-group-l1 [runs/lenet5-dichotomic ...]

Each argument is a front's run directory holding knee-chord.pt and knee-chord-compact.pt
(`moprune knee RUN_DIR --compact`). Targets of the compaction issue, for a group-l1
knee: >= 3x fewer FLOPs and a >= 2x faster training step.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
from pathlib import Path

import torch

from moprune.models import load_model, model_recipe
from moprune.pruning import count_flops, time_model

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("runs", nargs="+", type=Path)
parser.add_argument("--selector", default="chord")
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--json", type=Path, help="also write the results here")
args = parser.parse_args()

results = {}
print(f"{torch.get_num_threads()} threads, batch {args.batch_size}, medians of "
      f"{args.repeats} interleaved repeats")
for run in args.runs:
    knee = load_model(run / f"knee-{args.selector}.pt").eval()
    small = load_model(run / f"knee-{args.selector}-compact.pt").eval()
    recipe = model_recipe(knee)
    assert recipe is not None
    x = torch.randn(args.batch_size, recipe["in_channels"], recipe["image_size"],
                    recipe["image_size"], generator=torch.Generator().manual_seed(0))
    times: dict[str, dict[str, list[float]]] = {"knee": {}, "compact": {}}
    for _ in range(args.repeats):
        for name, model in (("knee", knee), ("compact", small)):
            for key, value in time_model(copy.deepcopy(model), x, steps=5, repeats=1).items():
                times[name].setdefault(key, []).append(value)
    row = {
        "parameters": [sum(p.numel() for p in m.parameters()) for m in (knee, small)],
        "flops_per_image": [count_flops(m, x[:1]) for m in (knee, small)],
        **{key: [statistics.median(times[n][key]) for n in ("knee", "compact")]
           for key in ("train_step_ms", "inference_ms")},
    }
    results[str(run)] = row
    print(f"\n{run}")
    print(f"  {'':18s} {'knee':>12s} {'compacted':>12s} {'ratio':>8s}")
    for key, (a, b) in row.items():
        print(f"  {key:18s} {a:12.4g} {b:12.4g} {a / b:8.2f}")
if args.json:
    args.json.write_text(json.dumps(results, indent=2))
