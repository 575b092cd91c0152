"""Summary of the path fronts over seeds: knees against the dense network, points,
hypervolume against the dichotomic front, and the magnitude comparison.

Reads RUN/lenet5-path-sS (fronts and knee-chord.json), RUN/path-vs-magnitude-sS,
RUN/lenet5-dense (seed 0) and RUN/lenet5-dense-s<seed> (the other seeds), and
RUN/lenet5-dichotomic (optional), as experiments/pareto/path.sh writes them. Each knee is
compared with the dense network of its own seed.

    python experiments/pareto/path_summary.py runs --seeds 0 1 2 --out docs/results/path

With --make-knee (and --also), those fronts join the hypervolume on common bounds. --paths and
--magnitude name other fronts and comparisons (e.g. the fronts debiased three
epochs per point: --paths lenet5-path-ft3-s --magnitude path-vs-magnitude-ft3-steps-s).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from magnitude_bands import band_rows, band_table  # this folder's

from moprune.front import Front, Point
from moprune.front.debiasing import path_epochs
from moprune.io import read_json, write_json
from moprune.report import format_table
from moprune.report.plots import new_figure, save_figure

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("run", type=Path)
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--paths", metavar="PREFIX", default="lenet5-path-s",
                    help="the path fronts RUN/PREFIX<seed>")
parser.add_argument("--magnitude", metavar="PREFIX", default="path-vs-magnitude-s",
                    help="their magnitude comparisons RUN/PREFIX<seed>")
parser.add_argument("--make-knee", metavar="PREFIX",
                    help="also summarise the `make knee` runs RUN/PREFIX<seed> (and their "
                         "RUN/PREFIX<seed>.seconds wall times)")
parser.add_argument("--dichotomic", metavar="NAME", default="lenet5-dichotomic",
                    help="the dichotomic front RUN/NAME (optional: a reference)")
parser.add_argument("--also", metavar="PREFIX", nargs="+", default=[],
                    help="more fronts RUN/PREFIX<seed> that join the hypervolume on common "
                         "bounds and the point counts (no knee needed)")
args = parser.parse_args()


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


dense_runs = {s: args.run / ("lenet5-dense" if s == 0 else f"lenet5-dense-s{s}")
              for s in args.seeds}
dense_acc = {s: read_json(d / "results.json")["test_acc"] for s, d in dense_runs.items()
             if (d / "results.json").exists()}
dense = statistics.mean(dense_acc.values())  # the seeds' mean, for the plot
dicho_file = args.run / args.dichotomic / "front.json"  # optional: a reference
dicho = Front.load(dicho_file) if dicho_file.exists() else None
paths = {s: Front.load(args.run / f"{args.paths}{s}" / "front.json") for s in args.seeds}


def knee_rows(prefix: str) -> tuple[list[list[object]], list[dict]]:
    """One row per seed: the chord knee of RUN/<prefix><seed> against the dense network."""
    rows, knees = [], []
    for s in args.seeds:
        knee = read_json(args.run / f"{prefix}{s}" / "knee-chord.json")["point"]
        total = path_epochs(Point.from_dict(knee)) + knee["finetune_epochs"]
        knees.append(knee)
        rows.append([s, knee["key"], f"{knee['kept']:.2%}", knee["test_acc"],
                     (knee["test_acc"] - dense_acc.get(s, dense)) * 100, total])
    return rows, knees


rows, knees = knee_rows(args.paths)
kept_m, kept_sd = mean_sd([k["kept"] for k in knees])
acc_m, acc_sd = mean_sd([k["test_acc"] for k in knees])
knee_table = format_table(["seed", "knee", "kept", "test acc", "vs dense (points)",
                           "epochs in all"], rows, markdown=True)

make_knee: dict[str, object] = {}
if args.make_knee:
    mk_rows, mk_knees = knee_rows(args.make_knee)
    seconds = [float((args.run / f"{args.make_knee}{s}.seconds").read_text())
               for s in args.seeds if (args.run / f"{args.make_knee}{s}.seconds").exists()]
    mk_fronts = [Front.load(args.run / f"{args.make_knee}{s}" / "front.json")
                 for s in args.seeds]
    for row, s, front in zip(mk_rows, args.seeds, mk_fronts, strict=True):
        row += [len(front), len(front.non_dominated(axes="kept"))]
        wall = args.run / f"{args.make_knee}{s}.seconds"
        row.append(round(float(wall.read_text())) if wall.exists() else "")
    make_knee = {"rows": mk_rows, "wall_seconds": seconds,
                 "kept": mean_sd([k["kept"] for k in mk_knees]),
                 "test_acc": mean_sd([k["test_acc"] for k in mk_knees]),
                 "flops_share": mean_sd([k["flops_share"] for k in mk_knees])}
    mk_table = format_table(["seed", "knee", "kept", "test acc", "vs dense (points)",
                             "epochs in all", "points", "non-dominated", "wall s"],
                            mk_rows, markdown=True)
    (args.out / "make_knee.md").parent.mkdir(parents=True, exist_ok=True)
    (args.out / "make_knee.md").write_text(mk_table + "\n")
    print(mk_table)
    (km, ksd), (am, asd) = make_knee["kept"], make_knee["test_acc"]  # type: ignore[misc]
    print(f"make knee: kept {km:.2%} +- {ksd:.2%}, test acc {am:.4f} +- {asd * 100:.2f} "
          f"points (dense {dense:.4f} +- {mean_sd(list(dense_acc.values()))[1] * 100:.2f}); "
          f"wall {seconds}")

# hypervolume in (validation error, kept share), common bounds over every front
def F(front: Front) -> np.ndarray:
    return front.objectives(front.non_dominated(axes="kept"), axes="kept")


others = {f"make knee s{s}": Front.load(args.run / f"{args.make_knee}{s}" / "front.json")
          for s in args.seeds} if args.make_knee else {}
also = {f"{prefix}{s}": Front.load(args.run / f"{prefix}{s}" / "front.json")
        for prefix in args.also for s in args.seeds}
fronts = {**{f"path s{s}": f for s, f in paths.items()}, **others, **also}
if dicho is not None:
    fronts["dichotomic (budget 16)"] = dicho
allF = np.vstack([F(f) for f in fronts.values()])
bounds = (allF.min(axis=0), allF.max(axis=0))
hv = {name: f.hypervolume(axes="kept", bounds=bounds) for name, f in fronts.items()}
counts = {name: {"points": len(f), "non_dominated_kept": len(f.non_dominated(axes="kept")),
                 "non_dominated_objectives": len(f.non_dominated())}
          for name, f in fronts.items()}

# the magnitude comparison, per seed
magnitude = {}
for s in args.seeds:
    comp = args.run / f"{args.magnitude}{s}" / "comparison.json"
    if comp.exists():
        c = read_json(comp)
        magnitude[s] = {"wins": c["wins"], "compared": c["compared"],
                        "hypervolume": c["hypervolume"], "rows": c["rows"]}


bands = band_rows(magnitude)
bands_md = band_table(bands)
if bands:  # no magnitude comparison of these fronts: no table
    (args.out / "magnitude_bands.md").parent.mkdir(parents=True, exist_ok=True)
    (args.out / "magnitude_bands.md").write_text(bands_md + "\n")
    print(bands_md)

summary = {"dense_test_acc": dense_acc, "knees": rows, "knee_kept_mean": kept_m,
           "knee_kept_sd": kept_sd, "knee_test_acc_mean": acc_m, "knee_test_acc_sd": acc_sd,
           "hypervolume_kept_axes": hv, "bounds": [b.tolist() for b in bounds],
           "counts": counts, "magnitude": magnitude, "magnitude_bands": bands,
           "make_knee": make_knee}
args.out.mkdir(parents=True, exist_ok=True)
write_json(args.out / "summary.json", summary)
(args.out / "knees.md").write_text(knee_table + "\n")
print(knee_table)
print(f"dense (12 epochs) test acc {dense_acc}; knee kept {kept_m:.2%} +- {kept_sd:.2%}, "
      f"test acc {acc_m:.4f} +- {acc_sd * 100:.2f} points")
print("hypervolume (val error, kept share), common bounds:",
      ", ".join(f"{k} {v:.4f}" for k, v in hv.items()))
print("points:", counts)
for s, m in magnitude.items():
    print(f"seed {s}: path >= magnitude at {m['wins']} of {m['compared']} sparsities; "
          f"hypervolume {m['hypervolume']}")

fig, (ax,) = new_figure(1, width=6.5, height=4.5)
for i, (s, f) in enumerate(paths.items()):
    nd = sorted(f.non_dominated(axes="kept"), key=lambda p: p.kept)
    ax.plot([p.kept for p in nd], [p.test_acc for p in nd], "o-", ms=3, color=f"C{i}",
            label=f"path seed {s} (debiased)")
    ax.plot([knees[i]["kept"]], [knees[i]["test_acc"]], "*", ms=14, color=f"C{i}")
if dicho is not None:
    nd = sorted(dicho.non_dominated(axes="kept"), key=lambda p: p.kept)
    ax.plot([p.kept for p in nd], [p.test_acc for p in nd], "s--", ms=4, color="gray",
            label="dichotomic, budget 16 (4 epochs)")
ax.axhline(dense, color="black", lw=0.8, ls=":",
           label=f"dense, 12 epochs (mean of {len(dense_acc)} seeds, {dense:.4f})")
ax.set(xscale="log", xlabel="fraction of weights kept", ylabel="test accuracy",
       title="LeNet-5 on Fashion-MNIST: path fronts (stars: chord knees)", ylim=(0.7, 0.92))
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
save_figure(fig, args.out / "path_fronts.png")
