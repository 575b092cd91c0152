"""Weighted-sum scalarisation: minimise (1 - lam) * f1 + lam * f2 for one lam."""

from __future__ import annotations

import math
from typing import Any

import torch

from moprune.errors import ConfigError
from moprune.pruning import MagnitudePruner
from moprune.solvers.base import Solver

__all__ = ["WeightedSumSolver"]


class WeightedSumSolver(Solver):
    """Minimise ``(1 - lam) f1 + lam f2`` (f2 normalised, see :mod:`moprune.objectives`).

    For ``0 <= lam < 1`` the step follows the gradient of ``f1 + lam / (1 - lam) * f2``, a
    positive multiple of the weighted sum's, so the learning rate means the same for every
    lam. ``lam = 1`` is solved lexicographically: f2's unique minimiser sets every weight
    in scope to 0, and the remaining parameters (biases, batch norm) are trained on f1.

    With ``prox=True`` the step is proximal: an optimizer step on f1, then the weights
    become the proximal point of ``lr * lam / (1 - lam) * f2`` (soft-thresholding by
    ``lr * lam / (1 - lam) / n`` for l1), which sets weights to exactly 0 without a
    pruning threshold.

    The weight can be changed between steps (:meth:`set_lam`): the continuation path
    does so along one run.

    Args:
        lam: The weight of f2, in [0, 1].
        **kwargs: See :class:`~moprune.solvers.base.Solver`.
    """

    name = "weighted-sum"
    supports_prox = True

    def __init__(self, lam: float, **kwargs: Any) -> None:
        if not 0.0 <= lam <= 1.0:
            raise ConfigError(f"lam must be in [0, 1], got {lam}")
        super().__init__(**kwargs)
        self.set_lam(lam)

    def set_lam(self, lam: float) -> None:
        """Change the weight of f2 for the following steps (lam < 1 once bound)."""
        if not 0.0 <= lam <= 1.0:
            raise ConfigError(f"lam must be in [0, 1], got {lam}")
        if lam == 1.0 and self.model is not None:
            raise ConfigError("lam = 1 is solved from the start, not set during training")
        self.lam = float(lam)
        self.ratio = math.inf if lam == 1.0 else lam / (1.0 - lam)

    def _settings(self) -> dict[str, Any]:
        return {"lam": self.lam}

    def _make_pruner(self) -> MagnitudePruner | None:
        if self.lam == 1.0:  # f2's minimiser: every weight in scope is 0, for good
            assert self.f2 is not None
            return MagnitudePruner(self.f2.penalized, tau=math.inf, freeze=True)
        return super()._make_pruner()

    def _descend(self, loss: torch.Tensor) -> None:
        loss.backward()
        assert self.f2 is not None and self.optimizer is not None
        if 0.0 < self.lam < 1.0 and not self.prox:
            torch._foreach_add_(self._scoped_grads(), self.f2.gradient(), alpha=self.ratio)
        if self.pruner is not None:
            self.pruner.mask_grads()
        self.optimizer.step()
        if self.prox and 0.0 < self.lam < 1.0:
            self.f2.prox_(self.optimizer.param_groups[0]["lr"] * self.ratio)

