"""``moprune datasets`` and ``moprune models``: what is registered, and where the data is."""

from __future__ import annotations

import argparse
import json
from typing import Any

from moprune.cli.common import integer

__all__ = ["add"]


def add(sub: Any) -> None:
    p = sub.add_parser("datasets", help="list datasets, whether they are here, and where")
    p.add_argument("--data-root", help="look here first")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=datasets)

    p = sub.add_parser("models", help="list the registered models")
    p.add_argument("--in-channels", type=integer("--in-channels", ge=1), default=1)
    p.add_argument("--num-classes", type=integer("--num-classes", ge=1), default=10)
    p.add_argument("--image-size", type=integer("--image-size", ge=1), default=28)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=models)


def datasets(args: argparse.Namespace) -> int:
    from moprune.data import dataset_rows
    from moprune.report import format_table

    rows = dataset_rows(args.data_root)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        yes_no = {None: "-", True: "yes", False: "no"}
        print(format_table(["dataset", "available", "where / how to get it"],
                           [[r["name"], yes_no[r["available"]], r["where"]] for r in rows]))
    return 0


def models(args: argparse.Namespace) -> int:
    from moprune.models import model_rows
    from moprune.report import format_table

    rows = model_rows(in_channels=args.in_channels, num_classes=args.num_classes,
                      image_size=args.image_size)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"parameters for {args.in_channels}x{args.image_size}x{args.image_size} inputs, "
              f"{args.num_classes} classes")
        print(format_table(["model", "parameters", "description"],
                           [[r["name"], r["parameters"], r["description"]] for r in rows]))
    return 0
