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


def plot_heatmaps(grid: Grid, landscapes: Mapping[str, np.ndarray], path: str | Path, *,
                  significant: Mapping[str, np.ndarray] | None = None,
                  diverged: Mapping[str, np.ndarray] | None = None, seeds: int = 1) -> Path:
    """One heatmap per network (the mean over seeds), side by side, on a common colour
    scale; the base network's best cell is marked with a white circle, each network's own
    best with a red cross. On a grid of one or two hyperparameters, a small black square
    marks a cell whose mean differs significantly from the base network's (Welch's t-test
    over the seeds, 5%), and a cell where seeds diverged shows how many (``2/3``)."""
    names = list(landscapes)
    fig, axes = new_figure(ncols=len(names), width=3.2, height=3.2)
    planes = {k: _two_d(grid, v) for k, v in landscapes.items()}
    marks = len(grid.names) <= 2
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
        if marks and significant is not None and name in significant:
            r, c = np.nonzero(np.atleast_2d(np.asarray(significant[name])))
            ax.scatter(c - 0.3, r + 0.3, marker="s", s=6, color="black")
        if marks and diverged is not None and name in diverged:
            count = np.atleast_2d(np.asarray(diverged[name]))
            for r, c in zip(*np.nonzero(count), strict=True):
                ax.text(c, r, f"{count[r, c]}/{seeds}", ha="center", va="center",
                        fontsize=5, color="white")
        ax.set_title(f"{name}: best {plane.max():.3f}", fontsize=9)
        ax.set_xticks(range(len(ticks)), ticks, rotation=90, fontsize=6)
        ax.set_yticks(range(len(rows)), rows, fontsize=6)
        ax.set_xlabel(grid.names[1] if len(grid.names) > 1 else grid.names[0], fontsize=8)
    axes[0].set_ylabel(grid.names[0] if len(grid.names) > 1 else "", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=f"validation accuracy "
                     f"(mean of {seeds} seed{'s' if seeds > 1 else ''})")
    return save_figure(fig, path)


def _series(items: Sequence[Mapping[str, Any]], key: str, param: str | None = None
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """A figure's estimates over the levels and its intervals (``(2, n)``: low, high; None
    without intervals)."""
    def get(d: Mapping[str, Any] | None) -> Any:
        if d is None:
            return None
        v = d.get(key)
        return v.get(param) if param is not None and v is not None else v

    values = np.array([np.nan if get(c) is None else float(get(c)) for c in items])
    if any(c.get("interval") is None for c in items):
        return values, None
    bounds = [get(c["interval"]) or [np.nan, np.nan] for c in items]
    return values, np.array(bounds, dtype=float).T


def _plot(ax: Any, x: np.ndarray, items: Sequence[Mapping[str, Any]], key: str,
          param: str | None, fmt: str, label: str) -> None:
    """Estimates as a line, intervals as capped vertical bars of the same colour (an
    interval need not contain its estimate: see :func:`moprune.sensitivity.verdicts`)."""
    values, bounds = _series(items, key, param)
    line, = ax.plot(x, values, fmt, label=label)
    if bounds is not None:
        ax.vlines(x, bounds[0], bounds[1], color=line.get_color(), lw=1.2)
        ax.scatter(np.r_[x, x], np.r_[bounds[0], bounds[1]], marker="_", s=40,
                   color=line.get_color())


def plot_distances(comparisons: Mapping[str, Mapping[str, Any]], params: Sequence[str],
                   path: str | Path) -> Path:
    """Each figure against the kept share of FLOPs, with its 95% bootstrap interval as a
    bar where there is one."""
    items = sorted(comparisons.values(), key=lambda c: -c["level"])
    levels = np.array([c["level"] for c in items])
    fig, (ax1, ax2, ax3) = new_figure(ncols=3, width=3.6, height=3.2)
    for k, name in enumerate(params):
        dx = 0.008 * (2 * k - (len(params) - 1))  # side by side, not on top of each other
        _plot(ax1, levels + dx, items, "wasserstein_decades", name, "o-", f"W1 {name}")
        _plot(ax1, levels + dx + 0.004, items, "best_shift_decades", name, "x--",
              f"best shift {name}")
    ax1.axhline(0, color="grey", lw=0.5)
    ax1.set(xlabel="kept share of FLOPs", ylabel="decades", title="movement")
    ax1.legend(fontsize=7)
    _plot(ax2, levels, items, "jensen_shannon", None, "o-", "Jensen-Shannon")
    _plot(ax2, levels + 0.006, items, "spearman_rho", None, "s-", "Spearman rho")
    ax2.set(xlabel="kept share of FLOPs", title="agreement of landscapes")
    ax2.legend(fontsize=7)
    _plot(ax3, levels, items, "regret_points", None, "o-", "regret")
    ax3.axhline(0, color="grey", lw=0.5)
    ax3.set(xlabel="kept share of FLOPs", ylabel="points (held out)",
            title="regret of N_B's best settings")
    for ax in (ax1, ax2, ax3):
        ax.invert_xaxis()
    return save_figure(fig, path)


def _cell(value: float | None, interval: Any, fmt: str) -> str:
    if value is None:
        return "-"
    return (f"{value:{fmt}}" if interval is None else
            f"{value:{fmt}} [{interval[0]:{fmt}}, {interval[1]:{fmt}}]")


def sensitivity_table(report: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: one row per pruning level; every figure with its 95% bootstrap
    interval in brackets where there is one."""
    params = report["settings"]["params"]
    header = ["network", "params", "FLOPs", "best acc", "diverged",
              *[f"W1 {p} (dec)" for p in params], *[f"shift {p} (dec)" for p in params],
              *[f"gain {p} (pts)" for p in params],
              "JS", "rho", "regret (pts)"]
    rates = report.get("divergence_rate", {})

    def rate(label: str) -> str:
        return f"{100 * rates[label]:.0f}%" if label in rates else "-"

    base = report["networks"]["base"]
    rows = [["base", base["parameters"], base["flops"],
             f"{max(np.ravel(report['landscapes']['base'])):.4f}", rate("base"),
             *([""] * (3 * len(params) + 3))]]
    for label, c in report["comparisons"].items():
        net = report["networks"][label]
        iv = c.get("interval") or {}

        def per(key: str, p: str, fmt: str, c: Mapping[str, Any] = c,
                iv: Mapping[str, Any] = iv) -> str:
            return _cell(c[key][p], (iv.get(key) or {}).get(p), fmt)

        rows.append([label, net["parameters"], net["flops"],
                     f"{c['best_accuracy']['other']:.4f}", rate(label),
                     *[per("wasserstein_decades", p, ".2f") for p in params],
                     *[per("best_shift_decades", p, "+.2f") for p in params],
                     *[per("retune_gain_points", p, ".2f") for p in params],
                     _cell(c["jensen_shannon"], iv.get("jensen_shannon"), ".3f"),
                     _cell(c["spearman_rho"], iv.get("spearman_rho"), ".2f"),
                     _cell(c["regret_points"], iv.get("regret_points"), ".2f")])
    return header, rows
