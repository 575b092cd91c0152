"""Weight searches for the weighted-sum front: which lam to train next.

A search calls ``evaluate(lam)`` (one training run, returning a :class:`Point`) until
its budget of runs is spent, and returns the points in the order they were made.
"""

from __future__ import annotations

import contextlib
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
    """Aneja & Nair's dichotomic search, largest gap first, with a bisection fallback.

    Start from the two extremes (lam = 0 and 1). Then, while runs are left, take the pair
    of adjacent non-dominated points with the largest gap, measured as the area of the
    rectangle they span in normalised objective space (the most hypervolume a point
    between them can add), and train the weight normal to their segment,
    ``(f2_a - f2_b, f1_b - f1_a)`` scaled to sum 1. A new point strictly below the
    segment makes two new pairs. A point that is not below it (training is stochastic
    and, in few epochs, far from converged where the l1 pull is weak) means the normal
    cannot split this gap: the gap, and the gaps later cut from it, are split at the mean
    of their two weights instead (bisection). Largest-gap-first order spends a small
    budget on the gaps of the front that matter, not on refining one end of it.

    The collapse cliff: past some weight every run ends at the empty network (all weights
    in scope 0), and these runs differ only in how their biases were trained. All empty
    networks count as one point, at the smallest weight that gave one: a run at lam < 1
    that ends empty closes the gap above it, and later weights are chosen below it. The
    gap between the sparsest network and the empty one is the largest in f1, so it would
    be split again and again, each run a little further down the cliff: after
    ``cliff_runs`` empty runs below lam = 1 it comes last, split only when no other gap
    is left.

    Args:
        tol: Relative improvement of the weighted sum a new point needs to count as
            below the segment.
        cliff_runs: Empty runs below lam = 1 after which the cliff's gap comes last (more
            finds the cliff's edge more closely, at the front's expense).
    """

    name = "dichotomic"

    def __init__(self, tol: float = 1e-3, cliff_runs: int = 2) -> None:
        if cliff_runs < 1:
            raise ConfigError(f"cliff_runs must be >= 1, got {cliff_runs}")
        self.tol = tol
        self.cliff_runs = cliff_runs

    def _run(self, evaluate: Evaluate, budget: int) -> None:
        done: dict[float, Point] = {0.0: evaluate(0.0), 1.0: evaluate(1.0)}
        # pairs of objective vectors whose normal failed to split them (by value: runs
        # that end in the same network, e.g. all weights 0, are one point)
        bisect: set[tuple[tuple[float, float], ...]] = set()
        while len(done) < budget:
            step = self._next(done, bisect, self.cliff_runs)
            if step is None:
                return
            lam, pair, use_normal = step
            c = evaluate(lam)
            done[lam] = c
            a, b = pair
            level = (1 - lam) * a.f1 + lam * a.f2
            below = (1 - lam) * c.f1 + lam * c.f2 < level - self.tol * abs(level)
            if not (use_normal and below):  # bisect this gap and the gaps cut from it
                ka, kb, kc = (a.f1, a.f2), (b.f1, b.f2), (c.f1, c.f2)
                bisect.update({(ka, kb), (ka, kc), (kc, kb)})

    @staticmethod
    def _next(done: dict[float, Point], bisect: set[tuple[tuple[float, float], ...]],
              cliff_runs: int) -> tuple[float, tuple[Point, Point], bool] | None:
        """The next weight: (lam, the pair it splits, whether it is the pair's normal)."""
        empty = [lam for lam, p in done.items() if p.zeros == p.scope_size > 0]
        cliff_closed = sum(lam < 1.0 for lam in empty) >= cliff_runs
        if empty:  # one empty point, at the smallest weight that gave one
            keep = min(empty)
            done = {lam: p for lam, p in done.items() if lam not in empty or lam == keep}
        front = Front(list(done.values()))
        nd = front.non_dominated()
        if len(nd) < 2:
            return None
        F = Front.normalize(front.objectives(nd), front.bounds())
        gaps = np.prod(np.abs(np.diff(F, axis=0)), axis=1)
        order = [int(i) for i in np.argsort(-gaps, kind="stable")]
        if cliff_closed:  # the cliff's gap only when no other gap is left
            order.sort(key=lambda i: nd[i + 1].zeros == nd[i + 1].scope_size > 0)
        for i in order:
            a, b = nd[i], nd[i + 1]
            if gaps[i] <= 0 or a.lam is None or b.lam is None:
                continue
            # weights that gave the same objectives as a (as b): split between the closest
            lo = max(lam for lam, p in done.items() if (p.f1, p.f2) == (a.f1, a.f2))
            hi = min(lam for lam, p in done.items() if (p.f1, p.f2) == (b.f1, b.f2))
            candidates = [(0.5 * (lo + hi), False)]
            if ((a.f1, a.f2), (b.f1, b.f2)) not in bisect:
                with contextlib.suppress(ValueError):
                    candidates.insert(0, (_ws_lam(a, b), True))
            for lam, use_normal in candidates:
                if all(abs(lam - seen) > 1e-9 for seen in done):
                    return lam, (a, b), use_normal
        return None


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
