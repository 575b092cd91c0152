"""Plots written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moprune.io import atomic_write

__all__ = ["new_figure", "plot_front", "plot_history", "save_figure"]


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


def plot_front(front: Any, path: str | os.PathLike[str], *, knee: Any = None,
               others: dict[str, Any] | None = None, title: str = "",
               axes: str = "objectives") -> Path:
    """The front in objective space (f1 vs f2) and as accuracy vs fraction of weights kept
    (or of FLOPs kept, with ``axes="flops"``).

    Args:
        front: A :class:`moprune.front.Front`.
        knee: A point to mark.
        others: More fronts to overlay by label (e.g. magnitude pruning).
        axes: The plane whose non-dominated points are drawn on the right.
    """
    fig, (ax_obj, ax_acc) = new_figure(2)
    series = {front.meta.get("method", "front"): front, **(others or {})}
    share = "flops_share" if axes == "flops" else "kept"
    for i, (label, fr) in enumerate(series.items()):
        color = f"C{i}"
        pts = list(fr.points)
        nd = fr.non_dominated()
        ax_obj.scatter([p.f1 for p in pts], [p.f2 for p in pts], s=14, color=color, alpha=0.35)
        ax_obj.plot([p.f1 for p in nd], [p.f2 for p in nd], "o-", color=color, ms=5,
                    label=f"{label} (non-dominated)")
        nd = fr.non_dominated(axes=axes if axes != "objectives" else "kept")
        by_kept = sorted(nd, key=lambda p: getattr(p, share))
        ax_acc.plot([getattr(p, share) for p in by_kept],
                    [p.test_acc if p.test_acc is not None else p.val_acc for p in by_kept],
                    "o-", color=color, ms=5, label=label)
    if knee is not None:
        # a knee trained on after the search (retrained, debiased) is not a point of the
        # front: said so in its label
        label = ("knee (debiased)" if getattr(knee, "finetune_epochs", 0) else
                 "knee (retrained)" if getattr(knee, "retrained", False) else "knee")
        ax_obj.plot([knee.f1], [knee.f2], "*", color="red", ms=16, label=label)
        acc = knee.test_acc if knee.test_acc is not None else knee.val_acc
        ax_acc.plot([getattr(knee, share)], [acc], "*", color="red", ms=16, label=label)
    ax_obj.set(xlabel="f1: validation cross-entropy", ylabel="f2: complexity",
               title=title or "Pareto front")
    xlabel = ("fraction of FLOPs kept" if share == "flops_share"
              else "fraction of weights kept (in scope)")
    ax_acc.set(xlabel=xlabel, ylabel="test accuracy", title="accuracy vs. size")
    drawn = [x for line in ax_acc.get_lines() for x in line.get_xdata()]
    if any(x > 0 for x in drawn):  # a log axis needs a positive share to draw
        ax_acc.set_xscale("log")
    for ax in (ax_obj, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)
