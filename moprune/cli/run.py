"""``moprune run``: the whole pipeline from one YAML file
(:func:`moprune.pipeline.run_pipeline`); exit 3 when a stage's verdict failed."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import quiet_optuna
from moprune.errors import MopruneError

__all__ = ["add", "run"]


def add(sub: Any) -> None:
    p = sub.add_parser("run", help="the whole pipeline from one YAML file: front, knee, "
                       "compaction, proxy HPO, transfer, report.md (resumes stage by stage)")
    p.add_argument("config_file", metavar="CONFIG", nargs="?",
                   help="YAML: front (model, data, train, the front's settings; without a "
                   "method: the proxy recipe's path) and hpo (trials, epochs, sampler ...); "
                   "examples/ has commented ones")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory")
    p.add_argument("--print-config", action="store_true",
                   help="print a config with every setting at its default, and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.config import config_from_dict, load_config_file
    from moprune.pipeline import PipelineConfig, default_config_text, run_pipeline
    from moprune.verdicts import Verdict, summary

    if args.print_config:
        print(default_config_text(), end="")
        return 0
    if args.config_file is None or args.out is None:
        raise MopruneError("run needs CONFIG and --out RUN_DIR (moprune run --print-config "
                           "prints a config with every default)")
    quiet_optuna()
    config = config_from_dict(PipelineConfig, load_config_file(args.config_file),
                              where=args.config_file)
    result = run_pipeline(config, args.out)
    k, c, h = result.knee, result.compaction, result.hpo
    print(f"knee {k['key']}: test accuracy {k['test_acc']:.4f}, kept {k['kept']:.2%}"
          + (f", FLOPs {k['flops_share']:.2%}" if k.get("flops_share") is not None else ""))
    print(f"compacted: {c['before']['parameters']:,} -> {c['after']['parameters']:,} "
          f"parameters, {c['before']['flops_per_image']:,} -> "
          f"{c['after']['flops_per_image']:,} FLOPs per image")
    where = "the compacted knee" if h.get("proxy") else config.front.model
    default = (h.get("default") or {}).get("val_acc")
    print(f"tuned on {where}: {config.front.model} gets validation accuracy "
          f"{h['val_acc']:.4f}" + (f" ({default:.4f} with the default hyperparameters)"
                                   if default is not None else ""))
    print("stages: " + ", ".join(f"{s} {v:.0f} s" for s, v in result.seconds.items()))
    print(f"verdict: {summary(Verdict(**v) for v in result.verdicts)}; wrote "
          f"{result.out}/report.md")
    return 3 if result.degenerate else 0
