"""Intra-training pruning: weights with |w| <= tau become exactly 0 after every step;
global masks by magnitude or by LAMP score (the importances of gradual magnitude pruning)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from moprune.errors import ConfigError

__all__ = ["MASK_IMPORTANCES", "MagnitudePruner", "global_magnitude_masks", "lamp_masks",
           "mask_optimizer_state"]

_STATE_KEYS = ("momentum_buffer", "exp_avg", "exp_avg_sq", "m1", "v1", "m2", "v2")


@torch.no_grad()
def global_magnitude_masks(params: Sequence[torch.Tensor], sparsity: float
                           ) -> list[torch.Tensor]:
    """Boolean masks that keep the ``round((1 - sparsity) * n)`` largest weights by
    magnitude over all of ``params`` together (exactly that many: ties are broken by
    position, not all kept or all cut)."""
    return _keep_largest([p.detach().abs() for p in params], sparsity)


def lamp_masks(params: Sequence[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Boolean masks that keep the ``round((1 - sparsity) * n)`` weights of largest LAMP
    score over all of ``params`` together (Lee et al., "Layer-adaptive sparsity for the
    magnitude-based pruning", ICLR 2021).

    A weight's score is its square over the sum of the squares of the weights of its own
    tensor that are not smaller (ranked by magnitude, ties by position): each tensor's
    largest weight scores 1, so that no layer is emptied while others keep more than one
    weight, and the sparsity of each layer follows from the scores instead of one global
    magnitude threshold. A weight at zero scores 0. Equal scores are kept by position, as
    in :func:`global_magnitude_masks`.

    Example (global magnitude would keep 3 and 4 and empty the second tensor):
        >>> lamp_masks([torch.tensor([3.0, 4.0]), torch.tensor([0.1, 0.2])], 0.5)
        [tensor([False,  True]), tensor([False,  True])]
    """
    scores = []
    for p in params:
        squares = p.detach().flatten().square()
        ranked, order = torch.sort(squares, stable=True)
        # sum over the weights at or above each rank: a reversed cumulative sum
        above = ranked.flip(0).cumsum(0).flip(0)
        score = torch.empty_like(squares)
        score[order] = torch.where(ranked > 0, ranked / above.clamp_min(torch.finfo(
            ranked.dtype).tiny), torch.zeros_like(ranked))
        scores.append(score.view_as(p))
    return _keep_largest(scores, sparsity)


MASK_IMPORTANCES = {"magnitude": global_magnitude_masks, "lamp": lamp_masks}


def _keep_largest(scores: Sequence[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Masks of the ``round((1 - sparsity) * n)`` largest ``scores`` over all tensors."""
    sizes = [s.numel() for s in scores]
    total = sum(sizes)
    keep = total - round(sparsity * total)
    flat = torch.cat([s.flatten() for s in scores])
    mask = torch.zeros(total, dtype=torch.bool, device=flat.device)
    if keep > 0:
        mask[torch.topk(flat, keep, sorted=False).indices] = True
    return [m.view_as(s) for m, s in zip(mask.split(sizes), scores, strict=True)]


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
