"""Hyperparameter-performance landscapes on a log grid, and how far two of them are apart.

A landscape is an array of validation accuracies over a grid of hyperparameter values
(one axis per hyperparameter, values log-spaced around an optimum). To compare two
landscapes, each is turned into a probability distribution over the cells
(:func:`to_distribution`): where on the grid the good settings are. Then:

- per hyperparameter, the Wasserstein-1 distance between the two marginals, with the
  cells at their log10 values: how many decades the good region moved;
- the Jensen-Shannon divergence of the joint distributions (base 2, in [0, 1]);
- the shift of the best cell, in decades per hyperparameter, and what that shift is worth:
  the second network's best accuracy minus its accuracy with that one hyperparameter put
  back at the first's best value, in points;
- Spearman's rho over the cells' accuracies;
- the regret of keeping the first landscape's best cell on the second network: the
  second's best accuracy minus its accuracy at that cell, in points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from moprune.errors import ConfigError

__all__ = ["DISTRIBUTIONS", "Grid", "compare_landscapes", "log_grid", "to_distribution"]

DISTRIBUTIONS = ("softmax", "quantile")


@dataclass(frozen=True)
class Grid:
    """Log-spaced values per hyperparameter; cells are the Cartesian product (C order)."""

    names: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    def log10(self, axis: int) -> np.ndarray:
        return np.log10(np.asarray(self.values[axis], dtype=float))

    def cells(self) -> list[dict[str, float]]:
        """Every cell's values, in C order (the last hyperparameter varies fastest)."""
        return [dict(zip(self.names, (self.values[a][i] for a, i in enumerate(idx)),
                         strict=True)) for idx in np.ndindex(*self.shape)]

    def index(self, cell: Mapping[str, float]) -> tuple[int, ...]:
        """The grid index of a cell's values (nearest in log space)."""
        return tuple(int(np.argmin(np.abs(self.log10(a) - np.log10(float(cell[n])))))
                     for a, n in enumerate(self.names))

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "values": [list(v) for v in self.values]}


def log_grid(center: Mapping[str, float], names: Sequence[str], *, size: int = 7,
             span: float = 1.0) -> Grid:
    """``size`` values per hyperparameter, log-spaced from ``center / 10**span`` to
    ``center * 10**span`` (the center is the middle value when ``size`` is odd).

    Raises:
        ConfigError: for a size below 2, a span <= 0, a missing or non-positive center.
    """
    if not isinstance(size, int) or size < 2:
        raise ConfigError(f"grid size must be an integer >= 2, got {size!r}")
    if not span > 0:
        raise ConfigError(f"grid span must be > 0 decades, got {span!r}")
    if len(names) < 1:
        raise ConfigError("a grid needs at least one hyperparameter")
    values = []
    for name in names:
        if name not in center:
            raise ConfigError(f"no optimum value for {name!r} to center the grid on")
        c = float(center[name])
        if not c > 0:
            raise ConfigError(f"a log grid needs a positive center; {name} = {c}")
        values.append(tuple(float(v) for v in
                            c * np.logspace(-span, span, size)))
    return Grid(tuple(names), tuple(values))


def to_distribution(acc: np.ndarray, *, method: str = "softmax", temperature: float = 0.01,
                    quantile: float = 0.8) -> np.ndarray:
    """Accuracies over the grid as a probability distribution over its cells.

    ``softmax``: ``p ~ exp(acc / temperature)``; with accuracies in [0, 1] and the default
    temperature 0.01, one point of accuracy is a factor e. ``quantile``: uniform mass on
    the cells at or above the ``quantile`` of the accuracies, 0 elsewhere. NaN cells
    (failed trainings) count as accuracy 0.
    """
    a = np.nan_to_num(np.asarray(acc, dtype=float), nan=0.0)
    if method == "softmax":
        if not temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        z = (a - a.max()) / temperature
        p = np.exp(z)
    elif method == "quantile":
        if not 0 <= quantile < 1:
            raise ConfigError(f"quantile must be in [0, 1), got {quantile}")
        p = (a >= np.quantile(a, quantile)).astype(float)
    else:
        raise ConfigError(f"distribution must be one of {DISTRIBUTIONS}, got {method!r}")
    return p / p.sum()


def compare_landscapes(grid: Grid, base: np.ndarray, other: np.ndarray, *,
                       method: str = "softmax", temperature: float = 0.01,
                       quantile: float = 0.8) -> dict[str, Any]:
    """Distances between two landscapes on the same grid (see the module docstring)."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import spearmanr, wasserstein_distance

    base, other = np.asarray(base, dtype=float), np.asarray(other, dtype=float)
    if base.shape != grid.shape or other.shape != grid.shape:
        raise ConfigError(f"landscapes must have the grid's shape {grid.shape}, got "
                          f"{base.shape} and {other.shape}")
    p = to_distribution(base, method=method, temperature=temperature, quantile=quantile)
    q = to_distribution(other, method=method, temperature=temperature, quantile=quantile)
    wasserstein, shift, gain = {}, {}, {}
    b_best = np.unravel_index(int(np.nanargmax(base)), grid.shape)
    o_best = np.unravel_index(int(np.nanargmax(other)), grid.shape)
    for axis, name in enumerate(grid.names):
        others = tuple(a for a in range(len(grid.names)) if a != axis)
        pm, qm = p.sum(axis=others), q.sum(axis=others)
        wasserstein[name] = float(wasserstein_distance(grid.log10(axis), grid.log10(axis),
                                                       pm, qm))
        shift[name] = float(grid.log10(axis)[o_best[axis]] - grid.log10(axis)[b_best[axis]])
        # What retuning this hyperparameter alone is worth: the other network at its best
        # cell, against the same cell with this hyperparameter back at the first's best.
        back = list(o_best)
        back[axis] = b_best[axis]
        gain[name] = float(100 * (np.nanmax(other) - np.nan_to_num(other[tuple(back)])))
    a, b = np.nan_to_num(base.ravel()), np.nan_to_num(other.ravel())
    rho = None if np.ptp(a) == 0 or np.ptp(b) == 0 else float(spearmanr(a, b).statistic)
    return {
        "wasserstein_decades": wasserstein,
        "jensen_shannon": float(jensenshannon(p.ravel(), q.ravel(), base=2) ** 2),
        "best_shift_decades": shift,
        "retune_gain_points": gain,
        "spearman_rho": rho,
        "regret_points": float(100 * (np.nanmax(other) - np.nan_to_num(other[b_best]))),
        "best_cell": {"base": [int(i) for i in b_best], "other": [int(i) for i in o_best]},
        "best_accuracy": {"base": float(np.nanmax(base)), "other": float(np.nanmax(other))},
    }
