"""Is the recipe's knee a knife edge? The FLOPs share of the proxy the recipe takes from a
channel path, at its own constants and under each of protocol.yaml's changes of them
(the floor and the noise margin, one at a time, +-25%), on the same paths.

    python experiments/proxy_hpo/knee_stability.py RUN/path-s100 RUN/path-s101 ... \
        --json docs/results/proxy_hpo/knee_stability.json

Each argument is a front run directory (``front.json``) of the recipe's channel path. The
knee is moprune.hpo.proxy's rule: the chord knee in (validation error, FLOPs share) above
the floor, then the smallest point within the noise margin of its validation accuracy
(``k`` standard errors of that accuracy on the path's validation split; the recipe's k is
2).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import yaml

from moprune.front import Front
from moprune.report import format_table

PROTOCOL = Path(__file__).with_name("protocol.yaml")


def recipe_knee(front: Front, floor: float, standard_errors: float) -> Any:
    """The recipe's knee with the floor and noise margin given (k standard errors)."""
    knee = front.knee("chord", axes="flops", floor=floor)
    margin = standard_errors / 2.0 * front.accuracy_noise(knee.val_acc)  # 2 SE there
    return front.knee("chord", axes="flops", floor=floor, tolerance=margin) if margin else knee


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    protocol = yaml.safe_load(PROTOCOL.read_text())
    floor = float(protocol["recipe"]["floor"])
    variants = {"recipe": (floor, 2.0)}
    for f in protocol["sensitivity"]["floor"]:
        variants[f"floor {f:g}"] = (float(f), 2.0)
    for k in protocol["sensitivity"]["noise_standard_errors"]:
        variants[f"noise {k:g} SE"] = (floor, float(k))
    shares: dict[str, dict[str, float]] = {}
    rows = []
    for run in args.runs:
        front = Front.load(run / "front.json")
        chosen = {name: recipe_knee(front, f, k) for name, (f, k) in variants.items()}
        shares[str(run)] = {name: float(p.flops_share) for name, p in chosen.items()}
        rows.append([run.name, *(f"{p.tag} {p.flops_share:.1%}" for p in chosen.values())])
    table = format_table(["path", *variants], rows, markdown=True)
    print(table)
    summary = {}
    for name in variants:
        values = [s[name] for s in shares.values()]
        summary[name] = {"mean": statistics.mean(values), "min": min(values),
                         "max": max(values)}
        print(f"{name}: FLOPs share of the knee {summary[name]['mean']:.1%} on average, "
              f"{summary[name]['min']:.1%}-{summary[name]['max']:.1%} over "
              f"{len(values)} paths")
    moved = sum(any(abs(s[n] - s["recipe"]) > 1e-9 for n in variants) for s in shares.values())
    print(f"paths whose knee moves under some +-25% change: {moved} of {len(shares)}")
    if args.json is not None:
        args.json.write_text(json.dumps({"variants": variants, "shares": shares,
                                         "summary": summary, "moved": moved}, indent=2))


if __name__ == "__main__":
    main()
