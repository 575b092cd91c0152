"""The solver interface: how one training step turns a batch into a weight update."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.objectives import Complexity, cross_entropy
from moprune.pruning import MagnitudePruner
from moprune.solvers.optim import make_optimizer

__all__ = ["Solver"]


class Solver(ABC):
    """Base class of the solvers of the biobjective problem (f1, f2).

    A solver owns the update rule; intra-training pruning runs after every step.

    Args:
        complexity: f2's kind, ``l1``, ``group-l1`` or ``flops``.
        scope: Which weights f2 and pruning see: ``all``, ``dense`` or ``conv``.
        tau: Pruning threshold (weights with ``|w| <= tau`` become 0 after every step and
            once before training); ``None`` turns pruning off.
        freeze_masks: Keep pruned weights at zero (gradients and optimizer state masked);
            with ``tau=None`` the zeros of the prox step are kept.
        prox: Take f2 by its proximal operator after each optimizer step on f1
            (soft-thresholding: exact zeros without a threshold) instead of adding its
            gradient; for solvers with a weight of f2 (weighted sum).
    """

    name: str = ""
    supports_prox = False

    def __init__(self, *, complexity: str = "l1", scope: str = "all", tau: float | None = 1e-3,
                 freeze_masks: bool = False, prox: bool = False) -> None:
        if prox and not self.supports_prox:
            raise ConfigError(f"the {self.name or type(self).__name__} solver has no "
                              f"proximal step (prox is for the weighted sum and the path)")
        self.complexity_kind = complexity
        self.scope = scope
        self.tau = tau
        self.freeze_masks = freeze_masks
        self.prox = prox
        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.f2: Complexity | None = None
        self.pruner: MagnitudePruner | None = None

    def describe(self) -> dict[str, Any]:
        """The solver's settings (kept in checkpoints and results)."""
        described = {"solver": self.name, "complexity": self.complexity_kind,
                     "scope": self.scope, "tau": self.tau, "freeze_masks": self.freeze_masks,
                     **self._settings()}
        if self.prox:  # only when on, so that earlier runs' checkpoints still resume
            described["prox"] = True
        return described

    def _settings(self) -> dict[str, Any]:
        return {}

    def bind(self, model: nn.Module, config: TrainConfig, *,
             input_shape: tuple[int, ...] | None = None) -> torch.optim.Optimizer:
        """Attach to ``model``, build the optimizer, and prune once before training.

        ``input_shape`` (one input, ``(C, H, W)``) is needed by the ``flops`` complexity.
        """

        self.model = model
        self.f2 = Complexity(model, kind=self.complexity_kind, scope=self.scope,
                             input_shape=input_shape)
        self.optimizer = self._make_optimizer(model, config) or make_optimizer(
            model.parameters(), config)
        self.pruner = self._make_pruner()
        if self.pruner is not None:
            self.pruner.prune(self.optimizer)
        self._stats: dict[str, float] = {}
        self._steps = 0
        return self.optimizer

    def on_resume(self) -> None:
        """After weights were loaded from a checkpoint (or cut by a caller): rebuild frozen
        masks from their zeros now, before the next step could move a zero weight."""
        if self.pruner is not None:
            self.pruner.masks = ([p != 0 for p in self.pruner.params] if self.pruner.freeze
                                 else None)

    def _make_optimizer(self, model: nn.Module, config: TrainConfig
                        ) -> torch.optim.Optimizer | None:
        """A solver-specific optimizer, or None for the one the config names."""
        return None

    def _make_pruner(self) -> MagnitudePruner | None:
        assert self.f2 is not None
        if self.tau is None:  # no threshold (the prox step makes exact zeros itself) ...
            if not self.freeze_masks:
                return None
            # ... but frozen masks need a pruner that keeps the zeros at zero
            return MagnitudePruner(self.f2.penalized, tau=0.0, freeze=True)
        return MagnitudePruner(self.f2.penalized, tau=self.tau, freeze=self.freeze_masks)

    def step(self, x: torch.Tensor, y: torch.Tensor, *, label_smoothing: float = 0.0
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One update on a batch; returns (f1 of the batch, logits), both detached."""
        assert self.model is not None and self.optimizer is not None, "call bind() first"
        out = self.model(x)
        loss = cross_entropy(out, y, label_smoothing=label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self._descend(loss)
        if self.pruner is not None:
            self.pruner.prune(self.optimizer)
        self._steps += 1
        return loss.detach(), out.detach()

    @abstractmethod
    def _descend(self, loss: torch.Tensor) -> None:
        """Compute the search direction from the batch loss and take the optimizer step."""

    def _scoped_grads(self) -> list[torch.Tensor]:
        """The gradients of the weights in f2's scope, zeros for a weight the forward pass
        did not use."""
        assert self.f2 is not None
        for p in self.f2.penalized:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        return [p.grad for p in self.f2.penalized]  # type: ignore[misc]

    def _record(self, key: str, value: float | torch.Tensor) -> None:
        self._stats[key] = self._stats.get(key, 0.0) + value  # type: ignore[assignment]

    def epoch_stats(self) -> dict[str, float]:
        """Per-epoch figures (f2, sparsity, step statistics), then reset the step counters."""
        assert self.f2 is not None
        stats = {k: float(v) / max(self._steps, 1) for k, v in self._stats.items()}
        stats.update(f2=self.f2.value(), sparsity=self.f2.sparsity())
        self._stats, self._steps = {}, 0
        return stats
