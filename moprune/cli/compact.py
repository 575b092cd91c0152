"""``moprune compact``: dead channels removed, or a FLOPs target pruned to
(:func:`moprune.runs.compact_run`)."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import number

__all__ = ["add", "print_compaction", "run"]


def add(sub: Any) -> None:
    from moprune.names import KNEES

    p = sub.add_parser("compact", help="remove dead channels (or prune to a FLOPs target)")
    p.add_argument("source", metavar="RUN_DIR|MODEL_FILE",
                   help="a front's run directory (its knee-SELECTOR.pt) or a model file")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--threshold", type=number("--threshold", ge=0), default=None,
                     help="also remove channels whose group norm is <= T (changes outputs)")
    how.add_argument("--keep-flops", type=number("--keep-flops", gt=0, le=1), default=None,
                     help="prune structurally by group magnitude to this share of the FLOPs")
    p.add_argument("--mode", choices=["global", "uniform"], default="global",
                   help="with --keep-flops: one ranking over all layers, or the same share each")
    p.add_argument("--selector", default="chord",
                   help=f"a registered knee selector: {' | '.join(KNEES)} (default chord)")
    p.add_argument("--out", metavar="FILE", help="default: SOURCE-compact.pt beside it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.runs.front import compact_run
    from moprune.validation import check_out_file

    out = check_out_file(args.out, "--out") if args.out else None
    print_compaction(compact_run(args.source, out, selector=args.selector,
                                 threshold=args.threshold, keep_flops=args.keep_flops,
                                 mode=args.mode))
    return 0


def print_compaction(result: Any) -> None:
    """The compaction's table (a :class:`~moprune.runs.CompactFile`): sizes, FLOPs,
    timings and test accuracy before and after."""
    from moprune.report import format_table

    before, after, details = result.before, result.after, result.details
    rows = [[key, before[key], after[key], before[key] / after[key] if after[key] else None]
            for key in ("parameters", "nonzero_parameters", "zero_fraction", "flops_per_image",
                        "train_step_ms", "inference_ms", "test_acc") if key in before]
    print(format_table(["", "before", "after", "before / after"], rows))
    if details.get("kept_live"):
        print(f"kept (zero weights, but a live constant through a bias or batch norm): "
              f"{details['kept_live']}")
    if details.get("unshrinkable"):
        print(f"left whole: {details['unshrinkable']}")
    print(f"timing: batch of {before['batch_size']}, medians; wrote {result.out}")
