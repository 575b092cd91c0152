"""The small VGG's flops front within a FLOPs budget, or its knee, over seeds (path.sh
steps 8b and 13).

For each seed: the point `moprune knee RUN --max-share 0.2 --compact` chose (or, with
`--knee knee-chord`, the chord knee of `moprune knee RUN --compact`; debiased to the
front's knee epochs), its FLOPs before and after compaction, its channels per conv
layer, and its test accuracy against the dense VGG of the same seed and epochs.

    python experiments/pareto/vgg_budget_summary.py runs --seeds 1 2 \
        --out docs/results/path/vgg_flops_budget
    python experiments/pareto/vgg_budget_summary.py runs --knee knee-chord \
        --front 'vgg-channel-s{seed}' --dense 'vgg-dense-12-s{seed}' --out DIR
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from torch import nn

from moprune.io import read_json, write_json
from moprune.models import build_model
from moprune.report import format_table

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("run", type=Path)
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--share", default="0.2", help="the --max-share of the knee files")
parser.add_argument("--knee", default=None,
                    help="the knee files' stem instead (e.g. knee-chord: the chord knee of "
                         "`moprune knee RUN --compact`)")
parser.add_argument("--front", default="vgg-flops-path-20",
                    help="RUN/FRONT[-sS] (seed 0 without suffix), or a name with {seed}")
parser.add_argument("--dense", default="vgg-dense-22", help="as --front, the dense VGG")
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

convs = {name: m.out_channels for name, m in build_model(
    "vgg", in_channels=1, num_classes=10, image_size=28).named_modules()
    if isinstance(m, nn.Conv2d)}
rows, seeds = [], {}


def run_dir(name: str, seed: int) -> Path:
    if "{seed}" in name:
        return args.run / name.format(seed=seed)
    return args.run / (name if seed == 0 else f"{name}-s{seed}")


stem = args.knee or f"knee-max-flops{args.share}"
for s in args.seeds:
    front = run_dir(args.front, s)
    knee = read_json(front / f"{stem}.json")["point"]
    compact = read_json(front / f"{stem}-compact.json")
    dense = read_json(run_dir(args.dense, s) / "results.json")["test_acc"]
    removed = compact["details"]["removed"]
    channels = {name: n - removed.get(name, 0) for name, n in convs.items()}
    fewer = compact["before"]["flops_per_image"] / compact["after"]["flops_per_image"]
    seeds[s] = {"point": knee["key"], "path_epochs": knee["extras"]["epochs_trained"],
                "test_acc": knee["test_acc"], "compact_test_acc": compact["after"]["test_acc"],
                "dense_test_acc": dense, "gap_points": 100 * (knee["test_acc"] - dense),
                "fewer_flops": fewer, "flops_per_image": compact["after"]["flops_per_image"],
                "parameters": compact["after"]["parameters"], "channels": channels}
    rows.append([s, knee["key"], round(knee["extras"]["epochs_trained"], 1), f"{fewer:.1f}x",
                 knee["test_acc"], dense, round(seeds[s]["gap_points"], 2),
                 "/".join(str(c) for c in channels.values())])
gaps = [v["gap_points"] for v in seeds.values()]
fewers = [v["fewer_flops"] for v in seeds.values()]
sd = statistics.stdev if len(gaps) > 1 else (lambda _: 0.0)
summary = {"gap_mean": statistics.mean(gaps), "gap_sd": sd(gaps),
           "fewer_flops_min": min(fewers), "fewer_flops_max": max(fewers),
           "meets_5x_within_1.5": [v["fewer_flops"] >= 5 and v["gap_points"] >= -1.5
                                   for v in seeds.values()]}
table = format_table(["seed", "point", "path epochs", "fewer FLOPs", "test acc",
                      "dense test acc", "vs dense (points)",
                      "channels (" + "/".join(convs) + ")"], rows, markdown=True)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "table.md").write_text(table + "\n")
write_json(args.out / "summary.json", {"seeds": seeds, "summary": summary})
print(table)
print(f"vs dense: {summary['gap_mean']:+.2f} ± {summary['gap_sd']:.2f} points; "
      f"{min(fewers):.1f}x-{max(fewers):.1f}x fewer FLOPs")
