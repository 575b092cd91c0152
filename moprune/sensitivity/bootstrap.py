"""How sure a sensitivity figure is: bootstrap over the seeds of every grid cell.

Every cell of a landscape is trained with several seeds. A bootstrap replicate draws, for
every cell of every network independently, as many seed values as there are with
replacement and averages them; every figure of :func:`~moprune.sensitivity.landscape.
compare_landscapes` is computed on each replicate, and its 95% interval is the 2.5th and
97.5th percentiles over the replicates. Which single cells of a pruned network differ
from the base network's is a per-cell Welch t-test (:func:`significant_cells`).

With few seeds the percentile bootstrap is narrow (its spread of a mean is
``sqrt((S - 1) / S)`` of the usual standard error: 0.82 at 3 seeds), and the held-out
figures (regret, gain of retuning) of a replicate can meet one seed value on both sides
of the split. So an interval is a lower bound on the uncertainty, not an exact 95%.
With one seed there is nothing to resample: no interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from moprune.errors import ConfigError
from moprune.sensitivity.landscape import Grid, as_runs, compare_landscapes

__all__ = ["bootstrap_intervals", "resample", "seed_noise", "significant_cells"]

#: The figures of a comparison that get intervals (per hyperparameter or one number).
PER_PARAM = ("wasserstein_decades", "best_shift_decades", "retune_gain_points")
SCALAR = ("jensen_shannon", "spearman_rho", "regret_points")


def resample(runs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` replicates of per-seed runs ``(S, *shape)``: each cell's S values drawn with
    replacement from its own, independently of the other cells; shape ``(n, S, *shape)``."""
    runs = np.asarray(runs, dtype=float)
    pick = rng.integers(0, runs.shape[0], size=(n, *runs.shape))
    return np.take_along_axis(np.broadcast_to(runs, (n, *runs.shape)), pick, axis=1)


def _interval(values: Sequence[float]) -> list[float] | None:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    return None if v.size == 0 else [float(x) for x in np.percentile(v, [2.5, 97.5])]


def bootstrap_intervals(grid: Grid, base: np.ndarray, other: np.ndarray, *, n: int = 1000,
                        seed: int = 0, **distribution: Any) -> dict[str, Any] | None:
    """95% intervals of every figure of ``compare_landscapes(grid, base, other)`` (same
    keys; ``[low, high]`` per hyperparameter or per figure), or None when either network
    has one seed. ``distribution``: the keyword arguments of the comparison."""
    if n < 2:
        raise ConfigError(f"the bootstrap needs at least 2 replicates, got {n}")
    b = np.nan_to_num(as_runs(grid, base, "first landscape"))
    o = np.nan_to_num(as_runs(grid, other, "second landscape"))
    if b.shape[0] < 2 or o.shape[0] < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = [compare_landscapes(grid, rb, ro, **distribution)
             for rb, ro in zip(resample(b, n, rng), resample(o, n, rng), strict=True)]
    out: dict[str, Any] = {key: {name: _interval([d[key][name] for d in draws])
                                 for name in grid.names} for key in PER_PARAM}
    out.update({key: _interval([d[key] for d in draws]) for key in SCALAR})
    return out


def significant_cells(base: np.ndarray, other: np.ndarray, *, alpha: float = 0.05
                      ) -> np.ndarray:
    """Cells whose mean differs from the base network's: Welch's t-test per cell over the
    seeds, two-sided at ``alpha`` (not corrected for the number of cells). A t-test, not
    the bootstrap, because a percentile bootstrap over 3 values per cell is too narrow
    to test one cell (it would flag about one cell in five of two equal landscapes). All
    False when either has one seed; a cell where every seed of both gave the same value
    is not significant."""
    from scipy.stats import ttest_ind

    base = np.nan_to_num(np.asarray(base, dtype=float))
    other = np.nan_to_num(np.asarray(other, dtype=float))
    if base.shape[0] < 2 or other.shape[0] < 2:
        return np.zeros(base.shape[1:], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cells whose seeds all agree
        p = ttest_ind(other, base, axis=0, equal_var=False).pvalue
    return np.nan_to_num(np.asarray(p, dtype=float), nan=1.0) < alpha


def seed_noise(runs: Mapping[str, np.ndarray], diverged: Mapping[str, np.ndarray]
               ) -> dict[str, Any] | None:
    """The seed noise of the landscapes: the median over cells of the standard deviation
    between seeds (ddof 1), over the cells where no seed diverged (every cell when each
    has a diverged seed); None with one seed."""
    stds, clean = [], []
    for name, r in runs.items():
        r = np.nan_to_num(np.asarray(r, dtype=float))
        if r.shape[0] < 2:
            return None
        stds.append(r.std(axis=0, ddof=1).ravel())
        clean.append((np.asarray(diverged[name]) == 0).ravel())
    std, ok = np.concatenate(stds), np.concatenate(clean)
    use = std[ok] if ok.any() else std
    return {"median_std": float(np.median(use)), "cells": int(use.size),
            "cells_left_out": int(std.size - use.size)}
