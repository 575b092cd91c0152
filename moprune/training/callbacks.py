"""Hooks into the training loop."""

from __future__ import annotations

from typing import Any

__all__ = ["Callback"]


class Callback:
    """Base class of training callbacks; override what you need.

    Raising an exception from a hook stops training (an HPO pruner does this).
    """

    def on_train_start(self, *, model: Any, optimizer: Any) -> None:
        """Before the first step (also after a resume)."""

    def on_step_end(self, *, model: Any, optimizer: Any) -> None:
        """After every optimizer step."""

    def on_epoch_end(self, *, epoch: int, record: Any, model: Any) -> None:
        """After every epoch's validation, with that epoch's record."""
