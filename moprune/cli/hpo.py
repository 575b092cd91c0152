"""``moprune hpo``: hyperparameters searched on a proxy and transferred to the base
network (:func:`moprune.runs.hpo_run`); its flags are shared with ``moprune fidelity``."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import quiet_optuna, short
from moprune.cli.hpo_flags import add_hpo_flags, run_settings

__all__ = ["add", "run"]


def add(sub: Any) -> None:
    p = sub.add_parser("hpo", help="search hyperparameters on a proxy, transfer to the base "
                       "network (resumes; many workers)")
    add_hpo_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.report import format_table
    from moprune.runs.hpo import hpo_run

    quiet_optuna()
    config, settings = run_settings(args)
    results = hpo_run(config, settings, args.out).to_dict()
    counts = results["counts"]
    ran = len(results["trials"]) - counts["interrupted"]
    on = "the proxy" if results.get("proxy") else config.model
    print(f"{ran} trials on {on}: {counts['complete']} complete, {counts['pruned']} pruned, "
          f"{counts['fail']} failed" + (f" ({counts['interrupted']} interrupted by a fault "
                                        "and run again)" if counts["interrupted"] else ""))
    rows = [[", ".join(f"{k}={short(v)}" for k, v in r["params"].items()), r["val_acc"],
             r["test_acc"], r["seconds"]] for r in results["transfer"]]
    print(format_table(["configuration (on the base network)", "val acc", "test acc",
                        "seconds"], rows))
    best = results["best"]
    if best:
        print(f"best: val acc {best['val_acc']:.4f}, test acc {best['test_acc']}")
    t = results["time"]
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items())
          + f"; wrote {args.out}")
    return 0
