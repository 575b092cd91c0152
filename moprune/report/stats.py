"""Paired differences between two methods over seeds, by sparsity band."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from moprune.errors import ConfigError

__all__ = ["Band", "band_differences"]


@dataclass(frozen=True)
class Band:
    """One sparsity band: each seed's mean difference over its grid points in
    ``[low, high)``, their mean, and a two-sided t interval with the seed as the unit
    (``None`` for a band with a single seed)."""

    low: float
    high: float
    per_seed: dict[int, float]
    mean: float
    interval: tuple[float, float] | None

    def row(self) -> list[object]:
        """The band as a table row: range, per-seed values, mean, interval."""
        interval = ("" if self.interval is None
                    else f"[{self.interval[0]:+.2f}, {self.interval[1]:+.2f}]")
        return [f"{self.low:.1%}-{self.high:.1%}",
                " ".join(f"{v:+.2f}" for v in self.per_seed.values()),
                f"{self.mean:+.2f}", interval]


def band_differences(differences: Mapping[int, Sequence[tuple[float, float]]],
                     bands: Sequence[tuple[float, float]], *,
                     confidence: float = 0.95) -> list[Band]:
    """Summarise paired differences (method A minus method B at the same sparsity) by band.

    The points of one seed share its networks' noise, so the seed is the unit: each seed's
    differences in a band are averaged first, then the seeds' means give the band's mean
    and its t interval. A band no seed has a point in is left out.

    Args:
        differences: For each seed, ``(sparsity, difference)`` pairs.
        bands: ``(low, high)`` sparsity ranges, ``low`` included, ``high`` not.
        confidence: The interval's level.

    Raises:
        ConfigError: for an empty band or a confidence outside (0, 1).

    Example:
        >>> bands = band_differences({0: [(0.5, 0.2)], 1: [(0.6, -0.1)]}, [(0.5, 0.8)])
        >>> round(bands[0].mean, 2)
        0.05
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    out = []
    for low, high in bands:
        if not low < high:
            raise ConfigError(f"a band needs low < high, got [{low}, {high})")
        per_seed = {seed: float(np.mean(inside)) for seed, pairs in differences.items()
                    if (inside := [d for s, d in pairs if low <= s < high])}
        if not per_seed:
            continue
        values = np.array(list(per_seed.values()))
        mean = float(values.mean())
        interval = None
        if len(values) > 1:
            low_end, high_end = stats.t.interval(confidence, len(values) - 1, loc=mean,
                                                 scale=stats.sem(values))
            interval = (float(low_end), float(high_end))
        out.append(Band(low, high, per_seed, mean, interval))
    return out
