"""Gradual magnitude pruning (Zhu & Gupta) against the dense network, equal epochs.

The strongest of the usual magnitude baselines for a fixed budget of epochs: LeNet-5 on
Fashion-MNIST trains its 12 epochs (the knee's budget in `make knee`) while the share of
weights at zero rises along a cubic schedule from epoch --begin to epoch --end, then
trains on with its final mask (moprune.GradualMagnitudePruning); the dense network of
the same seed and epochs is the reference. It answers whether any standard method keeps
<= 3% of the weights within 1 point of the dense network at 12 epochs.

With --weight-decay W or --label-smoothing L both networks train with that regulariser
(the default recipe has neither): whether it lifts the sparse network more than the dense
one.

With --importance lamp the cuts follow LAMP scores (Lee et al. 2021;
moprune.pruning.lamp_masks) instead of one global magnitude threshold: whether another
allocation of the kept weights across the layers lifts the sparse network (the dense
reference is the same network).

With --dense-epochs D the reference trains D epochs instead: GMP given three times the
knee's budget against the dense network at 12 epochs asks whether the sparse LeNet-5 can
get there at all, or only not in 12 epochs.

    python experiments/pareto/gmp_knee.py --sparsity 0.95 0.97 0.98 --seeds 0 1 2 \
        --out docs/results/path/gmp_knee
    python experiments/pareto/gmp_knee.py --sparsity 0.97 --epochs 36 --begin 3 --end 24 \
        --dense-epochs 12 --out docs/results/path/gmp_knee_e36
    python experiments/pareto/gmp_knee.py --sparsity 0.97 --weight-decay 5e-4 \
        --out docs/results/path/gmp_knee_wd
    python experiments/pareto/gmp_knee.py --sparsity 0.97 --label-smoothing 0.1 \
        --out docs/results/path/gmp_knee_ls
    python experiments/pareto/gmp_knee.py --sparsity 0.97 --importance lamp \
        --out docs/results/path/gmp_knee_cpu3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from moprune import (
    DataConfig,
    GradualMagnitudePruning,
    TrainConfig,
    build_model,
    prepare_data,
    train,
)
from moprune.io import read_json, write_json
from moprune.objectives import scope_parameters
from moprune.pruning import MASK_IMPORTANCES
from moprune.report import format_table

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--model", default="lenet5")
parser.add_argument("--epochs", type=int, default=12)
parser.add_argument("--dense-epochs", type=int, help="the reference's epochs (default --epochs)")
parser.add_argument("--sparsity", type=float, nargs="+", default=[0.97])
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--begin", type=float, default=1.0, help="epoch of the first cut")
parser.add_argument("--end", type=float, default=8.0, help="epoch of the last cut")
parser.add_argument("--every", type=int, default=50, help="steps between cuts")
parser.add_argument("--importance", choices=tuple(MASK_IMPORTANCES), default="magnitude",
                    help="what GMP cuts: the smallest |w| over all layers, or LAMP scores")
parser.add_argument("--weight-decay", type=float, default=0.0,
                    help="of both networks (default 0, TrainConfig's)")
parser.add_argument("--label-smoothing", type=float, default=0.0,
                    help="of both networks (default 0, TrainConfig's)")
args = parser.parse_args()
dense_epochs = args.epochs if args.dense_epochs is None else args.dense_epochs
if min(args.epochs, dense_epochs) < 1 or not 0 <= args.begin <= args.end <= args.epochs:
    parser.error("epochs must be >= 1 and 0 <= --begin <= --end <= --epochs")
if not args.weight_decay >= 0:
    parser.error(f"--weight-decay must be >= 0, got {args.weight_decay}")
if not 0 <= args.label_smoothing < 1:
    parser.error(f"--label-smoothing must be in [0, 1), got {args.label_smoothing}")
# the recipe's and GMP's importance's parts of a run's key and table name (keys of runs
# without them: as before)
importance = "" if args.importance == "magnitude" else f"-{args.importance}"
recipe = ((f"-wd{args.weight_decay:g}" if args.weight_decay else "")
      + (f"-ls{args.label_smoothing:g}" if args.label_smoothing else ""))

data = prepare_data(DataConfig())
per_epoch = len(data.loader("train", batch_size=TrainConfig().batch_size))
args.out.mkdir(parents=True, exist_ok=True)
results_file = args.out / "results.json"
runs = read_json(results_file)["runs"] if results_file.exists() else {}  # resumes


def run(seed: int, sparsity: float | None) -> dict:
    """One training of the model (pruned gradually to ``sparsity``, or dense)."""
    schedule = f"gmp{sparsity}-from{args.begin}-to{args.end}-every{args.every}{importance}"
    epochs = dense_epochs if sparsity is None else args.epochs
    key = f"{'dense' if sparsity is None else schedule}-e{epochs}{recipe}-s{seed}"
    if key not in runs:
        model = build_model(args.model, in_channels=data.in_channels,
                            num_classes=data.num_classes, image_size=data.image_size,
                            seed=seed)
        callbacks = [] if sparsity is None else [GradualMagnitudePruning(
            sparsity, begin_step=round(args.begin * per_epoch),
            end_step=round(args.end * per_epoch), every=args.every,
            importance=args.importance)]
        t0 = time.perf_counter()
        result = train(model, data, TrainConfig(epochs=epochs, seed=seed,
                                                weight_decay=args.weight_decay,
                                                label_smoothing=args.label_smoothing),
                       callbacks=callbacks, evaluate_test=True)
        weights = [p for _, p in scope_parameters(model)]
        kept = sum(int((p != 0).sum()) for p in weights) / sum(p.numel() for p in weights)
        runs[key] = {"seed": seed, "sparsity": sparsity, "epochs": epochs,
                     "begin": args.begin, "end": args.end, "every": args.every,
                     **({} if sparsity is None else {"importance": args.importance}),
                     "weight_decay": args.weight_decay,
                     "label_smoothing": args.label_smoothing, "kept": kept,
                     "val_acc": result.val_acc, "test_acc": result.test_acc,
                     "seconds": time.perf_counter() - t0}
        write_json(results_file, {"runs": runs})
        print(key, runs[key], flush=True)
    return runs[key]


rows = []
for sparsity in args.sparsity:
    gaps, accs, kepts = [], [], []
    for seed in args.seeds:
        dense, pruned = run(seed, None), run(seed, sparsity)
        gaps.append(100 * (pruned["test_acc"] - dense["test_acc"]))
        accs.append(pruned["test_acc"])
        kepts.append(pruned["kept"])
        rows.append([seed, f"{100 * pruned['kept']:.2f}%", pruned["test_acc"],
                     dense["test_acc"], round(gaps[-1], 2)])
    sd = statistics.stdev if len(gaps) > 1 else (lambda _: 0.0)
    rows.append(["mean ± sd", f"{100 * statistics.mean(kepts):.2f}%",
                 f"{statistics.mean(accs):.4f} ± {sd(accs):.4f}", "",
                 f"{statistics.mean(gaps):+.2f} ± {sd(gaps):.2f}"])
table = format_table(["seed", "kept", "test acc (GMP)", f"test acc (dense, {dense_epochs} epochs)",
                      "vs dense (points)"], rows, markdown=True)
suffix = ("" if dense_epochs == args.epochs else f"-dense{dense_epochs}") + importance + recipe
(args.out / f"table-from{args.begin}-to{args.end}{suffix}.md").write_text(
    f"# {args.model}: gradual magnitude pruning, {args.epochs} epochs, cuts from epoch "
    f"{args.begin} to {args.end} every {args.every} steps"
    f"{f' by {args.importance} score' if importance else ''}, against the dense network "
    f"at {dense_epochs} epochs"
    f"{f', weight decay {args.weight_decay:g} for both' if args.weight_decay else ''}"
    f"{f', label smoothing {args.label_smoothing:g} for both' if args.label_smoothing else ''}"
    f"\n\n{table}\n")
print(table)
