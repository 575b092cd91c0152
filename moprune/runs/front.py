"""Front run directories: a front trained into one (:func:`front_run`), its summary
(:func:`finish_front`: knee, hypervolume, plot), its knee as a model file
(:func:`export_knee`, :func:`knee_run`) and a model file or knee compacted
(:func:`compact_run`). ``moprune front``, ``knee`` and ``compact`` are these calls;
``moprune run`` uses them too; a library user calls them on a front of their own.
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
from moprune.layout import RunLayout
from moprune.validation import check_in_dir

__all__ = ["CompactFile", "FrontRun", "KneeFile", "KneeRun", "compact_run", "export_knee",
           "finish_front", "front_config", "front_run", "knee_run", "non_dominated_counts"]


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
    front.save(RunLayout(out).front)
    front.plot(RunLayout(out).front_plot, knee=knee, title=title or "")
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
    path = RunLayout(run_dir).config
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
    from moprune.front.knee import KNEE_SELECTORS
    from moprune.front.train import retrain_knee
    from moprune.models import load_model, save_model
    from moprune.pruning import model_size

    KNEE_SELECTORS.get(selector)  # an unknown name: one line, before anything is read

    if max_share is not None and axes == "objectives":
        raise MopruneError("--max-share bounds a share: use --axes flops or --axes kept")
    if tolerance and max_share is not None:
        raise MopruneError("a tolerance chooses among knees; --max-share takes the most "
                           "accurate point within the share")
    if floor and max_share is not None:
        raise MopruneError("a floor bounds a knee from below; --max-share takes the most "
                           "accurate point within the share")
    if noise and max_share is None:
        raise MopruneError("a noise breaks ties within a budget: it needs --max-share")
    run = check_in_dir(run_dir, "RUN_DIR")
    if not RunLayout(run).front.exists():
        raise MopruneError(f"no front in {str(run)!r}; run 'moprune front --out {run}' first")
    front = Front.load(RunLayout(run).front)
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
    target = Path(out) if out is not None else RunLayout(run).knee(selector)
    if RunLayout(run).config.exists():  # a front of a user's own, without it: as it is
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


@dataclass(frozen=True)
class FrontRun:
    """What :func:`front_run` made: the front and its knee (final version), and where."""

    out: Path
    front: Front
    knee: Point

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "knee": self.knee.to_dict(),
                "meta": dict(self.front.meta), "points": len(self.front)}


def front_run(config: FrontConfig, out: str | os.PathLike[str], *,
              progress: bool | None = None) -> FrontRun:
    """Train the front of ``config`` into the run directory ``out`` (its ``config.yaml``,
    every point, ``front.json``, ``front.png``) and pick its knee; resumes, and refuses a
    directory made with other settings (one line) before any write.

    Raises:
        MopruneError: bad input, a network that does not build for the data, or a run
            directory of other settings.
    """
    from moprune.config import config_to_dict
    from moprune.data import prepare_data
    from moprune.front.train import check_front, front_from_config
    from moprune.rundir import RunDir
    from moprune.validation import check_run

    where = check_run(out, config.data, config.train.device)
    grows = tuple(f"method.{k}" for k in config.method.may_grow)
    run = RunDir(where, config_to_dict(config), defaults=config_to_dict(FrontConfig()),
                 may_differ=(*grows, "train.device", "data.eval_batch_size"),
                 normalize=lambda d: config_to_dict(config_from_dict(FrontConfig, d)))
    run.check()
    data = prepare_data(config.data)  # (missing data leaves no run directory behind)
    check_front(config, data)
    run.write()
    front = front_from_config(config, data, out=where, progress=progress)
    knee = finish_front(front, where, selector=config.knee,
                        title=f"{config.model} on {config.data.dataset}: "
                              f"{config.method.name}")
    return FrontRun(out=where, front=front, knee=knee)


@dataclass(frozen=True)
class CompactFile(JSONResult):
    """A model file compacted (``to_dict()``: the report written beside it)."""

    source: Path
    out: Path
    before: dict[str, Any]
    after: dict[str, Any]
    details: dict[str, Any]
    seconds: float

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> CompactFile:
        return cls(source=Path(report["source"]), out=Path(report["out"]),
                   before=report["before"], after=report["after"],
                   details=report["details"], seconds=float(report["seconds"]), raw=report)


@dataclass(frozen=True)
class KneeRun:
    """What :func:`knee_run` wrote: the knee's file and, when asked, its compaction."""

    knee: KneeFile
    compacted: CompactFile | None = None


def knee_run(run_dir: str | os.PathLike[str], *, selector: str = "chord",
             compact: bool = False, **options: Any) -> KneeRun:
    """:func:`export_knee` (``options`` are its), and with ``compact`` the knee made
    physically small beside it (:func:`compact_run`, measured on the front's data)."""
    knee = export_knee(run_dir, selector=selector, **options)
    compacted = None
    if compact:
        compacted = compact_run(knee.path, data=front_config(run_dir).data)
    return KneeRun(knee=knee, compacted=compacted)


def compact_run(source: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                *, selector: str = "chord", threshold: float | None = None,
                keep_flops: float | None = None, mode: str = "global",
                data: Any = None) -> CompactFile:
    """Compact a model file, or the knee of a front run directory
    (``knee-SELECTOR.pt``, written by :func:`knee_run`), into ``out`` (default: beside
    it, ``-compact.pt``) with its report (:func:`moprune.compaction.compact_file`); the
    front's data (or ``data``, a DataConfig) gives the test accuracy before and after.

    Raises:
        MopruneError: a source that is neither, or a run directory without its knee.
    """
    from moprune.compaction import compact_file
    from moprune.data import prepare_data

    path = Path(source)
    if path.is_dir():
        model_file = RunLayout(path).knee(selector)
        if not model_file.exists():
            raise MopruneError(f"no {model_file.name} in {str(path)!r}; run 'moprune knee "
                               f"{path} --selector {selector}' first")
        if data is None and RunLayout(path).config.exists():
            data = front_config(path).data
    elif path.is_file():
        model_file = path
    else:
        raise MopruneError(f"{str(path)!r} is neither a run directory nor a model file")
    splits = prepare_data(data) if data is not None else None
    return CompactFile.from_report(compact_file(model_file, out, threshold=threshold,
                                                keep_flops=keep_flops, mode=mode,
                                                splits=splits))
