"""Intra-training pruning: weights with |w| <= tau become exactly 0 after every step."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from moprune.errors import ConfigError

__all__ = ["MagnitudePruner"]

_STATE_KEYS = ("momentum_buffer", "exp_avg", "exp_avg_sq", "m1", "v1", "m2", "v2")


class MagnitudePruner:
    """Sets weights with ``|w| <= tau`` to exactly zero (Reiners et al.: tau = 1e-3).

    Args:
        params: The weights in scope.
        tau: The threshold (``inf`` zeroes everything).
        freeze: Keep pruned weights at zero for good: their gradients and optimizer
            state are masked too. Without it a pruned weight may grow back.

    The masks are not stored in checkpoints: after a prune the kept weights are
    ``> tau`` in magnitude, so ``w != 0`` recovers them exactly.
    """

    def __init__(self, params: Sequence[torch.Tensor], *, tau: float = 1e-3,
                 freeze: bool = False) -> None:
        if not tau >= 0:
            raise ConfigError(f"tau must be >= 0, got {tau}")
        self.params = list(params)
        self.tau = tau
        self.freeze = freeze
        self.masks: list[torch.Tensor] | None = None

    @torch.no_grad()
    def prune(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Zero the small weights (and, when frozen, every weight pruned before)."""
        if self.freeze and self.masks is None:
            self.masks = [p != 0 for p in self.params]
        if not self.freeze:
            for p in self.params:  # hardshrink is exactly "0 where |w| <= tau", in one pass
                p.copy_(torch.nn.functional.hardshrink(p, self.tau))
            return
        assert self.masks is not None
        for i, p in enumerate(self.params):
            keep = (p.abs() > self.tau) & self.masks[i]
            self.masks[i] = keep
            p.mul_(keep)
            if p.grad is not None:
                p.grad.mul_(keep)
            if optimizer is not None:
                state = optimizer.state.get(p, {})
                for key in _STATE_KEYS:
                    if key in state and torch.is_tensor(state[key]):
                        state[key].mul_(keep)

    @torch.no_grad()
    def mask_grads(self) -> None:
        """With frozen masks, zero the gradients of pruned weights (before a step)."""
        if self.freeze and self.masks is not None:
            for p, m in zip(self.params, self.masks, strict=True):
                if p.grad is not None:
                    p.grad.mul_(m)
