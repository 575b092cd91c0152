"""``moprune fidelity``: how well a proxy ranks configurations as the base network does
(:func:`moprune.runs.fidelity_run`)."""

from __future__ import annotations

import argparse
from typing import Any

from moprune.cli.common import integer
from moprune.cli.hpo_flags import add_hpo_flags, run_settings

__all__ = ["add", "run"]


def add(sub: Any) -> None:
    p = sub.add_parser("fidelity", help="rank agreement of proxy and base network over "
                       "quasi-random configurations")
    add_hpo_flags(p, proxy_none=False)
    p.add_argument("--configs", type=integer("--configs", ge=3), default=16,
                   help="configurations (default 16)")
    p.add_argument("--seeds", type=integer("--seeds", ge=1), default=1,
                   help="seeds per configuration and network; scores are their means "
                        "(default 1)")
    p.add_argument("--bootstrap", type=integer("--bootstrap", ge=2), default=1000,
                   help="bootstrap replicates of the 95%% intervals (default 1000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from moprune.runs.hpo import FidelityRunSettings, fidelity_run

    config, hpo = run_settings(args)
    settings = FidelityRunSettings(
        proxy=hpo.proxy, selector=hpo.selector, flops_floor=hpo.flops_floor,
        tolerance=hpo.tolerance, lr_transfer=hpo.lr_transfer, space=hpo.space,
        configs=args.configs, seeds=args.seeds, bootstrap=args.bootstrap, top_k=hpo.top_k)
    r = fidelity_run(config, settings, args.out).to_dict()
    ci = r["intervals"]

    def show(key: str) -> str:
        value = r[key]
        if value is None:
            return "undefined (constant scores)"
        interval = f" [{ci[key][0]:.2f}, {ci[key][1]:.2f}]" if ci.get(key) else ""
        return f"{value:.3f}{interval}"

    overlap = r[f"top{r['top_k']}_overlap"]
    print(f"{args.configs} configurations x {args.seeds} seeds (95% bootstrap intervals): "
          f"Spearman rho {show('spearman_rho')}, Kendall tau {show('kendall_tau')}, "
          f"top-{r['top_k']} overlap {overlap:.2f}, regret of the proxy's top-1 "
          f"{show('regret_top1_points')} points, top-3 {show('regret_top3_points')} points; "
          f"proxy {r['seconds']['proxy']:.0f} s, base {r['seconds']['base']:.0f} s; "
          f"wrote {args.out}")
    return 0
