"""``moprune train``: one network trained (:func:`moprune.runs.train_run`)."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import add_run_flags, resolve_config

__all__ = ["add", "run"]


def add(sub: Any) -> None:
    p = sub.add_parser("train", help="train one network (resumes from RUN_DIR)")
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.config import RunConfig
    from moprune.runs.train import train_run

    config: RunConfig = resolve_config(RunConfig, args)
    made = train_run(config, args.out)
    print(f"{config.model} on {config.data.dataset}: val acc {made.val_acc:.4f}, "
          f"test acc {made.test_acc:.4f}, {made.parameters} parameters, "
          f"{made.seconds:.1f} s training; wrote {made.out}")
    return 0
