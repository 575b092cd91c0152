"""The default recipe's pipeline against the full one (default_recipe.sh): saving and
regret, predicted by the pay check and measured.

    python experiments/proxy_hpo/default_recipe.py RUN_DIR --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from moprune.io import read_json, write_json


def summarize(run: Path) -> dict:
    proxy = read_json(run / "proxy" / "hpo" / "results.json")
    full = read_json(run / "full" / "results.json")
    stages = read_json(run / "proxy" / "stages.json")
    pay = (proxy.get("proxy_decision") or {}).get("check") or {}
    spent, whole = proxy["time"]["total"], full["time"]["total"]
    best_p, best_f = proxy["best"], full["best"]
    knee = stages["knee"]["result"]
    return {
        "seed": proxy["train"]["seed"],
        "proxy_used": bool(proxy.get("proxy")),
        "decision": (proxy.get("proxy_decision") or {}).get("reason"),
        "knee": {"point": knee["key"], "flops_share": knee.get("flops_share"),
                 "val_acc": knee["val_acc"]},
        "seconds": {"proxy_pipeline": spent, "full_pipeline": whole,
                    "proxy_phases": proxy["time"], "full_phases": full["time"]},
        "saving": {"measured": 1 - spent / whole, "predicted": pay.get("saving"),
                   "predicted_full_s": pay.get("full_s"),
                   "predicted_proxy_s": pay.get("proxy_s")},
        "test_acc": {"proxy": best_p["test_acc"], "full": best_f["test_acc"],
                     "default_hyperparameters": (proxy.get("default") or {}).get("test_acc")},
        "val_acc": {"proxy": best_p["val_acc"], "full": best_f["val_acc"],
                    "default_hyperparameters": (proxy.get("default") or {}).get("val_acc")},
        "regret_points": 100 * (best_f["test_acc"] - best_p["test_acc"]),
        "verdicts": proxy.get("verdicts"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    row = summarize(args.run)
    table = read_json(args.out) if args.out.is_file() else {"runs": []}
    table["runs"] = [r for r in table["runs"] if r["seed"] != row["seed"]] + [row]
    write_json(args.out, table)
    s = row["saving"]
    secs = row["seconds"]
    print(f"seed {row['seed']}: proxy {row['knee']['point']} "
          f"({row['knee']['flops_share']:.1%} of the FLOPs); HPO {secs['proxy_pipeline']:.0f} s "
          f"against {secs['full_pipeline']:.0f} s: saving {s['measured']:.0%} "
          f"(predicted {s['predicted']:.0%}); test accuracy {row['test_acc']['proxy']:.4f} "
          f"against {row['test_acc']['full']:.4f} (regret {row['regret_points']:+.2f} points)")
    print(json.dumps(row["verdicts"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
