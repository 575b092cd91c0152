"""Knee selectors: which point of a front gives the most for the least.

Every selector receives the non-dominated points normalised to [0, 1], sorted by f1
ascending (so f2 descending), and returns an index. With fewer than three points there
is no bend to find: all selectors return the first (most accurate) point.

:meth:`moprune.front.Front.knee` first keeps the supported points (:func:`lower_hull`). A
knee is a bend of the front, not one noisy point: ``angle`` and ``slope`` measure the bend
at a point against neighbours at least ``window`` away (normalised units), so that points
packed close together (the dense end of a path front) do not make sharp kinks out of
noise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from moprune.errors import ConfigError
from moprune.registry import Registry

__all__ = ["KNEE_SELECTORS", "AngleKnee", "ChordKnee", "KneeSelector", "SlopeKnee",
           "lower_hull"]


def lower_hull(F: np.ndarray) -> list[int]:
    """Indices of the supported points of a front: the vertices of the lower-left convex
    hull of ``F`` (rows sorted by the first objective, both minimised), in order. A point
    strictly above the hull is the optimum of no weighted sum."""
    F = np.asarray(F, dtype=float)
    hull: list[int] = []
    for i in range(len(F)):
        while len(hull) >= 2:
            o, a = F[hull[-2]], F[hull[-1]]
            cross = (a[0] - o[0]) * (F[i][1] - o[1]) - (a[1] - o[1]) * (F[i][0] - o[0])
            if cross > 0:  # a turn to the left: a lies below the segment o-i, keep it
                break
            hull.pop()
        hull.append(i)
    return hull


def _neighbours(F: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """For each interior point, the nearest point on each side at least ``window`` away
    (or the extreme point when none is)."""
    n = len(F)
    left, right = np.zeros(n, dtype=int), np.full(n, n - 1)
    for i in range(1, n - 1):
        d = np.hypot(*(F - F[i]).T)
        lo = [j for j in range(i) if d[j] >= window]
        hi = [j for j in range(i + 1, n) if d[j] >= window]
        left[i] = lo[-1] if lo else 0
        right[i] = hi[0] if hi else n - 1
    return left, right


class KneeSelector(ABC):
    """Base class: :meth:`select` validates, ``_select`` computes."""

    name = ""

    def select(self, F: np.ndarray) -> int:
        """Index of the knee among the rows of ``F`` (normalised, sorted by f1)."""
        F = np.asarray(F, dtype=float)
        if F.ndim != 2 or F.shape[1] != 2 or len(F) == 0:
            raise ConfigError(f"a knee needs an (n, 2) array of objectives, got shape {F.shape}")
        if not np.all(np.isfinite(F)):
            raise ConfigError("a knee needs finite objectives")
        if len(F) < 3:
            return 0
        return int(self._select(F))

    @abstractmethod
    def _select(self, F: np.ndarray) -> int: ...


class ChordKnee(KneeSelector):
    """Das (1999): the point farthest from the chord through the two extreme points,
    on the side of the ideal point."""

    name = "chord"

    def _select(self, F: np.ndarray) -> int:
        a, b = F[0], F[-1]
        chord = b - a
        # signed distance; positive towards the ideal point (below the chord)
        dist = (chord[0] * (F[:, 1] - a[1]) - chord[1] * (F[:, 0] - a[0])) / np.hypot(*chord)
        dist = -dist if (chord[0] * (0 - a[1]) - chord[1] * (0 - a[0])) < 0 else dist
        return int(np.argmax(dist[1:-1]) + 1)


class AngleKnee(KneeSelector):
    """Branke et al. (2004): the interior point where the front bends most sharply, i.e.
    the smallest angle between the segments to its two neighbours (the nearest points at
    least ``window`` away on each side)."""

    name = "angle"

    def __init__(self, window: float = 0.05) -> None:
        if not window >= 0:
            raise ConfigError(f"window must be >= 0, got {window}")
        self.window = window

    def _select(self, F: np.ndarray) -> int:
        lo, hi = _neighbours(F, self.window)
        left = F[lo[1:-1]] - F[1:-1]
        right = F[hi[1:-1]] - F[1:-1]
        cos = np.sum(left * right, axis=1) / (
            np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)).clip(1e-300)
        return int(np.argmin(np.arccos(cos.clip(-1.0, 1.0))) + 1)


class SlopeKnee(KneeSelector):
    """Reiners et al.'s reference code: the point where the trade-off slope df2/df1
    changes most, the slopes taken to the neighbours at least ``window`` away."""

    name = "slope"

    def __init__(self, window: float = 0.05) -> None:
        if not window >= 0:
            raise ConfigError(f"window must be >= 0, got {window}")
        self.window = window

    def _select(self, F: np.ndarray) -> int:
        lo, hi = _neighbours(F, self.window)
        idx = np.arange(1, len(F) - 1)

        def slope(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            d = F[b] - F[a]
            return d[:, 1] / np.where(d[:, 0] == 0, 1e-12, d[:, 0])

        change = np.abs(slope(idx, hi[idx]) - slope(lo[idx], idx))
        return int(np.argmax(change) + 1)


KNEE_SELECTORS: Registry[type[KneeSelector]] = Registry("knee selector")
for _cls in (ChordKnee, AngleKnee, SlopeKnee):
    KNEE_SELECTORS.register(_cls.name)(_cls)
