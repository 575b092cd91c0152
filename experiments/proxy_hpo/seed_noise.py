"""How much a regret of a few tenths of a point means: the chosen configurations of two
pipelines trained again on the base network with other seeds.

    python experiments/proxy_hpo/seed_noise.py RUN/hpo/full-pymoo-ga RUN/hpo/uniform25-pymoo-ga \
        [--seeds 1,2,3] [--out docs/results/proxy_hpo/seed_noise.json]

Each run directory's best configuration (``results.json``) is trained on its base network
with the same data, epochs and settings as its transfer, once per seed; the seeds' test
accuracies give a mean and standard deviation next to the regret measured with seed 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from moprune.config import DataConfig, TrainConfig, config_to_dict
from moprune.data import prepare_data
from moprune.hpo import SearchSpace, fresh_model
from moprune.io import write_json
from moprune.training import train

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("runs", type=Path, nargs="+", help="`moprune hpo` run directories")
parser.add_argument("--seeds", default="1,2,3")
parser.add_argument("--out", type=Path)
args = parser.parse_args()

seeds = [int(s) for s in args.seeds.split(",")]
rows = {}
for run in args.runs:
    r = json.loads((run / "results.json").read_text())
    data = DataConfig(**r["data"])
    splits = prepare_data(data)
    space = SearchSpace.from_dict(r["space"])
    best = r["best"]
    base = space.apply(TrainConfig(**r["train"]), best["params"])
    accs = {0: best["test_acc"]}
    for seed in seeds:
        config = TrainConfig(**{**config_to_dict(base), "epochs": best["epochs"], "seed": seed})
        net = fresh_model({"model": r["model"]}, in_channels=splits.in_channels,
                          num_classes=splits.num_classes, image_size=splits.image_size,
                          seed=seed)
        accs[seed] = train(net, splits, config, evaluate_test=True, progress=False).test_acc
    values = list(accs.values())
    rows[run.name] = {"params": best["params"], "test_acc": accs,
                      "mean": statistics.mean(values), "stdev": statistics.stdev(values)}
    print(f"{run.name}: test accuracy over seeds {sorted(accs)}: "
          + ", ".join(f"{a:.4f}" for a in values)
          + f"; mean {statistics.mean(values):.4f}, stdev {100 * statistics.stdev(values):.2f} "
            "points")
if args.out:
    write_json(args.out, rows)
