"""Pool the magnitude comparisons of several path summaries into one band table.

path_summary.py reads its fronts from RUN; seeds run on another day (or machine of the
same kind) keep only their summary.json. This joins the per-seed grid rows of several
summaries (a seed may appear in one of them only), and writes path - magnitude by
sparsity band over all their seeds, the seed as the unit, with one more band for the
whole 50-97% range (where the two are within noise of each other: the interval's lower
end is the largest loss the data still allow).

    python experiments/pareto/pool_bands.py \
        docs/results/path/magnitudew5-t12-noise-grid-cpu3/summary.json \
        docs/results/path/magnitudew5-t12-noise-grid-s5-8/summary.json \
        --out docs/results/path/magnitudew5-t12-noise-grid-9seeds
"""

from __future__ import annotations

import argparse
from pathlib import Path

from magnitude_bands import BANDS, band_rows, band_table  # this folder's

from moprune.io import read_json, write_json

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("summaries", type=Path, nargs="+", help="path_summary.py's summary.json")
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

magnitude: dict[int, dict] = {}
sources: dict[int, str] = {}
dense: dict[int, float] = {}
for file in args.summaries:
    if not file.is_file():
        parser.error(f"no summary at {file}")
    summary = read_json(file)
    for seed, comparison in summary.get("magnitude", {}).items():
        if int(seed) in sources:
            parser.error(f"seed {seed} is in {sources[int(seed)]} and {file}")
        sources[int(seed)] = str(file)
        magnitude[int(seed)] = comparison
        if seed in summary.get("dense_test_acc", {}):
            dense[int(seed)] = summary["dense_test_acc"][seed]
if not magnitude:
    parser.error("no magnitude comparison in these summaries")

# path_summary.py's bands, and the whole range below 97% sparsity
bands = band_rows(dict(sorted(magnitude.items())), [*BANDS, (0.50, 0.97)])
table = band_table(bands)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "magnitude_bands.md").write_text(
    f"Seeds {', '.join(map(str, sorted(sources)))} (per-seed values in that order)\n\n"
    f"{table}\n")
write_json(args.out / "pooled.json", {"sources": sources, "dense_test_acc": dense,
                                      "magnitude_bands": bands})
print(table)
