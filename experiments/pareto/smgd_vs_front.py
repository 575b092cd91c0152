"""How far is the SMGD network from the weighted-sum front at equal sparsity?

Interpolates the front's test accuracy (non-dominated search points and retrained knee)
at the SMGD network's fraction of kept weights, linearly in log(kept), and reports by
how many points the front is better there (the issue's bound: at most 1 point).

    python experiments/pareto/smgd_vs_front.py runs/lenet5-dichotomic runs/lenet5-smgd
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from moprune.front import Front
from moprune.io import write_json

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("front_dir", type=Path)
parser.add_argument("smgd_dir", type=Path)
args = parser.parse_args()

front = Front.load(args.front_dir / "front.json")
smgd = Front.load(args.smgd_dir / "front.json")
points = [p for p in front.non_dominated() if p.kept > 0]
by_kept = sorted(points, key=lambda p: p.kept)
kept = np.log([p.kept for p in by_kept])
acc = np.array([p.test_acc for p in by_kept])
rows = []
for s in smgd.points:
    at = float(np.interp(np.log(s.kept), kept, acc))
    # the best front point that is at least as sparse as the SMGD network
    sparser = [p.test_acc for p in points if p.kept <= s.kept]
    rows.append({"smgd": s.key, "kept": s.kept, "test_acc": s.test_acc,
                 "front_test_acc_interpolated": at, "front_minus_smgd": at - s.test_acc,
                 "best_front_at_or_below_kept": max(sparser) if sparser else None})
    print(f"{s.key}: kept {s.kept:.2%}, test acc {s.test_acc:.4f}; front at equal sparsity "
          f"{at:.4f} ({100 * (at - s.test_acc):+.2f} points); best front point as sparse or "
          f"sparser: {max(sparser) if sparser else float('nan'):.4f}")
write_json(args.smgd_dir / "vs_front.json", rows)
