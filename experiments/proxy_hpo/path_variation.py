"""How the small VGG's channel path, and the proxy taken from it, vary over seeds and with
the path's distance (`--path-distance change|fall`).

The paths (knee_proxy.sh's channel path, one per seed and distance; about 2 minutes each
on 2 CPU cores):

    for s in 0 1 2; do for d in change fall; do
      moprune front --model vgg --dataset fashion-mnist --limit-train 10000 \
        --limit-eval 2000 --method path --complexity flops --path-corrector channel \
        --budget 20 --epochs 5 --path-warmup 1 --path-start-lam 0.2 --path-max-drop 0.3 \
        --path-distance $d --seed $s --out runs/pathvar/$d-s$s
    done; done
    python experiments/proxy_hpo/path_variation.py runs/pathvar \
        --out docs/results/proxy_hpo/path_variation

For each path: its points, rejected correctors, the seconds of its points, how it ended,
and the proxy `--proxy-flops-floor FLOOR` would take (the chord knee in (validation error,
FLOPs share) above the floor), without and with `--proxy-tolerance TOL`.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from moprune.front import Front
from moprune.io import write_json
from moprune.report import format_table

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("root", type=Path, help="folder of the paths DISTANCE-sSEED")
parser.add_argument("--floor", type=float, default=0.05)
parser.add_argument("--tolerance", type=float, default=0.02)
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

def span(values: list[float]) -> list[float]:
    return [min(values), max(values)]


rows, runs = [], {}
for run in sorted(p for p in args.root.iterdir() if (p / "front.json").exists()):
    front = Front.load(run / "front.json")
    points = front.search_points
    knee = front.knee("chord", axes="flops", floor=args.floor)
    tolerant = front.knee("chord", axes="flops", floor=args.floor, tolerance=args.tolerance)
    this = runs[run.name] = {
        "points": len(points),
        "rejected": sum(p.extras.get("rejected", 0) for p in points),
        "seconds": sum(p.seconds or 0.0 for p in points),
        "ends": points[-1].extras.get("ends"),
        "knee": {"point": knee.key, "flops_share": knee.flops_share, "val_acc": knee.val_acc},
        "tolerant_knee": {"point": tolerant.key, "flops_share": tolerant.flops_share,
                          "val_acc": tolerant.val_acc}}
    rows.append([run.name, len(points), this["rejected"], round(this["seconds"]),
                 this["ends"], knee.tag,
                 f"{knee.flops_share:.1%}", round(knee.val_acc, 3), tolerant.tag,
                 f"{tolerant.flops_share:.1%}", round(tolerant.val_acc, 3)])
summary = {}
for distance in sorted({name.rsplit("-s", 1)[0] for name in runs}):
    mine = [v for k, v in runs.items() if k.rsplit("-s", 1)[0] == distance]
    summary[distance] = {
        "seconds": span([v["seconds"] for v in mine]),
        "knee_flops": span([v["knee"]["flops_share"] for v in mine]),
        "tolerant_knee_flops": span([v["tolerant_knee"]["flops_share"] for v in mine]),
        "rejected_mean": statistics.mean(v["rejected"] for v in mine)}
table = format_table(["path", "points", "rejected", "seconds", "ends", "knee", "FLOPs",
                      "val acc", f"knee, tolerance {args.tolerance:g}", "FLOPs", "val acc"],
                     rows, markdown=True)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "table.md").write_text(table + "\n")
write_json(args.out / "summary.json", {"floor": args.floor, "tolerance": args.tolerance,
                                       "runs": runs, "summary": summary})
print(table)
for distance, s in summary.items():
    print(f"{distance}: {s['seconds'][0]:.0f}-{s['seconds'][1]:.0f} s; knee "
          f"{s['knee_flops'][0]:.1%}-{s['knee_flops'][1]:.1%} of the FLOPs, with the "
          f"tolerance {s['tolerant_knee_flops'][0]:.1%}-{s['tolerant_knee_flops'][1]:.1%}")
