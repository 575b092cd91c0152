"""Weight searches for the weighted-sum front: which lam to train next.

A search calls ``evaluate(lam)`` (one training run, returning a :class:`Point`) until
its budget of runs is spent, and returns the points in the order they were made.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from moprune.errors import ConfigError
from moprune.front.points import Front, Point
from moprune.registry import Registry

__all__ = [
    "WEIGHT_SEARCHES",
    "BisectionSearch",
    "DichotomicSearch",
    "GridSearch",
    "WeightSearch",
    "default_grid",
]

Evaluate = Callable[[float], Point]


def default_grid(n: int) -> list[float]:
    """``n`` weights from 0 to 1, log-spaced in the trade-off ``lam / (1 - lam)``
    (1e-2 .. 1e3) between the two extremes: the interesting part of a front with f2
    normalised by the number of weights lies at lam close to 1."""
    if n < 2:
        raise ConfigError(f"a grid needs at least 2 weights, got {n}")
    ratios = np.logspace(-2, 3, n - 2) if n > 2 else np.array([])
    return [0.0, *[float(r / (1 + r)) for r in ratios], 1.0]


class WeightSearch(ABC):
    """Base class: :meth:`run` validates the budget, ``_run`` searches."""

    name = ""

    def run(self, evaluate: Evaluate, *, budget: int) -> list[Point]:
        """Train up to ``budget`` runs; returns their points in order."""
        if budget < 2:
            raise ConfigError(f"budget must be >= 2 runs, got {budget}")
        points: list[Point] = []

        def counted(lam: float) -> Point:
            point = evaluate(lam)
            points.append(point)
            return point

        self._run(counted, budget)
        return points

    @abstractmethod
    def _run(self, evaluate: Evaluate, budget: int) -> None: ...


class GridSearch(WeightSearch):
    """A fixed list of weights (the Keras reference used 26 values); with no list,
    :func:`default_grid` of ``budget`` weights."""

    name = "grid"

    def __init__(self, lams: Sequence[float] | None = None) -> None:
        if lams is not None:
            bad = [lam for lam in lams if not 0.0 <= lam <= 1.0]
            if bad:
                raise ConfigError(f"grid weights must be in [0, 1], got {bad[0]}")
            if not lams:
                raise ConfigError("the grid of weights is empty")
        self.lams = None if lams is None else [float(v) for v in lams]

    def _run(self, evaluate: Evaluate, budget: int) -> None:
        for lam in (self.lams or default_grid(budget))[:budget]:
            evaluate(lam)


def _ws_lam(a: Point, b: Point) -> float:
    """The weight whose weighted-sum level line runs through ``a`` and ``b``: the normal
    of the segment, ``(f2_b - f2_a, f1_a - f1_b)`` scaled to sum 1, as lam = its f2 part."""
    w1, w2 = a.f2 - b.f2, b.f1 - a.f1  # a: lower f1, higher f2
    if w1 <= 0 or w2 <= 0:
        raise ValueError("points do not form a supported segment")
    return w2 / (w1 + w2)


class DichotomicSearch(WeightSearch):
    """Aneja & Nair's dichotomic search: start from the two extremes (lam = 0, 1); for
    every pair of adjacent supported points, train the weight normal to their segment; a
    new point strictly below the segment splits the pair for the next level, otherwise
    the pair is final. If every pair is final while runs are left, the widest gap between
    points of neighbouring weights is split at the mean of the weights (bisection), so
    the budget refines the front instead of being left unused.

    Args:
        tol: Relative improvement of the weighted sum a new point needs to count as
            below the segment (training is stochastic).
    """

    name = "dichotomic"

    def __init__(self, tol: float = 1e-3) -> None:
        self.tol = tol

    def _run(self, evaluate: Evaluate, budget: int) -> None:
        done: dict[float, Point] = {}

        def train(lam: float) -> Point:
            done[lam] = evaluate(lam)
            return done[lam]

        a, b = train(0.0), train(1.0)
        pairs = [(a, b)]
        while len(done) < budget:
            next_pairs = []
            for a, b in pairs:
                if len(done) >= budget:
                    break
                try:
                    lam = _ws_lam(a, b)
                except ValueError:
                    continue
                if any(abs(lam - seen) < 1e-9 for seen in done):
                    continue
                c = train(lam)
                level = (1 - lam) * a.f1 + lam * a.f2
                if (1 - lam) * c.f1 + lam * c.f2 < level - self.tol * abs(level):
                    next_pairs += [(a, c), (c, b)]
            pairs = next_pairs
            if not pairs and len(done) < budget:
                gap_lam = _bisect_next(done)
                if gap_lam is None:
                    return
                train(gap_lam)
                pairs = _adjacent_pairs(done)


def _bisect_next(done: dict[float, Point]) -> float | None:
    """The mean of the two neighbouring weights whose points lie farthest apart in
    normalised objective space (not yet trained), or None when no pair is apart."""
    lams = sorted(done)
    front = Front([done[lam] for lam in lams])
    F = Front.normalize(front.objectives(), front.bounds())
    gaps = np.linalg.norm(np.diff(F, axis=0), axis=1)
    for i in np.argsort(-gaps, kind="stable"):
        lam = 0.5 * (lams[i] + lams[i + 1])
        if gaps[i] > 0 and all(abs(lam - seen) > 1e-12 for seen in done):
            return lam
    return None


def _adjacent_pairs(done: dict[float, Point]) -> list[tuple[Point, Point]]:
    return list(itertools.pairwise(Front(list(done.values())).non_dominated()))


class BisectionSearch(WeightSearch):
    """Start from lam = 0 and 1, then repeatedly train the mean of the two neighbouring
    weights whose points lie farthest apart in normalised objective space."""

    name = "bisection"

    def _run(self, evaluate: Evaluate, budget: int) -> None:
        done = {0.0: evaluate(0.0), 1.0: evaluate(1.0)}
        while len(done) < budget:
            lam = _bisect_next(done)
            if lam is None:
                return
            done[lam] = evaluate(lam)


WEIGHT_SEARCHES: Registry[type[WeightSearch]] = Registry("weight search")
for _cls in (GridSearch, DichotomicSearch, BisectionSearch):
    WEIGHT_SEARCHES.register(_cls.name)(_cls)
