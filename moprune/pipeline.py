"""The whole pipeline from one config: front, knee, compaction, proxy HPO, transfer, report.

``moprune run CONFIG.yaml --out RUN_DIR`` and :func:`run_pipeline` do the same. Every stage
writes into its own place in the run directory and resumes there (the front point by
point, the study trial by trial); a finished stage is recorded in ``stages.json`` with its
seconds and read back, not redone. ``report.md`` gathers the tables and plots of every
stage.

Config (YAML; every key optional)::

    front:            # a FrontConfig: model, data, train and the front's settings
      model: lenet5
      method: path
      data: {dataset: fashion-mnist, limit_train: 20000}
      train: {epochs: 12}
    hpo:              # the proxy HPO on the compacted knee
      trials: 16
      epochs: 2       # per trial (and per transfer run unless final_epochs)
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moprune.config import FrontConfig, config_to_dict
from moprune.errors import ConfigError
from moprune.names import BACKENDS, LR_TRANSFERS, PRUNERS
from moprune.validation import bounded, check_ranges

if TYPE_CHECKING:
    from moprune.data import DataSplits
    from moprune.front.train import ModelSpec

__all__ = ["HPOStage", "PipelineConfig", "PipelineResult", "run_pipeline"]

STAGES = ("front", "knee", "compact", "hpo", "report")


@dataclass(frozen=True)
class HPOStage:
    """The proxy HPO of the pipeline: trials train the compacted knee's shape."""

    trials: int = bounded(16, ge=1)
    backend: str = "optuna"
    sampler: str = "tpe"
    pruner: str = "none"
    epochs: int = bounded(2, ge=1)  # of a trial
    final_epochs: int | None = bounded(None, ge=1, integer=True)  # of a transfer run
    top_k: int = bounded(3, ge=1)  # configurations transferred to the base network
    workers: int = bounded(1, ge=1)
    space: str | None = None  # a YAML search space (default: moprune.hpo.DEFAULT_SPACE)
    flops_floor: float | None = None  # the knee in FLOPs terms above this share, no retrain
    tolerance: float = 0.0  # with flops_floor: accuracy differences taken as noise there
    lr_transfer: str = "none"  # "mup": muP's per-layer factors on the proxy's trials

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.flops_floor is not None and not 0 <= self.flops_floor < 1:
            raise ConfigError(f"hpo.flops_floor must be in [0, 1), got {self.flops_floor}")
        if not 0 <= self.tolerance < 1 or (self.tolerance and self.flops_floor is None):
            raise ConfigError("hpo.tolerance must be in [0, 1) and needs hpo.flops_floor, "
                              f"got {self.tolerance}")
        if self.lr_transfer not in LR_TRANSFERS:
            raise ConfigError(f"hpo.lr_transfer must be one of {list(LR_TRANSFERS)}, "
                              f"got {self.lr_transfer!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"hpo.backend must be one of {list(BACKENDS)}, "
                              f"got {self.backend!r}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"hpo.pruner must be one of {list(PRUNERS)}, "
                              f"got {self.pruner!r}")
        if self.sampler not in BACKENDS[self.backend]:
            raise ConfigError(f"hpo.sampler of the {self.backend} backend must be one of "
                              f"{list(BACKENDS[self.backend])}, got {self.sampler!r}")


@dataclass(frozen=True)
class PipelineConfig:
    """``moprune run``'s config: the front (with its model, data and training) and the HPO."""

    front: FrontConfig = field(default_factory=FrontConfig)
    hpo: HPOStage = field(default_factory=HPOStage)


@dataclass(frozen=True)
class PipelineResult:
    """What the pipeline made: the knee, its compacted size, the tuned configuration."""

    out: Path
    knee: dict[str, Any]
    compaction: dict[str, Any]
    hpo: dict[str, Any]
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "knee": self.knee, "compaction": self.compaction,
                "hpo": self.hpo, "seconds": self.seconds}


def run_pipeline(config: PipelineConfig, out: str | os.PathLike[str], *,
                 model: ModelSpec | None = None, data: DataSplits | None = None
                 ) -> PipelineResult:
    """Run (or resume) every stage into ``out``; refuses a directory made with other
    settings (one line naming the setting).

    Args:
        config: The stages' settings.
        out: The run directory.
        model: The network, instead of ``config.front.model``: a registered name, an
            ``nn.Module`` of your own (deep-copied and re-initialised for every training)
            or a callable returning one. ``config.yaml`` then records its class name.
        data: The splits (:func:`moprune.data.from_tensors`), instead of
            ``config.front.data``; ``config.yaml`` records their name and sizes.

    Raises:
        MopruneError: for a run directory with other settings, or bad input.
    """
    from moprune.data import prepare_data
    from moprune.front.train import check_front
    from moprune.hpo import load_space
    from moprune.io import read_json, write_json
    from moprune.rundir import RunDir
    from moprune.validation import check_device, check_out_dir, check_run

    fc = config.front
    if isinstance(model, str):
        fc = replace(fc, model=model)
    elif model is not None:  # recorded by name: a module's class, a factory's own name
        from torch import nn

        name = (type(model).__name__ if isinstance(model, nn.Module)
                else getattr(model, "__name__", "factory"))
        fc = replace(fc, model=f"module:{name}")
    config = replace(config, front=fc)
    settings = config_to_dict(config)
    if data is not None:
        out = check_out_dir(out, "--out")
        check_device(fc.train.device)
        settings["front"]["data"] = {"splits": data.raw.name, "sizes": data.sizes}
    else:
        out = check_run(out, fc.data, fc.train.device)
    run = RunDir(out, settings, may_differ=("hpo.workers", "front.train.device"))
    run.check()
    splits = data if data is not None else prepare_data(fc.data)
    spec = model if model is not None else fc.model
    # what the later stages would refuse, refused before anything is written
    check_front(fc, splits, model=spec)
    if config.hpo.space is not None:
        load_space(config.hpo.space)
    run.write()
    done_file = out / "stages.json"
    done: dict[str, Any] = read_json(done_file) if done_file.is_file() else {}

    def stage(name: str, work: Any) -> Any:
        if name in done:
            return done[name]["result"]
        start = time.perf_counter()
        result = work()
        done[name] = {"result": result, "seconds": time.perf_counter() - start}
        write_json(done_file, done)
        return result

    front_dir = out / "front"
    stage("front", lambda: _front(fc, spec, splits, front_dir))
    knee = stage("knee", lambda: _knee(fc, front_dir))
    compaction = stage("compact", lambda: _compact(fc, spec, front_dir, knee, splits))
    hpo = stage("hpo", lambda: _hpo(config, spec, splits, out))
    seconds = {k: float(v["seconds"]) for k, v in done.items()}
    result = PipelineResult(out=out, knee=knee, compaction=compaction, hpo=hpo,
                            seconds=seconds)
    _report(config, result, out)
    return result


def _front(fc: FrontConfig, spec: ModelSpec, splits: Any, front_dir: Path
           ) -> dict[str, Any]:
    from moprune.front.runs import finish_front
    from moprune.front.train import front_from_config

    front = front_from_config(fc, splits, model=spec, out_dir=front_dir)
    finish_front(front, front_dir, selector=fc.knee)
    axes = front.meta["knee_axes"]
    return {"points": len(front), "non_dominated": len(front.non_dominated(axes=axes)),
            "axes": axes, "hypervolume": front.meta["hypervolume"]}


def _knee(fc: FrontConfig, front_dir: Path) -> dict[str, Any]:
    from moprune.front import Front

    front = Front.load(front_dir / "front.json")
    axes = front.meta["knee_axes"]
    point = front.final_version(front.knee(fc.knee, axes=axes))
    return {"selector": fc.knee, "axes": axes, **point.to_dict()}


def _compact(fc: FrontConfig, spec: ModelSpec, front_dir: Path, knee: dict[str, Any],
             splits: Any) -> dict[str, Any]:
    """The knee made physically small, beside its front (``knee-SELECTOR-compact.pt``, where
    the HPO's proxy source finds it and counts the front's seconds as its creation)."""
    from moprune.front.train import model_factory
    from moprune.pruning import compact_file

    factory = None if isinstance(spec, str) else model_factory(spec, splits, fc.model_args)
    return compact_file(front_dir / knee["checkpoint"],
                        front_dir / f"knee-{knee['selector']}-compact.pt", splits=splits,
                        factory=factory)


def _hpo(config: PipelineConfig, spec: ModelSpec, splits: Any, out: Path) -> dict[str, Any]:
    from moprune.hpo import DEFAULT_SPACE, load_space, tune
    from moprune.hpo.pipeline import interrupted

    h, fc = config.hpo, config.front
    space = load_space(h.space) if h.space else DEFAULT_SPACE
    result = tune(spec, splits, proxy=out / "front", selector=fc.knee, trials=h.trials,
                  epochs=h.epochs, space=space, backend=h.backend, sampler=h.sampler,
                  pruner=h.pruner, workers=h.workers, top_k=h.top_k,
                  final_epochs=h.final_epochs, seed=fc.train.seed,
                  flops_floor=h.flops_floor, tolerance=h.tolerance,
                  lr_transfer=h.lr_transfer,
                  train_config=dataclasses.replace(fc.train, epochs=h.epochs),
                  out=out / "hpo")
    return {"best_params": result.best_params, "val_acc": result.val_acc,
            "test_acc": result.test_acc, "seconds": result.seconds,
            "trials": sum(not interrupted(t) for t in result.trials)}


def _report(config: PipelineConfig, result: PipelineResult, out: Path) -> Path:
    """``report.md``: every stage's table and plot."""
    from moprune.front import Front
    from moprune.io import atomic_write
    from moprune.report import format_table
    from moprune.report.tables import front_table

    front = Front.load(out / "front" / "front.json")
    axes = front.meta["knee_axes"]
    k, c, h = result.knee, result.compaction, result.hpo
    rows = [[key, c["before"][key], c["after"][key],
             c["before"][key] / c["after"][key] if c["after"][key] else None]
            for key in ("parameters", "flops_per_image", "train_step_ms", "inference_ms",
                        "test_acc") if key in c["before"]]
    lines = [
        f"# moprune run: {config.front.model} on {config.front.data.dataset}", "",
        "## Front", "",
        f"{len(front)} points ({config.front.method}, {config.front.complexity}), "
        f"{len(front.non_dominated(axes=axes))} non-dominated in {axes} axes:", "",
        front_table(front.non_dominated(axes=axes), markdown=True), "",
        "![front](front/front.png)", "",
        "## Knee", "",
        f"{k['selector']} knee in {k['axes']} axes: `{k['key']}`, validation accuracy "
        f"{k['val_acc']:.4f}, test accuracy {k['test_acc']:.4f}, kept {k['kept']:.2%}"
        + (f", FLOPs share {k['flops_share']:.2%}" if k.get("flops_share") is not None
           else ""), "",
        "## Compaction", "",
        format_table(["", "before", "after", "before / after"], rows, markdown=True), "",
        "## Proxy HPO", "",
        f"{h['trials']} trials on the compacted knee, the top {config.hpo.top_k} "
        f"transferred to {config.front.model}: best {h['best_params']}, validation "
        f"accuracy {h['val_acc']:.4f}, test accuracy "
        + ("-" if h["test_acc"] is None else f"{h['test_acc']:.4f}"), "",
        format_table(["phase", "seconds"], [[p, s] for p, s in h["seconds"].items()],
                     markdown=True), "",
        "![hpo](hpo/hpo.png)", "",
        "## Seconds per stage", "",
        format_table(["stage", "seconds"], [[s, v] for s, v in result.seconds.items()],
                     markdown=True), "",
    ]
    text = "\n".join(lines)
    return atomic_write(out / "report.md", lambda f: f.write(text.encode()))
