"""Figures and the table of a sensitivity report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moprune.report.plots import new_figure, save_figure
from moprune.sensitivity.landscape import Grid

__all__ = ["plot_distances", "plot_heatmaps", "sensitivity_table"]


def _two_d(grid: Grid, acc: np.ndarray) -> np.ndarray:
    """The landscape over the first two hyperparameters (best over any others), rows =
    first hyperparameter; a one-hyperparameter grid is one row."""
    a = np.asarray(acc, dtype=float)
    if a.ndim == 1:
        return a[None, :]
    return a.max(axis=tuple(range(2, a.ndim))) if a.ndim > 2 else a


def plot_heatmaps(grid: Grid, landscapes: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """One heatmap per network, side by side, on a common colour scale; the base network's
    best cell is marked with a white circle, each network's own best with a red cross."""
    names = list(landscapes)
    fig, axes = new_figure(ncols=len(names), width=3.2, height=3.2)
    planes = {k: _two_d(grid, v) for k, v in landscapes.items()}
    vmax = max(float(p.max()) for p in planes.values())
    vmin = max(min(float(np.quantile(p, 0.1)) for p in planes.values()), vmax - 0.3)
    base_best = np.unravel_index(int(np.argmax(planes[names[0]])), planes[names[0]].shape)
    ticks = [f"{v:.0e}" for v in grid.values[-1 if len(grid.names) == 1 else 1]]
    rows = [f"{v:.0e}" for v in grid.values[0]] if len(grid.names) > 1 else [""]
    image = None
    for ax, name in zip(axes, names, strict=True):
        plane = planes[name]
        image = ax.imshow(plane, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax)
        own = np.unravel_index(int(np.argmax(plane)), plane.shape)
        ax.scatter([base_best[1]], [base_best[0]], s=80, facecolors="none", edgecolors="white",
                   linewidths=1.5)
        ax.scatter([own[1]], [own[0]], marker="x", s=50, color="red")
        ax.set_title(f"{name}: best {plane.max():.3f}", fontsize=9)
        ax.set_xticks(range(len(ticks)), ticks, rotation=90, fontsize=6)
        ax.set_yticks(range(len(rows)), rows, fontsize=6)
        ax.set_xlabel(grid.names[1] if len(grid.names) > 1 else grid.names[0], fontsize=8)
    axes[0].set_ylabel(grid.names[0] if len(grid.names) > 1 else "", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="validation accuracy")
    return save_figure(fig, path)


def plot_distances(comparisons: Mapping[str, Mapping[str, Any]], params: Sequence[str],
                   path: str | Path) -> Path:
    """Each distance against the kept share of FLOPs."""
    items = sorted(comparisons.values(), key=lambda c: -c["level"])
    levels = [c["level"] for c in items]
    fig, (ax1, ax2, ax3) = new_figure(ncols=3, width=3.6, height=3.2)
    for name in params:
        ax1.plot(levels, [c["wasserstein_decades"][name] for c in items], "o-",
                 label=f"W1 {name}")
        ax1.plot(levels, [abs(c["best_shift_decades"][name]) for c in items], "x--",
                 label=f"|best shift| {name}")
    ax1.set(xlabel="kept share of FLOPs", ylabel="decades", title="movement")
    ax1.legend(fontsize=7)
    ax2.plot(levels, [c["jensen_shannon"] for c in items], "o-", label="Jensen-Shannon")
    ax2.plot(levels, [c["spearman_rho"] if c["spearman_rho"] is not None else np.nan
                      for c in items], "s-", label="Spearman rho")
    ax2.set(xlabel="kept share of FLOPs", title="agreement of landscapes")
    ax2.legend(fontsize=7)
    ax3.plot(levels, [c["regret_points"] for c in items], "o-")
    ax3.set(xlabel="kept share of FLOPs", ylabel="points",
            title="regret of N_B's best settings")
    for ax in (ax1, ax2, ax3):
        ax.invert_xaxis()
    return save_figure(fig, path)


def sensitivity_table(report: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: one row per pruning level."""
    params = report["settings"]["params"]
    header = ["network", "params", "FLOPs", "best acc",
              *[f"W1 {p} (dec)" for p in params], *[f"shift {p} (dec)" for p in params],
              *[f"gain {p} (pts)" for p in params],
              "JS", "rho", "regret (pts)"]
    base = report["networks"]["base"]
    rows = [["base", base["parameters"], base["flops"],
             f"{max(np.ravel(report['landscapes']['base'])):.4f}",
             *([""] * (3 * len(params) + 3))]]
    for label, c in report["comparisons"].items():
        net = report["networks"][label]
        rows.append([label, net["parameters"], net["flops"],
                     f"{c['best_accuracy']['other']:.4f}",
                     *[f"{c['wasserstein_decades'][p]:.3f}" for p in params],
                     *[f"{c['best_shift_decades'][p]:+.2f}" for p in params],
                     *[f"{c['retune_gain_points'][p]:.2f}" for p in params],
                     f"{c['jensen_shannon']:.3f}",
                     "-" if c["spearman_rho"] is None else f"{c['spearman_rho']:.3f}",
                     f"{c['regret_points']:.2f}"])
    return header, rows
