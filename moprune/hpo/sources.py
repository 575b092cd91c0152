"""Where a proxy comes from: a model file, a front run directory (its compacted knee, or its
knee above a FLOPs floor) or the base network thinned uniformly."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.data import DataSplits
from moprune.errors import ConfigError
from moprune.hpo.objective import (
    architecture,
)
from moprune.io import read_json, write_json
from moprune.layout import RunLayout
from moprune.progress import progress_line

__all__ = ["proxy_source", "uniform_proxy"]


def proxy_source(source: str | os.PathLike[str], *, selector: str = "chord",
                 base: Mapping[str, Any] | None = None, flops_floor: float | None = None,
                 tolerance: float | str = 0.0,
                 factory: Callable[[], nn.Module] | None = None,
                 splits: DataSplits | None = None
                 ) -> tuple[dict[str, Any], dict[str, float]]:
    """The proxy's recipe and the seconds its creation took, from a model file, a front
    run directory, or ``uniform:SHARE`` (the base network thinned uniformly to SHARE of
    its FLOPs, see :func:`uniform_proxy`; needs ``base``, the base network's recipe).

    From a front run directory: without ``flops_floor``, its compacted knee
    (``knee-SELECTOR-compact.pt``, made by ``moprune knee --compact``); with it, the knee
    of the front in (validation error, FLOPs share) among the points keeping at least
    ``flops_floor`` of the FLOPs, compacted here (``knee-SELECTOR-flopsF-compact.pt``; its
    dead channels removed, no retraining: trials use only its shape; ``tolerance``: the
    accuracy that counts as noise in that choice, see :meth:`moprune.front.Front.knee`).
    A knee that keeps
    over 95% of the FLOPs is refused (ConfigError): it cannot pay for its creation.

    The creation time of a front run is the training time of all its points (the whole
    search, and a knee retraining if there is one) plus the compaction.

    A front of a user's module (not a registered model) needs ``factory``, the callable
    that builds that module: its files hold weights and the pruning history, and the
    proxy is the compacted module rebuilt from them.
    """
    if flops_floor is not None and not (Path(source).is_dir() and 0 <= flops_floor < 1):
        raise ConfigError("a FLOPs floor needs a front run directory as the proxy and a "
                          f"share in [0, 1), got {str(source)!r} and {flops_floor}")
    if tolerance and flops_floor is None:
        raise ConfigError("a knee tolerance chooses the knee in FLOPs terms: it needs a "
                          "FLOPs floor (0 for none)")
    if str(source).startswith("uniform:"):
        if base is None:
            raise ConfigError("a uniform proxy needs the base network's recipe")
        try:
            share = float(str(source).split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"proxy {str(source)!r}: uniform:SHARE needs a number, e.g. "
                              "uniform:0.25") from None
        if not 0 < share <= 1:
            raise ConfigError(f"proxy {str(source)!r}: the share of the FLOPs must be in "
                              "(0, 1]")
        t0 = time.perf_counter()
        recipe = uniform_proxy(base, share)
        return recipe, {"compaction": time.perf_counter() - t0}
    path = Path(source)
    seconds: dict[str, float] = {}
    if path.is_dir():
        run = path
        path = RunLayout(run).knee_compact(selector)
        if flops_floor is None and not path.is_file():
            raise ConfigError(f"{str(run)!r} has no compacted knee {path.name}; run "
                              f"`moprune knee {run} --selector {selector} --compact` first, "
                              "or give a FLOPs floor (--proxy-flops-floor)")
        front = read_json(RunLayout(run).front)  # its points include a retrained knee
        seconds["front"] = float(sum(p.get("seconds", 0.0) for p in front.get("points", [])))
        if flops_floor is not None:
            path = _floor_knee(run, selector, flops_floor, factory, tolerance, splits)
    elif not path.is_file():
        raise ConfigError(f"proxy {str(source)!r} is neither a model file, a run directory "
                          "nor uniform:SHARE")
    report = path.with_suffix(".json")
    if report.is_file():
        seconds["compaction"] = float(read_json(report).get("seconds", 0.0) or 0.0)
    recipe = architecture(path)
    if recipe.get("model") is None:  # a user's module: its compacted shape, rebuilt
        from moprune.models import load_model

        if factory is None:
            raise ConfigError(f"{str(path)!r} holds a module of your own; give the "
                              "callable that builds it (the model of tune)")
        recipe = {"model": load_model(path, factory=factory)}
    return recipe, seconds


# a knee keeping more of the FLOPs than this cannot pay for its creation: its trials cost
# what the base network's do (measured: the VGG's flops path at lam 0.99 gave a knee that
# keeps 99% of the FLOPs, and each of its 32-trial pipelines took 41% longer than the full
# one)
_MAX_PROXY_FLOPS = 0.95


def _floor_knee(run: Path, selector: str, floor: float,
                factory: Callable[[], nn.Module] | None = None,
                tolerance: float | str = 0.0, splits: DataSplits | None = None) -> Path:
    """The compacted model of ``run``'s knee in FLOPs terms above ``floor``, accuracy
    differences up to ``tolerance`` taken as noise (made once)."""
    from moprune.compaction import compact_file
    from moprune.front import Front

    out = RunLayout(run).knee_flops_compact(selector, floor, tolerance)
    front = Front.load(RunLayout(run).front)
    point = front.knee(selector, axes="flops", floor=floor, tolerance=tolerance)
    if point.flops_share is not None and point.flops_share > _MAX_PROXY_FLOPS:
        raise ConfigError(
            f"the knee {point.key} of {str(run)!r} keeps {point.flops_share:.1%} of the "
            f"FLOPs: no smaller network above the floor {floor:g} to search on (the "
            "front removed too few channels); use one that removes more, or uniform:SHARE")
    if point.checkpoint is None:
        raise ConfigError(f"the knee {point.key} of {str(run)!r} has no model file")
    report = out.with_suffix(".json")
    if not (out.is_file() and report.is_file()
            and read_json(report).get("point") == point.key):
        # (only the shape is needed: no test accuracy measured, which costs creation time)
        x = None if splits is None else torch.randn(
            128, splits.in_channels, splits.image_size, splits.image_size,
            generator=torch.Generator().manual_seed(0))
        made = compact_file(run / point.checkpoint, out, factory=factory, example_inputs=x)
        write_json(report, {**{k: v for k, v in made.items() if k != "out"},
                            "point": point.key, "flops_share": point.flops_share,
                            "val_acc": point.val_acc, "floor": floor,
                            "tolerance": tolerance})
    progress_line(f"proxy: knee {point.key} of {run} above {floor:.0%} of the FLOPs "
                  f"({point.flops_share:.1%} kept, val acc {point.val_acc:.4f})")
    return out


def uniform_proxy(base: Mapping[str, Any], share: float) -> dict[str, Any]:
    """The recipe of the base network with every prunable layer thinned by the same share
    of its channels, to ``share`` of its FLOPs (:func:`moprune.pruning.prune_to_flops`,
    mode ``uniform``; the output layer keeps its width).

    No training is needed: trials start from fresh weights, so only the channel counts
    matter, and a uniform cut gives the same counts whatever the weights. The measured
    case for it (experiments/proxy_hpo): it ranks configurations like the base network
    far better than the irregular shape of a group-l1 knee of the same cost.
    """
    from moprune.models.registry import model_recipe
    from moprune.models.serialization import build_from_recipe, plain
    from moprune.pruning import prune_to_flops

    net = build_from_recipe(dict(base), seed=0)
    example = torch.zeros(1, base["in_channels"], base["image_size"], base["image_size"])
    small, _ = prune_to_flops(net, example_inputs=example, keep_flops=share, mode="uniform")
    recipe = model_recipe(small)
    assert recipe is not None  # built by moprune
    return dict(plain(recipe))  # lists, not tuples, as a model file holds it
