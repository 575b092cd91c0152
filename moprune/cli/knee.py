"""``moprune knee``: a front's knee as a model file (:func:`moprune.runs.knee_run`)."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import number

__all__ = ["add", "run"]


def _noise(text: str) -> float | str:
    """``--noise``: ``auto`` or an accuracy in [0, 1)."""
    return "auto" if text == "auto" else number("--noise", ge=0, lt=1)(text)


_noise.__name__ = "'auto' or an accuracy in [0, 1)"


def add(sub: Any) -> None:
    from moprune.names import KNEES

    p = sub.add_parser("knee", help="write the knee model of a front")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by moprune front")
    p.add_argument("--selector", default="chord",
                   help=f"a registered knee selector: {' | '.join(KNEES)} (default chord)")
    p.add_argument("--out", metavar="FILE", help="model file (default RUN_DIR/knee-SELECTOR.pt)")
    p.add_argument("--axes", choices=["objectives", "kept", "flops"], default=None,
                   help="the plane of the knee: (f1, f2), (validation error, kept share) or "
                        "(validation error, FLOPs share); default: the front's knee_axes")
    p.add_argument("--include-empty", action="store_true",
                   help="let the empty network (all weights 0) be a knee candidate")
    p.add_argument("--max-share", type=number("--max-share", gt=0, le=1), default=None,
                   metavar="SHARE",
                   help="a budget instead of a knee: the most accurate non-dominated point "
                        "keeping at most SHARE of the FLOPs (--axes flops, the default "
                        "here) or of the weights (--axes kept); file knee-max-AXESSHARE.pt")
    p.add_argument("--floor", type=number("--floor", ge=0, lt=1), default=0.0,
                   metavar="SHARE",
                   help="with --axes kept or flops: the knee of the points keeping at least "
                        "SHARE only (a knee no smaller than that); file "
                        "knee-SELECTOR-floorSHARE.pt")
    p.add_argument("--tolerance", type=number("--tolerance", ge=0, lt=1), default=0.0,
                   metavar="ACC",
                   help="with --axes kept or flops: the smallest point within ACC of the "
                        "knee's validation accuracy (0.02 = 2 points: differences counted as "
                        "noise); file knee-SELECTOR-tolACC.pt")
    p.add_argument("--noise", type=_noise, default=0.0, metavar="ACC|auto",
                   help="with --max-share: validation accuracy differences up to ACC are "
                        "ties (auto: two standard errors on the validation split), and the "
                        "largest point in the budget within ACC of the most accurate is "
                        "taken; file knee-max-AXESSHARE-noiseACC.pt")
    p.add_argument("--compact", action="store_true",
                   help="also write the knee with its dead channels removed (*-compact.pt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.cli.compact import print_compaction
    from moprune.runs.front import knee_run
    from moprune.validation import check_out_file

    made = knee_run(args.run_dir, selector=args.selector, axes=args.axes,
                    include_empty=args.include_empty, max_share=args.max_share,
                    floor=args.floor, tolerance=args.tolerance, noise=args.noise,
                    out=check_out_file(args.out, "--out") if args.out else None,
                    compact=args.compact)
    knee = made.knee
    point, size = knee.point, knee.size
    print(f"{knee.selector} knee of {args.run_dir}: {point.key}")
    print(f"  test accuracy {point.test_acc:.4f}, validation accuracy {point.val_acc:.4f}")
    print(f"  sparsity {point.sparsity:.2%} of {point.scope_size} weights in scope "
          f"(kept {point.scope_size - point.zeros})"
          + (f", FLOPs share {point.flops_share:.2%}" if point.flops_share is not None else ""))
    print(f"  parameters {size['parameters']}, nonzero {size['nonzero_parameters']}; "
          f"{size['dense_bytes'] / 1024:.1f} KiB dense, {size['sparse_bytes'] / 1024:.1f} KiB "
          f"as sparse (value, index) pairs")
    print(f"  wrote {knee.path}")
    if made.compacted is not None:
        print_compaction(made.compacted)
    return 0
