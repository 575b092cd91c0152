"""Debias chosen points of a path front to the knee's epochs and compact them: how
accurate is each compute level when trained as long as the knee and the dense network?

    python experiments/pareto/debias_points.py runs/vgg-flops-path-20 --points p009,p010 \
        --epochs 22 --out docs/results/path/vgg_flops_points.json

Each point is debiased from the path's raw network (mask frozen, lam 0) until it has seen
``--epochs`` epochs in all, like ``--knee-epochs`` does for the knee (resumable: a point
done before is read back), then its dead channels are removed (outputs unchanged) and its
FLOPs and channels per conv layer are reported.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from moprune.config import config_from_dict, load_config_file
from moprune.data import prepare_data
from moprune.front import Front, FrontConfig
from moprune.front.debiasing import debias_knee, load_point_model
from moprune.front.train import model_factory
from moprune.io import write_json
from moprune.pruning import compact, count_flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--points", required=True, help="tags, e.g. p009,p010")
    parser.add_argument("--epochs", type=int, required=True, help="epochs in all")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    config = config_from_dict(FrontConfig, load_config_file(args.run / "config.yaml"))
    front = Front.load(args.run / "front.json")
    splits = prepare_data(config.data)
    factory = model_factory(config.model, splits, config.model_args)
    x = torch.randn(8, splits.in_channels, splits.image_size, splits.image_size,
                    generator=torch.Generator().manual_seed(0))
    dense_flops = count_flops(factory(), x[:1])
    rows = []
    for tag in args.points.split(","):
        point = next(p for p in front.points if p.tag == tag and not p.retrained)
        done = debias_knee(point, factory, splits, replace(config.train),
                           total_epochs=args.epochs, complexity=config.complexity,
                           scope=config.scope, out_dir=args.run)
        model = load_point_model(factory, args.run / str(done.checkpoint)).eval()
        small, _ = compact(model, example_inputs=x)
        flops = count_flops(small, x[:1])
        row = {"point": done.key, "lam": done.lam, "test_acc": done.test_acc,
               "val_acc": done.val_acc, "flops_share": flops / dense_flops,
               "fewer_flops": dense_flops / flops,
               "channels": {n: m.out_channels for n, m in small.named_modules()
                            if isinstance(m, nn.Conv2d)}}
        rows.append(row)
        print(json.dumps(row))
    write_json(args.out, {"run": str(args.run), "epochs": args.epochs, "points": rows})


if __name__ == "__main__":
    main()
