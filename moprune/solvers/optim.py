"""The optimizer and the learning-rate schedule a :class:`~moprune.config.TrainConfig`
names (below the solvers, which build their optimizers with them, and the training loop)."""

from __future__ import annotations

import math

import torch

from moprune.config import TrainConfig

__all__ = ["make_optimizer", "make_scheduler"]


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``config`` over ``params``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0,
                               weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step schedule: linear warm-up, then cosine, step decay, or constant."""
    warmup = config.warmup_epochs * steps_per_epoch
    total = max(1, config.epochs * steps_per_epoch - warmup)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / total)
        if config.scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * t))
        if config.scheduler == "step":
            return 0.1 ** ((t >= 0.5) + (t >= 0.75))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
