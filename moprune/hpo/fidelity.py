"""How faithfully a proxy ranks hyperparameter configurations as the base network does.

``configs`` quasi-random configurations (scrambled Sobol) are trained on the proxy N_P
and on the base network N_B, each with ``seeds`` seeds; a configuration's score is its
mean validation accuracy over the seeds. The figures:

- Spearman rho and Kendall tau of the two score lists (scipy), top-k overlap;
- the regret of trusting the proxy: how many points of base validation accuracy are lost
  by taking the proxy's best configuration (top-1), or the best on the base network of
  the proxy's three best (top-3, what a pipeline with ``--top-k 3`` does);
- a bootstrap 95% interval of each: a replicate draws configurations with replacement,
  and for each drawn configuration its seed values with replacement (per network), so
  that both the choice of configurations and the seed noise count.

With one seed the interval reflects the configurations only. Sixteen configurations at
one seed cannot tell most proxies apart (rho's interval spans about 1); 24 configurations
at 2 seeds is the least the proxy-HPO experiment uses.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moprune.config import DataConfig, TrainConfig
from moprune.data import DataSplits, prepare_data
from moprune.errors import ConfigError
from moprune.hpo.job import mup_base
from moprune.hpo.pipeline import require_test_split
from moprune.hpo.space import SearchSpace
from moprune.hpo.transfer import train_cached
from moprune.io import JSONResult, write_json

__all__ = ["FidelityResult", "fidelity", "fidelity_intervals", "rank_agreement",
           "regret_points"]

#: Figures that get bootstrap intervals.
FIGURES = ("spearman_rho", "kendall_tau", "regret_top1_points", "regret_top3_points")


@dataclass(frozen=True)
class FidelityResult(JSONResult):
    """How a proxy ranks configurations against the base network (``fidelity.json``).

    Attributes:
        spearman_rho, kendall_tau: Rank agreement of the mean scores (None: a network
            scored every configuration the same).
        top_k, top_k_overlap: The overlap of the two top-k sets, as a share of k.
        regret_top1_points, regret_top3_points: Points of base validation accuracy lost by
            trusting the proxy's best (top-1) or best three (top-3).
        intervals: Each figure's bootstrap 95% interval ``[low, high]`` (or None).
        configs: Every configuration with its per-seed results on each network.
        seeds, lr_transfer: How the trainings ran.
        seconds: Training seconds on the proxy and on the base network.
        out: The run directory.
    """

    spearman_rho: float | None
    kendall_tau: float | None
    top_k: int
    top_k_overlap: float
    regret_top1_points: float
    regret_top3_points: float
    intervals: dict[str, list[float] | None]
    configs: list[dict[str, Any]] = field(repr=False)
    seeds: int
    lr_transfer: str
    seconds: dict[str, float]
    out: Path

    @classmethod
    def from_dict(cls, results: Mapping[str, Any], out: str | os.PathLike[str]
                  ) -> FidelityResult:
        k = int(results["top_k"])
        return cls(spearman_rho=results["spearman_rho"], kendall_tau=results["kendall_tau"],
                   top_k=k, top_k_overlap=float(results[f"top{k}_overlap"]),
                   regret_top1_points=float(results["regret_top1_points"]),
                   regret_top3_points=float(results["regret_top3_points"]),
                   intervals=dict(results.get("intervals", {})),
                   configs=list(results["configs"]), seeds=int(results.get("seeds", 1)),
                   lr_transfer=str(results.get("lr_transfer", "none")),
                   seconds=dict(results["seconds"]), out=Path(out), raw=dict(results))


def fidelity(model: Any, data: DataConfig, *, proxy: Mapping[str, Any], train: TrainConfig,
             space: SearchSpace, configs: int = 16, seeds: int = 1, seed: int = 0,
             top_k: int = 3, lr_transfer: str = "none", bootstrap: int = 1000,
             out: str | os.PathLike[str], splits: DataSplits | None = None
             ) -> FidelityResult:
    """Train N_P and N_B on ``configs`` configurations with ``seeds`` seeds each and
    compare the rankings (see the module's description).

    Args:
        model: The base network (a registered name, a module or a factory).
        data: The data.
        proxy: The proxy's recipe (:func:`moprune.hpo.tune.resolve_proxy` makes one from a
            module, a model file, a front run or ``"uniform:SHARE"``).
        train, space: The base training settings, the space sampled.
        out: The run directory (``fidelity.json``, ``fidelity.png``, every training).

    Example:
        >>> r = fidelity("lenet5", data, proxy=uniform_proxy(base, 0.25),
        ...              train=TrainConfig(epochs=2), space=DEFAULT_SPACE, configs=24,
        ...              seeds=2, out="runs/fid")  # doctest: +SKIP
        >>> r.spearman_rho, r.intervals["spearman_rho"]  # doctest: +SKIP

    Seeds are ``train.seed``, ``train.seed + 1``, ...; a rerun with more seeds or
    configurations trains only what is new (every training is written as it finishes).
    ``lr_transfer="mup"`` trains the proxy with muP's per-layer factors.
    """
    from scipy.stats import qmc

    if configs < 3:
        raise ConfigError(f"fidelity needs at least 3 configurations, got {configs}")
    if seeds < 1:
        raise ConfigError(f"fidelity needs at least 1 seed, got {seeds}")
    out = Path(out)
    splits = splits if splits is not None else prepare_data(data)
    require_test_split(splits)
    shapes = mup_base(model, proxy, lr_transfer, splits)
    with warnings.catch_warnings():  # the first n points of the sequence, any n: fine
        warnings.filterwarnings("ignore", message=".*balance properties of Sobol")
        points = qmc.Sobol(d=len(space), scramble=True, seed=seed).random(configs)
    rows = []
    for i, u in enumerate(points):
        params = space.decode(u)
        row: dict[str, Any] = {"index": i, "params": params, "proxy": [], "base": []}
        for s in range(seeds):
            config = dataclasses.replace(space.apply(train, params), seed=train.seed + s)
            tag = f"{i}" if s == 0 else f"{i}-s{s}"  # seed 0 keeps the earlier file names
            for label, recipe, shape in (("proxy", proxy, shapes),
                                         ("base", {"model": model}, None)):
                row[label].append(train_cached(out / "fidelity" / f"{label}-{tag}.json",
                                               recipe, params, config, splits,
                                               mup_base=shape))
        rows.append(row)
    p = np.array([[r["val_acc"] for r in row["proxy"]] for row in rows])  # (configs, seeds)
    b = np.array([[r["val_acc"] for r in row["base"]] for row in rows])
    figures = {**rank_agreement(p.mean(1), b.mean(1), top_k=top_k),
               **regret_points(p.mean(1), b.mean(1))}
    results = {"configs": rows, "seeds": seeds, "lr_transfer": lr_transfer, **figures,
               "intervals": fidelity_intervals(p, b, n=bootstrap, seed=seed),
               "seconds": {label: float(sum(r["seconds"] for row in rows for r in row[label]))
                           for label in ("proxy", "base")}}
    write_json(out / "fidelity.json", results)
    _plot(p.mean(1), b.mean(1), results, out / "fidelity.png")
    return FidelityResult.from_dict(results, out)


def rank_agreement(proxy: Sequence[float] | np.ndarray, base: Sequence[float] | np.ndarray,
                   *, top_k: int = 3) -> dict[str, Any]:
    """How well the proxy's scores rank configurations as the base network's do: Spearman
    rho, Kendall tau (scipy; ties averaged) and the overlap of the two top-k sets (ties
    broken by order). Rho and tau are None when one network scores every configuration
    the same."""
    from scipy.stats import kendalltau, spearmanr

    p, b = _pair(proxy, base)
    k = min(top_k, len(p))
    top = len(set(np.argsort(-p, kind="stable")[:k]) & set(np.argsort(-b, kind="stable")[:k]))
    if np.ptp(p) == 0 or np.ptp(b) == 0:  # no ranking to agree with: undefined, not NaN
        rho = tau = None
    else:
        rho = float(spearmanr(p, b).statistic)
        tau = float(kendalltau(p, b).statistic)
    return {"spearman_rho": rho, "kendall_tau": tau, f"top{k}_overlap": top / k, "top_k": k}


def regret_points(proxy: Sequence[float] | np.ndarray, base: Sequence[float] | np.ndarray
                  ) -> dict[str, float]:
    """Points of base accuracy lost by trusting the proxy: the base network's best score
    minus its score at the proxy's best configuration (top-1), and minus the best of its
    scores at the proxy's three best (top-3). Ties go to the earlier configuration."""
    p, b = _pair(proxy, base)
    order = np.argsort(-p, kind="stable")
    return {"regret_top1_points": float(100 * (b.max() - b[order[0]])),
            "regret_top3_points": float(100 * (b.max() - b[order[:3]].max()))}


def fidelity_intervals(proxy_runs: np.ndarray, base_runs: np.ndarray, *, n: int = 1000,
                       seed: int = 0) -> dict[str, list[float] | None]:
    """Bootstrap 95% intervals of rho, tau and the two regrets from per-seed scores
    ``(configs, seeds)`` of each network: configurations drawn with replacement, then each
    drawn configuration's seed values with replacement. A figure undefined in a replicate
    (every drawn score equal) is left out of it; None when it is undefined in all."""
    if n < 2:
        raise ConfigError(f"the bootstrap needs at least 2 replicates, got {n}")
    p, b = np.asarray(proxy_runs, dtype=float), np.asarray(base_runs, dtype=float)
    if p.ndim != 2 or b.ndim != 2 or p.shape[0] != b.shape[0]:
        raise ConfigError("fidelity intervals need (configs, seeds) scores of each network "
                          "for the same configurations")
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {f: [] for f in FIGURES}
    configs = p.shape[0]
    for _ in range(n):
        rows = rng.integers(0, configs, configs)
        pm = np.take_along_axis(p[rows], rng.integers(0, p.shape[1], (configs, p.shape[1])),
                                axis=1).mean(1)
        bm = np.take_along_axis(b[rows], rng.integers(0, b.shape[1], (configs, b.shape[1])),
                                axis=1).mean(1)
        figures = {**rank_agreement(pm, bm), **regret_points(pm, bm)}
        for f in FIGURES:
            if figures[f] is not None:
                draws[f].append(figures[f])
    return {f: ([float(x) for x in np.percentile(v, [2.5, 97.5])] if v else None)
            for f, v in draws.items()}


def _pair(proxy: Sequence[float] | np.ndarray, base: Sequence[float] | np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    p, b = np.asarray(proxy, dtype=float), np.asarray(base, dtype=float)
    if p.shape != b.shape or p.ndim != 1 or len(p) < 2:
        raise ConfigError("rank agreement needs two score lists of the same length >= 2")
    return p, b


def _plot(p: np.ndarray, b: np.ndarray, results: Mapping[str, Any], path: Path) -> None:
    from moprune.report.plots import new_figure, save_figure

    ci = results["intervals"].get("spearman_rho")
    interval = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
    fig, (ax,) = new_figure(width=4.8, height=4.2)
    ax.scatter(p, b, s=18)
    ax.set(xlabel="proxy validation accuracy (mean over seeds)",
           ylabel="base validation accuracy (mean over seeds)",
           title=f"rho {_fmt(results['spearman_rho'])}{interval}, "
                 f"tau {_fmt(results['kendall_tau'])}")
    save_figure(fig, path)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"
