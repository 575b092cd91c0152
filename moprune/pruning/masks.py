"""Intra-training pruning: weights with |w| <= tau become exactly 0 after every step;
global magnitude masks (the importance of gradual magnitude pruning)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from moprune.errors import ConfigError

__all__ = ["MagnitudePruner", "global_magnitude_masks", "mask_optimizer_state"]

_STATE_KEYS = ("momentum_buffer", "exp_avg", "exp_avg_sq", "m1", "v1", "m2", "v2")


@torch.no_grad()
def global_magnitude_masks(params: Sequence[torch.Tensor], sparsity: float
                           ) -> list[torch.Tensor]:
    """Boolean masks that keep the ``round((1 - sparsity) * n)`` largest weights by
    magnitude over all of ``params`` together (exactly that many: ties are broken by
    position, not all kept or all cut)."""
    sizes = [p.numel() for p in params]
    total = sum(sizes)
    keep = total - round(sparsity * total)
    flat = torch.cat([p.detach().abs().flatten() for p in params])
    mask = torch.zeros(total, dtype=torch.bool, device=flat.device)
    if keep > 0:
        mask[torch.topk(flat, keep, sorted=False).indices] = True
    return [m.view_as(p) for m, p in zip(mask.split(sizes), params, strict=True)]


@torch.no_grad()
def mask_optimizer_state(optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor],
                         masks: Sequence[torch.Tensor]) -> None:
    """Zero the optimizer state (momentum, Adam's moments) of the masked weights, so that
    a cut weight is not pushed back by the momentum it had."""
    for p, m in zip(params, masks, strict=True):
        state = optimizer.state.get(p, {})
        for key in _STATE_KEYS:
            if torch.is_tensor(state.get(key)):
                state[key].mul_(m)


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
            mask_optimizer_state(optimizer, self.params, self.masks)

    @torch.no_grad()
    def mask_grads(self) -> None:
        """With frozen masks, zero the gradients of pruned weights (before a step)."""
        if self.freeze and self.masks is not None:
            for p, m in zip(self.params, self.masks, strict=True):
                if p.grad is not None:
                    p.grad.mul_(m)
