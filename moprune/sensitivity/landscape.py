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

A landscape trained with several seeds is an array with a leading seed axis; the
distances above are those of the mean landscapes. The regret and the gain of retuning
compare a best cell with another cell, and a best cell chosen on the same noisy values
that score it is too good (the winner's curse: with a point of seed noise and a handful
of near-equal cells near the top, the maximum of the means is inflated by more than half
a point). With two or more seeds they are therefore held out: the best cell is chosen on
all seeds but one and scored on the one left out, in turn for every seed, and averaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from moprune.errors import ConfigError

__all__ = ["DISTRIBUTIONS", "Grid", "as_runs", "compare_landscapes", "log_grid",
           "to_distribution"]

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


def _w1(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """Wasserstein-1 distance of two distributions on the same sorted support ``x``: the
    area between their CDFs (what scipy's ``wasserstein_distance`` gives, without its
    per-call overhead, which matters inside a bootstrap)."""
    return float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))[:-1] * np.diff(x)))


def as_runs(grid: Grid, landscape: np.ndarray, name: str = "landscape") -> np.ndarray:
    """A landscape as per-seed runs, shape ``(seeds, *grid.shape)``; a landscape of the
    grid's own shape is one seed.

    Raises:
        ConfigError: for any other shape.
    """
    a = np.asarray(landscape, dtype=float)
    if a.shape == grid.shape:
        return a[None]
    if a.ndim == len(grid.shape) + 1 and a.shape[1:] == grid.shape and a.shape[0] >= 1:
        return a
    raise ConfigError(f"landscapes must have the grid's shape {grid.shape} (or seeds x "
                      f"that), got {a.shape} for the {name}")


def compare_landscapes(grid: Grid, base: np.ndarray, other: np.ndarray, *,
                       method: str = "softmax", temperature: float = 0.01,
                       quantile: float = 0.8) -> dict[str, Any]:
    """Distances between two landscapes on the same grid (see the module docstring).

    ``base`` and ``other`` are landscapes of the grid's shape, or per-seed runs of them
    (a leading seed axis); NaN cells (failed trainings) count as accuracy 0.
    """
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import spearmanr

    base_runs = np.nan_to_num(as_runs(grid, base, "first landscape"))
    other_runs = np.nan_to_num(as_runs(grid, other, "second landscape"))
    base_mean, other_mean = base_runs.mean(axis=0), other_runs.mean(axis=0)
    p = to_distribution(base_mean, method=method, temperature=temperature, quantile=quantile)
    q = to_distribution(other_mean, method=method, temperature=temperature, quantile=quantile)
    b_best = tuple(int(i) for i in np.unravel_index(int(np.argmax(base_mean)), grid.shape))
    o_best = np.unravel_index(int(np.argmax(other_mean)), grid.shape)
    wasserstein, shift = {}, {}
    for axis, name in enumerate(grid.names):
        others = tuple(a for a in range(len(grid.names)) if a != axis)
        wasserstein[name] = _w1(grid.log10(axis), p.sum(axis=others), q.sum(axis=others))
        shift[name] = float(grid.log10(axis)[o_best[axis]] - grid.log10(axis)[b_best[axis]])
    regret, gain = _held_out(grid, other_runs, b_best)
    a, b = base_mean.ravel(), other_mean.ravel()
    rho = None if np.ptp(a) == 0 or np.ptp(b) == 0 else float(spearmanr(a, b).statistic)
    return {
        "wasserstein_decades": wasserstein,
        "jensen_shannon": float(jensenshannon(p.ravel(), q.ravel(), base=2) ** 2),
        "best_shift_decades": shift,
        "retune_gain_points": gain,
        "spearman_rho": rho,
        "regret_points": regret,
        "best_cell": {"base": [int(i) for i in b_best], "other": [int(i) for i in o_best]},
        "best_accuracy": {"base": float(base_mean.max()), "other": float(other_mean.max())},
    }


def _held_out(grid: Grid, runs: np.ndarray, b_best: tuple[int, ...]
              ) -> tuple[float, dict[str, float]]:
    """Regret of ``b_best`` on the network of ``runs`` and the gain of retuning each
    hyperparameter alone, in points: with one seed on the same values, with more held
    out (the best cell chosen on the other seeds, scored on the one left out)."""
    seeds = runs.shape[0]
    folds = [(runs[0], runs[0])] if seeds == 1 else [
        (np.delete(runs, k, axis=0).mean(axis=0), runs[k]) for k in range(seeds)]
    regrets: list[float] = []
    gains: dict[str, list[float]] = {name: [] for name in grid.names}
    for choose, score in folds:
        best = np.unravel_index(int(np.argmax(choose)), grid.shape)
        regrets.append(score[best] - score[b_best])
        for axis, name in enumerate(grid.names):
            # the network at its best cell, against the same cell with this one
            # hyperparameter back at the first network's best value
            back = [int(i) for i in best]
            back[axis] = int(b_best[axis])
            gains[name].append(score[best] - score[tuple(back)])
    return (float(100 * np.mean(regrets)),
            {name: float(100 * np.mean(v)) for name, v in gains.items()})
