"""``moprune front``: a Pareto front of sparse networks (:func:`moprune.runs.front_run`);
its method's options are flags derived from the method classes' fields."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from moprune.cli.common import (
    add_flags,
    add_run_flags,
    float_list,
    group,
    resolve_config,
    typed,
)
from moprune.names import FRONT_METHODS

__all__ = ["add", "run"]

FRONT_FLAGS: list[tuple[str, str, Callable[[str], Any] | None, str]] = [
    ("--method", "method", str, "the front method: " + " | ".join(FRONT_METHODS)
     + " (default path)"),
    ("--complexity", "complexity", str, "l1 | group-l1 | flops"),
    ("--scope", "scope", str, "all | dense | conv"),
    ("--tau", "tau", float, "pruning threshold (default 1e-3, none with --prox; 0: off)"),
    ("--freeze-masks", "freeze_masks", None, "pruned weights stay zero"),
    ("--prox", "prox", None, "proximal l1 step: soft-thresholding, exact zeros"),
    ("--finetune", "finetune", int, "debias each point: E epochs, mask frozen, lam 0"),
    ("--knee", "knee", str, "chord | angle | slope: knee retrained for --epochs"),
    ("--knee-axes", "knee_axes", str, "auto | objectives | kept | flops"),
]


def _method_flags() -> list[tuple[str, str, Callable[[str], Any] | None, str, Any, Any]]:
    """The front methods' options as flags (:func:`moprune.front.methods.method_flags`):
    ``(flag, flat key, type, help, choices, range)``; a flag several methods share says
    what it is for each."""
    from moprune.front.methods import method_flags

    types: dict[str, Callable[[str], Any] | None] = {"int": int, "float": float, "str": str,
                                                     "tuple": float_list, "bool": None}
    out = []
    for entry in method_flags():
        said: dict[tuple[str, Any], list[str]] = {}
        for method, help_, default in entry["per_method"]:
            said.setdefault((help_, default), []).append(method)
        parts = [("" if len(said) == 1 and len(entry["methods"]) > 1 else
                  "/".join(methods) + ": ") + help_ +
                 (f" (default {default})" if default not in (None, False) else "")
                 for (help_, default), methods in said.items()]
        out.append((f"--{entry['flag']}", entry["key"], types.get(entry["type"], str),
                    "; ".join(parts), entry["choices"], entry["range"]))
    return out


def _add_method_flags(p: argparse.ArgumentParser) -> None:
    """The flags of every front method's options (shared flags once), in one group."""
    section = group(p, "front method options")
    for flag, key, typ, help_, choices, spec in _method_flags():
        if typ is None:
            section.add_argument(flag, dest=key, action="store_true",
                                 default=argparse.SUPPRESS, help=help_)
        else:
            section.add_argument(flag, dest=key, type=typed(typ, flag, spec),
                                 choices=choices, default=argparse.SUPPRESS, help=help_,
                                 metavar=flag.lstrip("-").upper().replace("-", "_"))


_AXES_WORDS = {"objectives": "(f1, f2)", "kept": "(val error, kept)",
               "flops": "(val error, FLOPs)"}


def add(sub: Any) -> None:
    p = sub.add_parser("front", help="train a Pareto front of sparse networks (resumes)")
    add_run_flags(p)
    add_flags(p, FRONT_FLAGS)
    _add_method_flags(p)
    p.set_defaults(func=run)


def front_keys() -> set[str]:
    """The front's flags that are top-level keys of its config (the method's options by
    their flat keys)."""
    return {key for _, key, *_ in FRONT_FLAGS} | {key for _, key, *_ in _method_flags()}


def run(args: argparse.Namespace) -> int:
    from moprune.front.config import FrontConfig
    from moprune.report import front_table
    from moprune.runs.front import front_run

    config: FrontConfig = resolve_config(FrontConfig, args, flat=front_keys())
    made = front_run(config, args.out)
    front, knee = made.front, made.knee
    axes = front.meta["knee_axes"]
    nd = front.non_dominated(axes=axes)
    print(front_table(nd))
    runs = "points" if config.method.one_run else "runs"
    counts = ", ".join(f"{n} in {_AXES_WORDS[a]}"
                       for a, n in front.meta["non_dominated_count"].items())
    print(f"{len(front)} {runs}, {len(nd)} non-dominated in {axes} axes ({counts}), "
          f"hypervolume {front.meta['hypervolume']:.4f}; {config.knee} knee: {knee.key} "
          f"(test acc {knee.test_acc:.4f}, kept {knee.kept:.2%}); wrote {made.out}")
    return 0
