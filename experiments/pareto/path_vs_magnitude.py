"""Debiased path front vs. global magnitude pruning + fine-tuning, equal epochs per network.

For every fine-tuned point of a path front (`moprune front --method path --finetune E`)
whose sparsity is in [--min-sparsity, --max-sparsity]: the network took S mini-batch steps
on the path, then E epochs of fine-tuning. Its magnitude twin: the dense network trained
the same S steps (the front's optimizer and seed, cosine over the S steps), pruned with
torch.nn.utils.prune.global_unstructured (L1) to the same share of weights in scope, then
fine-tuned E epochs by the same recipe (moprune.front.debiasing: mask frozen, cosine from the
front's lr). Compared in (test error, kept share), with the hypervolume of both on common
bounds. With --whole-epochs the dense network trains ceil(S / steps per epoch) whole
epochs instead (the rule before: up to one epoch more than the path point had).

With --sparsities, the comparison is at those sparsities instead of the path's own: at
each sparsity s the path's answer is its non-dominated point with the smallest sparsity
>= s (a network at least that sparse; on a front whose dense end is dominated, one point
answers for a whole range), and its twin is pruned to exactly s after the same steps.

With --noise ACC|auto as well, the path's answer at s is read as `moprune knee
--max-share 1-s --axes kept --noise ACC` reads a budget (Front.best_within): of the path
points at least s sparse whose validation accuracy is within ACC (auto: two standard
errors on the validation split) of the best non-dominated one's, the least sparse,
dominated or not; validation accuracies closer than that are ties, not a ranking.

With --total-epochs T, every network has seen T epochs in all: each path point in the
sparsity range is debiased from its raw network (moprune.front.debiasing.debias_knee, mask
frozen, lam 0) until it has seen T epochs (its path epochs rounded up, plus the rest), the
non-dominated ones of those form the path's front, and each twin is fine-tuned the same
T - (path epochs) epochs. The front need not have been fine-tuned (--finetune).

    python experiments/pareto/path_vs_magnitude.py runs/lenet5-path-s0 \
        --out runs/path-vs-magnitude-s0
    python experiments/pareto/path_vs_magnitude.py runs/mag30w5-s0 --total-epochs 12 \
        --sparsities 0.5 0.6 0.7 0.8 0.9 0.95 0.97 0.98 0.99 --out runs/mag-t12-grid-s0
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.utils.prune as prune
import yaml

from moprune.config import config_from_dict
from moprune.data import prepare_data
from moprune.errors import MopruneError
from moprune.front import Front, FrontConfig, Point, debias
from moprune.front.debiasing import debias_knee, path_epochs, save_point_model
from moprune.front.measure import measure_point as measure
from moprune.front.path import batch_stream
from moprune.front.train import model_factory
from moprune.io import write_json
from moprune.objectives import scope_parameters
from moprune.report import format_table, plot_front
from moprune.solvers import CrossEntropySolver
from moprune.training import input_shape, train
from moprune.training.loop import make_scheduler

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("front_dir", type=Path)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--min-sparsity", type=float, default=0.5)
parser.add_argument("--max-sparsity", type=float, default=0.995)
parser.add_argument("--sparsities", type=float, nargs="+", metavar="S",
                    help="compare at these sparsities (see above) instead of the path's")
parser.add_argument("--whole-epochs", action="store_true",
                    help="train the dense network ceil(path epochs) whole epochs")
parser.add_argument("--total-epochs", type=int, metavar="T",
                    help="every network trained T epochs in all (see above)")
parser.add_argument("--noise", metavar="ACC|auto",
                    help="with --sparsities: validation ties within ACC (see above)")
args = parser.parse_args()
if args.noise is not None and not args.sparsities:
    parser.error("--noise reads the path at --sparsities; give them")
try:
    noise: float | str = 0.0 if args.noise is None else (
        "auto" if args.noise == "auto" else float(args.noise))
except ValueError:
    parser.error(f"--noise takes an accuracy or 'auto', got {args.noise!r}")

config = config_from_dict(FrontConfig, yaml.safe_load((args.front_dir / "config.yaml").read_text()))
path = Front.load(args.front_dir / "front.json")
E = config.finetune
if not E and not args.total_epochs:
    raise SystemExit("the front was not fine-tuned (--finetune E): nothing to compare")
data = prepare_data(config.data)
factory = model_factory(config.model, data, config.model_args)
if args.total_epochs:  # every path point debiased to T epochs in all: the path's front
    T = args.total_epochs
    path = Front([replace(debias_knee(p, factory, data, config.train, total_epochs=T,
                                      complexity=config.complexity, scope=config.scope,
                                      out_dir=args.front_dir),
                          retrained=False)  # the search points of this front
                  for p in path.search_points
                  if args.min_sparsity <= p.sparsity <= args.max_sparsity
                  and path_epochs(p) < T],
                 meta={"method": "path", "total_epochs": T,
                       "splits": path.meta.get("splits")})


def finetune_epochs(p: Point) -> int:
    """The twin's fine-tuning: the path point's, or what is left of T epochs in all."""
    return args.total_epochs - path_epochs(p) if args.total_epochs else E


points = sorted((p for p in path.non_dominated(axes="kept")
                 if args.min_sparsity <= p.sparsity <= args.max_sparsity),
                key=lambda p: p.sparsity)


def answer(t: float) -> Point | None:
    """The path's answer at sparsity ``t``: its least sparse non-dominated point at least
    ``t`` sparse, or with ``--noise`` the budget reading with validation ties."""
    if not noise:
        return next((p for p in points if p.sparsity >= t), None)
    try:
        p = path.best_within(1 - t, axes="kept", noise=noise)
    except MopruneError:
        return None
    return p if args.min_sparsity <= p.sparsity <= args.max_sparsity else None


if args.sparsities:  # (target sparsity, the path's answer) pairs
    targets = [(t, answer(t)) for t in sorted(args.sparsities)]
    missing = [t for t, p in targets if p is None]
    if missing:
        print(f"no non-dominated path point is as sparse as {missing}: not compared")
    pairs = [(t, p) for t, p in targets if p is not None]
else:
    pairs = [(p.sparsity, p) for p in points]
dense_cache: dict[int, dict[str, torch.Tensor]] = {}
per_epoch = len(data.loader("train", batch_size=config.train.batch_size))


def train_steps(model: torch.nn.Module, steps: int) -> None:
    """``steps`` mini-batch steps on cross-entropy: the front's optimizer, seed and batch
    order, the learning rate annealed (cosine) over exactly these steps."""
    tc = config.train
    solver = CrossEntropySolver()
    optimizer = solver.bind(model, tc, input_shape=input_shape(data))
    scheduler = make_scheduler(optimizer, replace(tc, epochs=1, warmup_epochs=0), steps)
    batches = batch_stream(data.loader("train", batch_size=tc.batch_size, seed=tc.seed), 0)
    model.train()
    for _ in range(steps):
        x, y = next(batches)
        solver.step(x, y, label_smoothing=tc.label_smoothing)
        scheduler.step()


magnitude = Front(meta={"method": "magnitude", "finetune": E})
rows = []
for target, p in pairs:
    steps = (path_epochs(p) * per_epoch if args.whole_epochs
             else int(p.extras["step"]))  # the path point's steps
    total = round(steps / per_epoch + finetune_epochs(p), 2)  # epochs per network
    t0 = time.perf_counter()
    if steps not in dense_cache:  # the dense network, trained `steps` steps
        torch.manual_seed(config.train.seed)
        dense = factory()
        if args.whole_epochs:
            train(dense, data, replace(config.train, epochs=path_epochs(p)))
        else:
            train_steps(dense, steps)
        dense_cache[steps] = {k: v.clone() for k, v in dense.state_dict().items()}
    torch.manual_seed(config.train.seed)
    model = factory()
    model.load_state_dict(dense_cache[steps])
    names = {id(w) for _, w in scope_parameters(model, config.scope)}
    modules = [(m, "weight") for m in model.modules()
               if getattr(m, "weight", None) is not None and id(m.weight) in names]
    prune.global_unstructured(modules, pruning_method=prune.L1Unstructured,
                              amount=p.zeros if not args.sparsities
                              else round(target * p.scope_size))
    for m, name in modules:
        prune.remove(m, name)
    raw = measure(model, data, method="magnitude", complexity=config.complexity,
                  scope=config.scope, tag=f"s{target:.6f}",
                  epochs=path_epochs(p) + finetune_epochs(p),
                  seed=config.train.seed)
    save_point_model(model, raw, args.out)
    tuned = debias(raw, factory, data, replace(config.train, seed=config.train.seed),
                   epochs=finetune_epochs(p), complexity=config.complexity, scope=config.scope,
                   out_dir=args.out)
    tuned.seconds = time.perf_counter() - t0
    magnitude.add(tuned)
    rows.append([f"{target:.2%}", *([f"{p.sparsity:.2%}"] if args.sparsities else []),
                 total, p.test_acc, tuned.test_acc, (p.test_acc - tuned.test_acc) * 100])
    print(f"sparsity {target:.4f} ({total} epochs): path {p.test_acc:.4f} (at sparsity "
          f"{p.sparsity:.4f}), magnitude {tuned.test_acc:.4f}")

# hypervolume in (test error, kept share) on the bounds of both sets together
F_path = np.array([[1 - p.test_acc, p.kept] for _, p in pairs])
F_mag = np.array([[1 - p.test_acc, p.kept] for p in magnitude.points])
both = np.vstack([F_path, F_mag])
bounds = (both.min(axis=0), both.max(axis=0))
from pymoo.indicators.hv import HV  # noqa: E402

hv = {name: float(HV(ref_point=np.array([1.1, 1.1]))(Front.normalize(F, bounds)))
      for name, F in (("path", F_path), ("magnitude", F_mag))}
table = format_table(["sparsity", *(["path point's sparsity"] if args.sparsities else []),
                      "epochs per network", "path (debiased) test acc",
                      "magnitude + fine-tune test acc", "difference (points)"], rows,
                     markdown=True)
print(table)
wins = sum(r[-1] >= 0 for r in rows)
print(f"path at least as accurate at {wins} of {len(rows)} sparsities; hypervolume "
      f"(test error, kept share), common bounds: path {hv['path']:.4f}, magnitude "
      f"{hv['magnitude']:.4f}")
args.out.mkdir(parents=True, exist_ok=True)
magnitude.save(args.out / "magnitude_front.json")
write_json(args.out / "comparison.json", {
    "front": str(args.front_dir), "finetune": E, "total_epochs": args.total_epochs,
    "noise": noise,
    "dense_training": "whole epochs" if args.whole_epochs else "the path point's steps",
    "rows": rows, "hypervolume": hv,
    "wins": wins, "compared": len(rows), "bounds": [b.tolist() for b in bounds]})
(args.out / "comparison.md").write_text(table + "\n")
answers = list({p.key: p for _, p in pairs}.values())
plot_front(Front(answers, meta={"method": "path (debiased)"}), args.out / "comparison.png",
           others={"magnitude + fine-tune": magnitude}, axes="kept",
           title=f"{config.model}: path vs. magnitude pruning, equal epochs")
