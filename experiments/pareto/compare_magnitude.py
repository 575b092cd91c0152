"""Weighted-sum front vs. global magnitude pruning + fine-tuning, same epoch budget.

Reads a front written by `moprune front` (its settings, sparsities and total epochs),
then, in this process: trains the dense network for the front's full epochs once, prunes
a copy of it to each sparsity of the front's non-dominated points with
torch.nn.utils.prune.global_unstructured (L1, over the same weights as the front's
scope), and fine-tunes each for the epochs left in the budget. Both fronts' hypervolume
is reported on one normalisation (the bounds of both non-dominated sets together).

    python experiments/pareto/compare_magnitude.py runs/lenet5-dichotomic --out runs/magnitude
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch.nn.utils.prune as prune
import yaml

from moprune.config import config_from_dict
from moprune.data import prepare_data
from moprune.front import Front, FrontConfig, measure_point
from moprune.io import write_json
from moprune.models import build_model
from moprune.objectives import scope_parameters
from moprune.report import format_table, plot_front
from moprune.training import train

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("front_dir", type=Path)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--finetune-lr", type=float, default=0.01)
args = parser.parse_args()

config = config_from_dict(FrontConfig, yaml.safe_load((args.front_dir / "config.yaml").read_text()))
ws = Front.load(args.front_dir / "front.json")
data = prepare_data(config.data)
budget_epochs = sum(p.epochs for p in ws.points)
targets = sorted({round(p.sparsity, 6) for p in ws.non_dominated()})
finetune_epochs = max(1, (budget_epochs - config.train.epochs) // max(1, len(targets) - 1))
print(f"weighted-sum front: {len(ws)} runs, {budget_epochs} epochs in all; magnitude: dense "
      f"{config.train.epochs} epochs + {len(targets)} sparsities x {finetune_epochs} epochs")

# 1. the dense network, trained once
start = time.perf_counter()
dense = build_model(config.model, in_channels=data.in_channels, num_classes=data.num_classes,
                    image_size=data.image_size, seed=config.train.seed, **config.model_args)
train(dense, data, config.train)
dense_seconds = time.perf_counter() - start

# 2. prune to each sparsity of the front, fine-tune for the rest of the budget
magnitude = Front(meta={"method": "magnitude", "finetune_epochs": finetune_epochs,
                        "dense_epochs": config.train.epochs})
finetune = replace(config.train, epochs=finetune_epochs, lr=args.finetune_lr)
for target in targets:
    model = copy.deepcopy(dense)
    t0 = time.perf_counter()
    if target > 0:
        names = {id(p): n for n, p in scope_parameters(model, config.scope)}
        modules = [(m, "weight") for m in model.modules()
                   if getattr(m, "weight", None) is not None and id(m.weight) in names]
        prune.global_unstructured(modules, pruning_method=prune.L1Unstructured, amount=target)
        train(model, data, finetune)  # the masks keep pruned weights at zero
        for m, name in modules:
            prune.remove(m, name)
    point = measure_point(model, data, method="magnitude", complexity=config.complexity,
                          scope=config.scope, tag=f"s{target:.6f}",
                          epochs=config.train.epochs + (finetune_epochs if target > 0 else 0),
                          seed=config.train.seed,
                          seconds=time.perf_counter() - t0 + (dense_seconds if target == 0 else 0))
    magnitude.add(point)
    print(f"  sparsity {target:.4f}: test acc {point.test_acc:.4f}, f1 {point.f1:.4f}")

# 3. both fronts on one normalisation
both = ws.objectives(ws.non_dominated()).tolist() + magnitude.objectives(
    magnitude.non_dominated()).tolist()
bounds = (np.min(both, axis=0), np.max(both, axis=0))
hv = {"weighted-sum": ws.hypervolume(bounds=bounds),
      "magnitude": magnitude.hypervolume(bounds=bounds)}
args.out.mkdir(parents=True, exist_ok=True)
magnitude.save(args.out / "magnitude_front.json")
rows = []
for target in targets:
    w = min(ws.non_dominated(), key=lambda p: abs(p.sparsity - target))
    m = min(magnitude.points, key=lambda p: abs(p.sparsity - target))
    rows.append([f"{target:.2%}", w.lam, w.test_acc, m.test_acc, w.f1, m.f1])
table = format_table(["sparsity", "ws lam", "ws test acc", "magnitude test acc", "ws f1",
                      "magnitude f1"], rows, markdown=True)
print(table)
print(f"hypervolume on common bounds: weighted sum {hv['weighted-sum']:.4f}, "
      f"magnitude {hv['magnitude']:.4f} (epochs: {budget_epochs} vs "
      f"{config.train.epochs + finetune_epochs * (len(targets) - 1)})")
write_json(args.out / "comparison.json", {
    "hypervolume": hv, "bounds": [b.tolist() for b in bounds], "budget_epochs": budget_epochs,
    "finetune_epochs": finetune_epochs, "table": rows,
    "magnitude": [p.to_dict() for p in magnitude.points]})
(args.out / "comparison.md").write_text(table + "\n")
plot_front(ws, args.out / "comparison.png", knee=ws.final_version(ws.knee(config.knee)),
           others={"magnitude + fine-tune": magnitude},
           title=f"{config.model}: weighted sum vs. magnitude pruning")
