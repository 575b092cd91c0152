"""What a front's run directory gives: its summary (knee, hypervolume, plot) and knee files.

``moprune front`` ends with :func:`finish_front`, ``moprune knee`` is :func:`export_knee`,
and ``moprune run`` uses both; a library user calls them on a front of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moprune.config import config_from_dict, load_config_file
from moprune.errors import MopruneError
from moprune.front.config import FrontConfig
from moprune.front.points import Front, Point
from moprune.io import JSONResult, write_json
from moprune.validation import check_in_dir

__all__ = ["KneeFile", "export_knee", "finish_front", "front_config",
           "non_dominated_counts"]


def finish_front(front: Front, out_dir: str | os.PathLike[str], *, selector: str = "chord",
                 title: str | None = None) -> Point:
    """The knee of a trained front (its final version: retrained or debiased when there is
    one), chosen in the front's ``knee_axes``; records the hypervolume and the knee in
    ``front.meta``, writes ``front.json`` and ``front.png`` into ``out_dir``, and returns the
    knee."""
    out = Path(out_dir)
    axes = front.meta.get("knee_axes", "objectives")
    knee = front.final_version(front.knee(selector, axes=axes))
    front.meta["hypervolume"] = front.hypervolume(axes=axes)
    front.meta["knee"] = {"selector": selector, "point": knee.key, "axes": axes}
    front.meta["non_dominated_count"] = non_dominated_counts(front)
    front.save(out / "front.json")
    front.plot(out / "front.png", knee=knee, title=title or "")
    return knee


def non_dominated_counts(front: Front) -> dict[str, int]:
    """How many search points are non-dominated in each of the axes a knee can be chosen
    in: ``objectives`` (f1, f2), ``kept`` and, when every point has a FLOPs share,
    ``flops``. The counts differ: validation accuracy is a count of images, so points
    close in accuracy swap order on noise where the cross-entropy does not tie."""
    axes = ["objectives", "kept"]
    if all(p.flops_share is not None for p in front.search_points):
        axes.append("flops")
    return {a: len(front.non_dominated(axes=a)) for a in axes}


def front_config(run_dir: str | os.PathLike[str]) -> FrontConfig:
    """The resolved settings a ``moprune front`` run directory was made with."""
    path = Path(run_dir) / "config.yaml"
    return config_from_dict(FrontConfig, load_config_file(path), where=str(path))


@dataclass(frozen=True)
class KneeFile(JSONResult):
    """A front's knee written as a model file (``to_dict()``: the JSON beside it)."""

    selector: str
    axes: str
    point: Point
    size: dict[str, Any]
    path: Path


def export_knee(run_dir: str | os.PathLike[str], *, selector: str = "chord",
                axes: str | None = None, include_empty: bool = False,
                max_share: float | None = None, floor: float = 0.0, tolerance: float = 0.0,
                noise: float | str = 0.0,
                out: str | os.PathLike[str] | None = None) -> KneeFile:
    """Write the knee of the front in ``run_dir`` as a model file (default
    ``RUN_DIR/knee-SELECTOR.pt``) with its summary beside it (``.json``).

    The knee is chosen in ``axes`` (default: the front's ``knee_axes``) among the supported
    non-dominated points; with ``max_share``, it is instead the most accurate
    non-dominated point keeping at most that share of the weights or FLOPs
    (:meth:`~moprune.front.Front.best_within`; ``axes`` then defaults to ``flops``, and
    the default file is ``RUN_DIR/knee-max-AXES{max_share}.pt``). ``floor`` (axes ``kept``
    or ``flops``): the knee of the points keeping at least that share only (file
    ``knee-SELECTOR-floorF.pt``). ``tolerance`` (axes ``kept`` or ``flops``): the smallest
    point within that much validation accuracy of the knee instead
    (:meth:`~moprune.front.Front.knee`; file ``knee-SELECTOR-tolT.pt``, or
    ``knee-SELECTOR-floorF-tolT.pt`` with a floor). ``noise`` (with ``max_share``): the
    largest point in the budget within that much validation accuracy of the most accurate
    one, or within two standard errors with ``"auto"`` (:meth:`~moprune.front.Front.
    best_within`; file ``knee-max-AXESS-noiseN.pt``). The point is then brought
    to the front's full training (:func:`~moprune.front.train.retrain_knee`): a
    weighted-sum point whose run had fewer epochs is retrained, a path point is debiased to
    the front's ``knee_epochs`` (this needs the run's ``config.yaml``, which ``moprune
    front`` writes; without it the point is written as it is).

    Raises:
        MopruneError: when ``run_dir`` holds no front, no point is within ``max_share``, or
            the knee has no model file.
    """
    from moprune.front.train import retrain_knee
    from moprune.models import load_model, save_model
    from moprune.pruning import model_size

    if tolerance and max_share is not None:
        raise MopruneError("a tolerance chooses among knees; --max-share takes the most "
                           "accurate point within the share")
    if floor and max_share is not None:
        raise MopruneError("a floor bounds a knee from below; --max-share takes the most "
                           "accurate point within the share")
    if noise and max_share is None:
        raise MopruneError("a noise breaks ties within a budget: it needs --max-share")
    run = check_in_dir(run_dir, "RUN_DIR")
    if not (run / "front.json").exists():
        raise MopruneError(f"no front in {str(run)!r}; run 'moprune front --out {run}' first")
    front = Front.load(run / "front.json")
    if max_share is None:
        axes = axes or front.meta.get("knee_axes", "objectives")
        point = front.knee(selector, include_empty=include_empty, axes=axes, floor=floor,
                           tolerance=tolerance)
        selector += f"-floor{floor:g}" if floor else ""
        selector += f"-tol{tolerance:g}" if tolerance else ""
    else:
        axes = axes or "flops"
        point = front.best_within(max_share, axes=axes, include_empty=include_empty,
                                  noise=noise)
        selector = f"max-{axes}{max_share:g}"
        selector += f"-noise{noise if noise == 'auto' else f'{noise:g}'}" if noise else ""
        if noise == "auto":  # the margin it stood for, for the summary
            best = front.best_within(max_share, axes=axes, include_empty=include_empty)
            noise = front.accuracy_noise(best.val_acc)
    target = Path(out) if out is not None else run / f"knee-{selector}.pt"
    if (run / "config.yaml").exists():  # a front of a user's own, without it: as it is
        point = retrain_knee(front, point, front_config(run), run)
    if point.checkpoint is None:
        raise MopruneError(f"the knee {point.key} has no model file in {run}")
    model = load_model(run / point.checkpoint)
    size = model_size(model)
    summary = {"selector": selector, "axes": axes, "point": point.to_dict(), "size": size}
    if noise:
        summary["noise"] = noise
    save_model(model, target, meta={"selector": selector, "point": point.key,
                                    "test_acc": point.test_acc, "val_acc": point.val_acc,
                                    "kept": point.kept})
    write_json(target.with_suffix(".json"), summary)
    return KneeFile(selector=selector, axes=axes, point=point, size=size, path=target,
                    raw=summary)
