"""The loop that trains one network: seeded, resumable, quiet when not on a terminal."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig, config_to_dict
from moprune.data import DataSplits
from moprune.errors import DivergedError
from moprune.progress import lines_enabled, progress_line
from moprune.solvers import CrossEntropySolver, Solver
from moprune.solvers.optim import make_optimizer, make_scheduler
from moprune.training.callbacks import Callback
from moprune.training.checkpoint import load_checkpoint, save_checkpoint

__all__ = [
    "EpochRecord",
    "TrainResult",
    "evaluate",
    "input_shape",
    "make_optimizer",
    "make_scheduler",
    "resolve_device",
    "train",
]


@dataclass
class EpochRecord:
    """What one epoch did."""

    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    extras: dict[str, float] = field(default_factory=dict)  # the solver's: f2, sparsity, ...


@dataclass
class TrainResult:
    """The outcome of :func:`train`: per-epoch history and final metrics."""

    history: list[EpochRecord] = field(default_factory=list)
    val_loss: float = math.nan
    val_acc: float = math.nan
    test_loss: float | None = None
    test_acc: float | None = None
    seconds: float = 0.0  # wall time of this call (a resumed run counts only its own part)
    resumed_from_epoch: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def input_shape(data: DataSplits) -> tuple[int, int, int]:
    """The shape of one input image of ``data``, ``(C, H, W)``."""
    return (data.in_channels, data.image_size, data.image_size)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` is CUDA when present, else the CPU.

    Raises:
        ConfigError: for a malformed device or one this machine does not have.
    """
    from moprune.validation import check_device

    check_device(device, flag="device")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def evaluate(model: nn.Module, loader, *, device: torch.device | str | None = None
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader``."""
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        if device is not None:
            x, y = x.to(device), y.to(device)
        out = model(x)
        total_loss += nn.functional.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        n += len(y)
    model.train(was_training)
    return total_loss / max(n, 1), correct / max(n, 1)


def train(
    model: nn.Module,
    data: DataSplits,
    config: TrainConfig | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    evaluate_test: bool = False,
    solver: Solver | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` for ``config.epochs`` epochs.

    Args:
        model: The network (moved to the config's device).
        data: Splits from :func:`moprune.data.prepare_data`.
        config: Optimizer, schedule, epochs, seed, device.
        checkpoint: A file to save after every epoch; if it exists, training resumes
            from it (the settings must match) and gives the same final weights as an
            uninterrupted run.
        evaluate_test: Also report loss and accuracy on the test split at the end.
        solver: The update rule (:mod:`moprune.solvers`); None trains on cross-entropy
            alone with the config's optimizer.
        callbacks: Called after every step and epoch (see :class:`Callback`); raising
            from one stops training.
        progress: Show a progress bar; ``None`` shows it only on a terminal.

    Returns:
        A :class:`TrainResult` with the per-epoch history and final metrics.

    Raises:
        DivergedError: when the training loss becomes NaN or infinite.
        ConfigError: when ``checkpoint`` was made with other settings.

    Example:
        >>> from moprune import DataConfig, build_model, prepare_data
        >>> data = prepare_data(DataConfig(limit_train=2000))  # doctest: +SKIP
        >>> model = build_model("lenet5", in_channels=1, num_classes=10, image_size=28)
        >>> result = train(model, data, TrainConfig(epochs=1))  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    config = config or TrainConfig()
    device = resolve_device(config.device)
    model.to(device)
    torch.manual_seed(config.seed)
    train_loader = data.loader("train", batch_size=config.batch_size, seed=config.seed,
                               device=device)
    val_loader = data.loader("val", device=device)
    solver = solver or CrossEntropySolver()
    optimizer = solver.bind(model, config, input_shape=input_shape(data))
    scheduler = make_scheduler(optimizer, config, len(train_loader))
    result = TrainResult()
    settings = config_to_dict(config)
    settings.pop("device")  # a run may resume on another device
    settings["solver"] = solver.describe()
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, model=model, optimizer=optimizer,
                                scheduler=scheduler, settings=settings)
        result.history = [EpochRecord(**r) for r in state["history"]]
        result.resumed_from_epoch = len(result.history)
        solver.on_resume()
    for cb in callbacks:
        cb.on_train_start(model=model, optimizer=optimizer)
    start = time.perf_counter()
    model.train()
    for epoch in range(len(result.history), config.epochs):
        t0 = time.perf_counter()
        train_loader.set_epoch(epoch)
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
                   disable=None if progress is None else not progress)
        for x, y in bar:
            loss, out = solver.step(x, y, label_smoothing=config.label_smoothing)
            scheduler.step()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise DivergedError(f"training loss became {loss_value} in epoch {epoch + 1}")
            for cb in callbacks:
                cb.on_step_end(model=model, optimizer=optimizer)
            loss_sum += loss_value * len(y)
            correct += (out.argmax(1) == y).sum().item()
            seen += len(y)
        bar.close()
        val_loss, val_acc = evaluate(model, val_loader)
        record = EpochRecord(epoch=epoch + 1, train_loss=loss_sum / max(seen, 1),
                             train_acc=correct / max(seen, 1), val_loss=val_loss,
                             val_acc=val_acc, lr=optimizer.param_groups[0]["lr"],
                             seconds=time.perf_counter() - t0, extras=solver.epoch_stats())
        result.history.append(record)
        if progress is None and lines_enabled() and (
                (epoch + 1) % max(1, config.epochs // 5) == 0 or epoch + 1 == config.epochs):
            progress_line(f"epoch {epoch + 1}/{config.epochs}: train loss "
                          f"{record.train_loss:.4f}, val acc {val_acc:.4f}, "
                          f"{record.seconds:.1f} s")
        if checkpoint is not None:
            save_checkpoint(checkpoint, model=model, optimizer=optimizer, scheduler=scheduler,
                            settings=settings, history=[asdict(r) for r in result.history])
        for cb in callbacks:
            cb.on_epoch_end(epoch=epoch + 1, record=record, model=model)
    if result.history:
        result.val_loss = result.history[-1].val_loss
        result.val_acc = result.history[-1].val_acc
    else:
        result.val_loss, result.val_acc = evaluate(model, val_loader)
    if evaluate_test:
        result.test_loss, result.test_acc = evaluate(model, data.loader("test", device=device))
    result.seconds = time.perf_counter() - start
    return result
