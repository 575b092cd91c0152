"""Plots written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moprune.io import atomic_write

__all__ = ["new_figure", "plot_history", "save_figure"]


def new_figure(ncols: int = 1, *, width: float = 5.0, height: float = 4.0):
    """A figure with ``ncols`` axes on the non-interactive Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("plots need matplotlib: pip install matplotlib") from e
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def save_figure(fig, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG atomically."""
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))


def plot_history(history: Sequence[Any], path: str | os.PathLike[str], *,
                 title: str = "") -> Path:
    """Training curves: loss and accuracy per epoch, train and validation."""
    epochs = [r.epoch for r in history]
    fig, (ax_loss, ax_acc) = new_figure(2)
    ax_loss.plot(epochs, [r.train_loss for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r.val_loss for r in history], "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=title or "loss")
    ax_acc.plot(epochs, [r.train_acc for r in history], "o-", label="train")
    ax_acc.plot(epochs, [r.val_acc for r in history], "s-", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path)
