"""Gradual magnitude pruning (Zhu & Gupta, arXiv 1710.01878): a baseline inside training.

The sparsity of the weights in scope rises from ``initial`` to ``final`` along a cubic
schedule between two steps of training, fast at first and slowly at the end, so that the
network recovers from each cut while it trains; the smallest weights by magnitude over
all layers together are cut (global), and a cut weight stays at zero (its gradient's
effect and its momentum are masked after every step). It is the strongest of the usual
magnitude baselines at high sparsity for a fixed budget of epochs, stronger than one cut
after training followed by fine-tuning.

The three parts are kept apart as Torch-Pruning does: :func:`cubic_sparsity` says when
(the schedule), :func:`moprune.pruning.global_magnitude_masks` says what (the importance:
|w| over every layer in scope; or :func:`moprune.pruning.lamp_masks`, the LAMP score that
sets each layer's share), and :class:`GradualMagnitudePruning` applies both inside
:func:`moprune.train` as a callback.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from moprune.errors import ConfigError
from moprune.objectives import scope_parameters
from moprune.pruning.masks import MASK_IMPORTANCES, mask_optimizer_state
from moprune.training.callbacks import Callback

__all__ = ["GradualMagnitudePruning", "cubic_sparsity"]

def cubic_sparsity(step: int, *, begin: int, end: int, final: float,
                   initial: float = 0.0) -> float:
    """Zhu & Gupta's schedule: ``initial`` before ``begin``, ``final`` from ``end`` on, and
    ``final + (initial - final) * (1 - t)^3`` in between, with ``t = (step - begin) /
    (end - begin)``.

    Example:
        >>> round(cubic_sparsity(50, begin=0, end=100, final=0.8), 6)
        0.7
    """
    if step <= begin:
        return initial
    if step >= end:
        return final
    t = (step - begin) / (end - begin)
    return final + (initial - final) * (1.0 - t) ** 3


class GradualMagnitudePruning(Callback):
    """Prune the weights in scope gradually while :func:`moprune.train` trains.

    Every ``every`` steps from ``begin_step`` to ``end_step`` the masks are recomputed at
    the schedule's sparsity (:func:`cubic_sparsity`); after every step the masked weights
    and their optimizer state are set to zero, so that a cut weight stays cut. Past
    ``end_step`` the network trains with its final mask (the fine-tuning).

    Args:
        final: The sparsity reached at ``end_step`` (share of weights in scope at zero).
        begin_step, end_step: The steps (counted from the first of this training) between
            which the sparsity rises.
        every: Steps between two cuts (Zhu & Gupta: 100-1000 on ImageNet).
        initial: The sparsity of the first cut.
        scope: The weights in scope (:func:`moprune.objectives.scope_parameters`).
        importance: What is cut: ``magnitude`` (the smallest |w| over all layers) or
            ``lamp`` (the smallest LAMP scores, :func:`moprune.pruning.lamp_masks`).

    Raises:
        ConfigError: for a sparsity outside [0, 1), steps out of order, ``every < 1`` or
            an unknown importance.

    The step count is kept by the callback, not in :func:`moprune.train`'s checkpoint:
    use it on a training without ``checkpoint`` (a resumed training would restart the
    schedule).

    Example:
        >>> gmp = GradualMagnitudePruning(0.97, begin_step=0, end_step=3000)  # doctest: +SKIP
        >>> train(model, data, TrainConfig(epochs=12), callbacks=[gmp])  # doctest: +SKIP
    """

    def __init__(self, final: float, *, begin_step: int, end_step: int, every: int = 50,
                 initial: float = 0.0, scope: str = "all", importance: str = "magnitude"
                 ) -> None:
        for name, value in (("final", final), ("initial", initial)):
            if not 0 <= value < 1:
                raise ConfigError(f"{name} sparsity must be in [0, 1), got {value}")
        if initial > final:
            raise ConfigError(f"initial sparsity {initial} is above the final {final}")
        if not 0 <= begin_step < end_step:
            raise ConfigError(f"need 0 <= begin_step < end_step, got {begin_step} and "
                              f"{end_step}")
        if every < 1:
            raise ConfigError(f"every must be >= 1, got {every}")
        if importance not in MASK_IMPORTANCES:
            raise ConfigError(f"importance must be one of {tuple(MASK_IMPORTANCES)}, got "
                              f"{importance!r}")
        self.final, self.initial = final, initial
        self.begin_step, self.end_step, self.every = begin_step, end_step, every
        self.scope = scope
        self.masks_of = MASK_IMPORTANCES[importance]
        self.step = 0
        self.sparsity = 0.0  # of the masks now applied
        self.params: list[torch.Tensor] = []
        self.masks: list[torch.Tensor] | None = None

    def on_train_start(self, *, model: nn.Module, optimizer: Any) -> None:
        self.params = [p for _, p in scope_parameters(model, self.scope)]
        self.step = 0

    @torch.no_grad()
    def on_step_end(self, *, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.step += 1
        due = self.begin_step <= self.step <= self.end_step and (
            (self.step - self.begin_step) % self.every == 0 or self.step == self.end_step)
        if due:
            target = cubic_sparsity(self.step, begin=self.begin_step, end=self.end_step,
                                    final=self.final, initial=self.initial)
            if target > self.sparsity or self.masks is None:
                self.masks = self.masks_of(self.params, target)
                self.sparsity = target
        if self.masks is None:
            return
        for p, m in zip(self.params, self.masks, strict=True):
            p.mul_(m)
        mask_optimizer_state(optimizer, self.params, self.masks)
