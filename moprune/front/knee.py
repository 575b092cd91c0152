"""Knee selectors: which point of a front gives the most for the least.

Every selector receives the non-dominated points normalised to [0, 1], sorted by f1
ascending (so f2 descending), and returns an index. With fewer than three points there
is no bend to find: all selectors return the first (most accurate) point.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from moprune.errors import ConfigError
from moprune.registry import Registry

__all__ = ["KNEE_SELECTORS", "AngleKnee", "ChordKnee", "KneeSelector", "SlopeKnee"]


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
    the smallest angle between the segments to its two neighbours."""

    name = "angle"

    def _select(self, F: np.ndarray) -> int:
        left = F[:-2] - F[1:-1]
        right = F[2:] - F[1:-1]
        cos = np.sum(left * right, axis=1) / (
            np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)).clip(1e-300)
        return int(np.argmin(np.arccos(cos.clip(-1.0, 1.0))) + 1)


class SlopeKnee(KneeSelector):
    """Reiners et al.'s reference code: the point where the trade-off slope df2/df1 of
    consecutive segments changes most."""

    name = "slope"

    def _select(self, F: np.ndarray) -> int:
        d = np.diff(F, axis=0)
        slopes = d[:, 1] / np.where(d[:, 0] == 0, 1e-12, d[:, 0])
        change = np.abs(np.diff(slopes))
        return int(np.argmax(change) + 1)


KNEE_SELECTORS: Registry[type[KneeSelector]] = Registry("knee selector")
for _cls in (ChordKnee, AngleKnee, SlopeKnee):
    KNEE_SELECTORS.register(_cls.name)(_cls)
