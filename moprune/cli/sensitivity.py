"""``moprune sensitivity``: how pruning moves the best hyperparameters
(:func:`moprune.runs.sensitivity_run`)."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import add_run_flags, integer, number, quiet_optuna, resolve_config

__all__ = ["add", "run"]


def add(sub: Any) -> None:
    p = sub.add_parser("sensitivity", help="how pruning moves the best hyperparameters "
                       "(resumes; many workers)")
    add_run_flags(p)
    p.add_argument("--params", default="lr,weight_decay",
                   help="hyperparameters of the grid (log-scaled floats of the space)")
    p.add_argument("--levels", default="0.8,0.6,0.4,0.2",
                   help="kept shares of FLOPs, each in (0, 1]")
    p.add_argument("--grid-size", type=integer("--grid-size", ge=2), default=7,
                   help="values per hyperparameter")
    p.add_argument("--span", type=number("--span", gt=0), default=1.0,
                   help="decades each side of the optimum")
    p.add_argument("--hpo-trials", type=integer("--hpo-trials", ge=1), default=20,
                   help="trials of the base network's HPO")
    p.add_argument("--sampler", default="tpe", help="sampler of that HPO")
    p.add_argument("--pruner", default="none", help="hyperband: a BOHB-like HPO")
    p.add_argument("--mode", choices=["global", "uniform"], default="global",
                   help="structured pruning: one ranking over all layers, or each layer alike")
    p.add_argument("--init", choices=["scratch", "finetune"], default="scratch",
                   help="grid cells of pruned networks from fresh weights or the pruned ones")
    p.add_argument("--distribution", choices=["softmax", "quantile"], default="softmax")
    p.add_argument("--temperature", type=number("--temperature", gt=0), default=None,
                   help="softmax temperature on accuracies in [0, 1] (default: the measured "
                   "seed noise, the median per-cell standard deviation between seeds)")
    p.add_argument("--quantile", type=number("--quantile", gt=0, lt=1), default=0.8,
                   help="quantile distribution: mass on the cells above this quantile")
    p.add_argument("--retune-points", type=number("--retune-points", ge=0), default=0.5,
                   help="retuning pays when it gains more than this many points")
    p.add_argument("--seeds", type=integer("--seeds", ge=1), default=3,
                   help="seeds per grid cell of every network (default 3; more seeds on a "
                   "finished run train only the new ones)")
    p.add_argument("--bootstrap", type=integer("--bootstrap", ge=100), default=1000,
                   help="bootstrap replicates of every 95%% interval (default 1000)")
    p.add_argument("--space", metavar="FILE", help="YAML search space of the HPO")
    p.add_argument("--storage", metavar="URL", default=None)
    p.add_argument("--workers", type=integer("--workers", ge=1), default=1)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.config import RunConfig
    from moprune.report import format_table
    from moprune.runs.sensitivity import sensitivity_run
    from moprune.sensitivity import SensitivitySettings, levels_from_text, sensitivity_table

    quiet_optuna()
    config: RunConfig = resolve_config(RunConfig, args)
    settings = SensitivitySettings(
        params=tuple(args.params.split(",")), levels=levels_from_text(args.levels),
        grid_size=args.grid_size, span=args.span, hpo_trials=args.hpo_trials,
        hpo_sampler=args.sampler, hpo_pruner=args.pruner, prune_mode=args.mode,
        init=args.init, distribution=args.distribution, temperature=args.temperature,
        quantile=args.quantile, retune_points=args.retune_points, seeds=args.seeds,
        bootstrap=args.bootstrap, storage=args.storage, workers=args.workers)
    report = sensitivity_run(config, settings, args.out, space=args.space).to_dict()
    print(f"optimum of {config.model}: " + ", ".join(f"{k}={v:.3g}"
                                                     for k, v in report["optimum"].items()))
    print(format_table(*sensitivity_table(report)))
    seeds = report["seeds"]
    print(f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} per cell "
          f"({', '.join(map(str, seeds))}; the HPO's is {config.train.seed}); intervals: "
          f"bootstrap 95%, {settings.bootstrap} replicates; softmax temperature "
          f"{report['temperature']['value']:.4f} ({report['temperature']['source']})")
    print(report["answer"]["summary"])
    print(f"wrote {args.out}/sensitivity.json, landscapes.png, distances.png")
    return 0
