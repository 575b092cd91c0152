"""Path minus magnitude by sparsity band, shared by path_summary.py and pool_bands.py.

In test accuracy points: each seed's mean over its grid points in the band, then the mean
over seeds with a t interval (the seed is the unit: the points of one seed share its
networks' noise; moprune.report.band_differences).
"""

from __future__ import annotations

from moprune.report import band_differences, format_table

BANDS = [(0.50, 0.80), (0.80, 0.90), (0.90, 0.95), (0.95, 0.97), (0.97, 0.985),
         (0.985, 1.0)]


def band_rows(magnitude: dict, bands: list[tuple[float, float]] = BANDS) -> list[list[object]]:
    """The band table's rows from path_vs_magnitude.py's comparison rows, by seed."""
    differences = {int(s): [(float(r[0].rstrip("%")) / 100, r[-1]) for r in m["rows"]]
                   for s, m in magnitude.items()}
    return [b.row() for b in band_differences(differences, bands)]


def band_table(rows: list[list[object]]) -> str:
    """The rows as a Markdown table."""
    return format_table(["sparsity", "path - magnitude per seed (points)", "mean",
                         "95% interval (t, seeds)"], rows, markdown=True)
