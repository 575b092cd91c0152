"""Plain training on f1 alone (the dense baseline), with pruning off by default."""

from __future__ import annotations

import torch

from moprune.solvers.base import Solver

__all__ = ["CrossEntropySolver"]


class CrossEntropySolver(Solver):
    """Minimise f1 only: backward, optimizer step. f2 is still measured and reported."""

    name = "ce"

    def __init__(self, *, complexity: str = "l1", scope: str = "all", tau: float | None = None,
                 freeze_masks: bool = False) -> None:
        super().__init__(complexity=complexity, scope=scope, tau=tau, freeze_masks=freeze_masks)

    def _descend(self, loss: torch.Tensor) -> None:
        loss.backward()
        if self.pruner is not None:
            self.pruner.mask_grads()
        self.optimizer.step()  # type: ignore[union-attr]
