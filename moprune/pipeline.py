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

from moprune.config import config_to_dict
from moprune.errors import ConfigError
from moprune.front.config import FrontConfig
from moprune.layout import RunLayout
from moprune.names import BACKENDS, LR_TRANSFERS, PRUNERS
from moprune.validation import bounded, check_ranges

if TYPE_CHECKING:
    from moprune.data import DataSplits
    from moprune.front.train import ModelSpec

__all__ = ["HPOStage", "PipelineConfig", "PipelineResult", "default_config_text",
           "run_pipeline"]

STAGES = ("front", "knee", "compact", "hpo", "report")


@dataclass(frozen=True)
class HPOStage:
    """The proxy HPO of the pipeline: trials train the compacted knee's shape."""

    trials: int = bounded(16, ge=1)
    backend: str = "optuna"
    sampler: str = "tpe"
    pruner: str = "none"
    epochs: int = bounded(2, ge=1)  # of a trial
    # of a transfer run and of the default-hyperparameter reference (None: front.train's)
    final_epochs: int | None = bounded(None, ge=1, integer=True)
    top_k: int = bounded(3, ge=1)  # configurations transferred to the base network
    workers: int = bounded(1, ge=1)
    space: str | None = None  # a YAML search space (default: moprune.hpo.DEFAULT_SPACE)
    # auto: the recipe's proxy (the front's knee when the front is the recipe's path), when
    # the pay check predicts a saving; knee: the front's knee as it is; none: the base
    # network; uniform:SHARE: the base network thinned uniformly
    proxy: str = "auto"
    flops_floor: float | None = None  # proxy knee: the knee in FLOPs terms above this share
    tolerance: float = 0.0  # with flops_floor: accuracy differences taken as noise there
    lr_transfer: str | None = None  # none | mup; None: mup for the recipe's proxy

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.proxy not in ("auto", "knee", "none") and not self.proxy.startswith("uniform:"):
            raise ConfigError(f"hpo.proxy must be auto, knee, none or uniform:SHARE, got "
                              f"{self.proxy!r}")
        if (self.flops_floor is not None or self.tolerance) and self.proxy != "knee":
            raise ConfigError("hpo.flops_floor and hpo.tolerance choose the front's knee: "
                              f"they need hpo.proxy knee, not {self.proxy!r}")
        if self.flops_floor is not None and not 0 <= self.flops_floor < 1:
            raise ConfigError(f"hpo.flops_floor must be in [0, 1), got {self.flops_floor}")
        if not 0 <= self.tolerance < 1 or (self.tolerance and self.flops_floor is None):
            raise ConfigError("hpo.tolerance must be in [0, 1) and needs hpo.flops_floor, "
                              f"got {self.tolerance}")
        if self.lr_transfer is not None and self.lr_transfer not in LR_TRANSFERS:
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


def _recipe_front() -> FrontConfig:
    from moprune.hpo.proxy import recipe_front

    return recipe_front(FrontConfig())


@dataclass(frozen=True)
class PipelineConfig:
    """``moprune run``'s config: the front (with its model, data and training) and the HPO.

    A front section without a ``method`` is the proxy recipe's path
    (:func:`moprune.hpo.recipe_front`: a channel path on the FLOPs) with the section's
    other settings, so that its knee is the HPO's proxy; one that names its method is a
    front of :class:`~moprune.front.FrontConfig`'s defaults and its settings, trained as
    given (the HPO then makes the recipe's path on its own)."""

    front: FrontConfig = field(default_factory=_recipe_front)
    hpo: HPOStage = field(default_factory=HPOStage)

    @staticmethod
    def section_default(name: str, values: Any) -> Any:
        """The defaults a section of the YAML file overrides (``config_from_dict``)."""
        if name == "front":
            named = isinstance(values, dict) and "method" in values
            return FrontConfig() if named else _recipe_front()
        return HPOStage()


@dataclass(frozen=True)
class PipelineResult:
    """What the pipeline made: the knee, its compacted size, the tuned configuration."""

    out: Path
    knee: dict[str, Any]
    compaction: dict[str, Any]
    hpo: dict[str, Any]
    seconds: dict[str, float]
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def degenerate(self) -> bool:
        """Whether a stage's verdict failed (the report says which, and what to do)."""
        return any(not v["ok"] for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "knee": self.knee, "compaction": self.compaction,
                "hpo": self.hpo, "seconds": self.seconds, "verdicts": self.verdicts}


def default_config_text() -> str:
    """A ``moprune run`` config with every setting at its default, as YAML (the front
    section: the proxy recipe's path, which a section without ``method`` gets)."""
    import yaml

    text = yaml.safe_dump(config_to_dict(PipelineConfig()), sort_keys=False)
    return ("# moprune run CONFIG --out RUN_DIR: every setting at its default. A front "
            "section without\n# `method` is the proxy recipe's path; one that names its "
            "method starts from moprune\n# front's defaults instead.\n" + text)


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
    grows = tuple(f"front.method.{k}" for k in fc.method.may_grow)
    run = RunDir(out, settings, may_differ=("hpo.workers", "front.train.device",
                                           "front.data.eval_batch_size", *grows),
                 normalize=_saved_settings)
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

    front_dir = RunLayout(out).stage("front")
    stage("front", lambda: _front(fc, spec, splits, front_dir))
    knee = stage("knee", lambda: _knee(fc, front_dir))
    compaction = stage("compact", lambda: _compact(fc, spec, front_dir, knee, splits))
    hpo = stage("hpo", lambda: _hpo(config, spec, splits, out))
    seconds = {k: float(v["seconds"]) for k, v in done.items()}
    verdicts = _verdicts(front_dir, knee, compaction, hpo)
    result = PipelineResult(out=out, knee=knee, compaction=compaction, hpo=hpo,
                            seconds=seconds, verdicts=[v.to_dict() for v in verdicts])
    _report(config, result, out)
    return result


def _saved_settings(saved: dict[str, Any]) -> dict[str, Any]:
    """A run directory's settings of any version in the current form (older ones hold the
    front method's options as flat keys); a library run's data (splits, not a
    DataConfig) kept as it is."""
    from moprune.config import config_from_dict

    front = dict(saved.get("front") or {})
    data = front.pop("data", None)
    given = isinstance(data, dict) and "splits" in data
    if not given and data is not None:
        front["data"] = data
    out = config_to_dict(config_from_dict(PipelineConfig, {**saved, "front": front}))
    if given:
        out["front"]["data"] = data
    return out


def _is_recipe(fc: FrontConfig) -> bool:
    """Whether the front is a path of the proxy recipe's kind (the channel corrector on
    the FLOPs), so that its knee by the recipe's rule is the recipe's proxy."""
    return (fc.method.name == "path" and fc.complexity == "flops"
            and getattr(fc.method, "corrector", None) == "channel")


def _verdicts(front_dir: Path, knee: dict[str, Any], compaction: dict[str, Any],
              hpo: dict[str, Any]) -> list[Any]:
    """Every stage's verdict, printed (a problem as a warning) and returned."""
    from moprune.front import Front
    from moprune.progress import notice, progress_line
    from moprune.verdicts import Verdict, compaction_verdict, front_verdict, knee_verdict

    verdicts = [front_verdict(Front.load(RunLayout(front_dir).front).search_points),
                knee_verdict(knee), compaction_verdict(compaction)]
    for v in verdicts:  # (the HPO's were printed as it ended)
        (progress_line if v.ok else notice)(v.line())
    return [*verdicts, *(Verdict(**v) for v in hpo.get("verdicts", []))]


def _front(fc: FrontConfig, spec: ModelSpec, splits: Any, front_dir: Path
           ) -> dict[str, Any]:
    from moprune.front.train import front_from_config
    from moprune.runs.front import finish_front

    if _is_recipe(fc):  # the recipe's points are measured on a subset (its shape matters)
        from moprune.hpo.proxy import DEFAULT_RECIPE, eval_subset

        splits = eval_subset(splits, DEFAULT_RECIPE.eval_images)
    front = front_from_config(fc, splits, model=spec, out=front_dir)
    finish_front(front, front_dir, selector=fc.knee)
    axes = front.meta["knee_axes"]
    return {"points": len(front), "non_dominated": len(front.non_dominated(axes=axes)),
            "axes": axes, "hypervolume": front.meta["hypervolume"]}


def _knee(fc: FrontConfig, front_dir: Path) -> dict[str, Any]:
    """The front's knee; of the recipe's path, by the recipe's rule (in FLOPs terms above
    its floor, ties within the validation noise: the smallest)."""
    from moprune.front import Front
    from moprune.hpo.proxy import DEFAULT_RECIPE

    front = Front.load(RunLayout(front_dir).front)
    axes = front.meta["knee_axes"]
    rule: dict[str, Any] = ({"floor": DEFAULT_RECIPE.floor, "tolerance": DEFAULT_RECIPE.noise}
                            if _is_recipe(fc) else {})
    point = front.final_version(front.knee(fc.knee, axes=axes, **rule))
    return {"selector": fc.knee, "axes": axes, "rule": rule, **point.to_dict()}


def _compact(fc: FrontConfig, spec: ModelSpec, front_dir: Path, knee: dict[str, Any],
             splits: Any) -> dict[str, Any]:
    """The knee made physically small, beside its front (``knee-SELECTOR-compact.pt``, where
    the HPO's proxy source finds it and counts the front's seconds as its creation)."""
    from moprune.compaction import compact_file
    from moprune.front.train import model_factory

    factory = None if isinstance(spec, str) else model_factory(spec, splits, fc.model_args)
    return compact_file(front_dir / knee["checkpoint"],
                        RunLayout(front_dir).knee_compact(knee["selector"]), splits=splits,
                        factory=factory)


def _hpo(config: PipelineConfig, spec: ModelSpec, splits: Any, out: Path) -> dict[str, Any]:
    from moprune.hpo import DEFAULT_SPACE, load_space, tune
    from moprune.hpo.pipeline import interrupted

    h, fc = config.hpo, config.front
    space = load_space(h.space) if h.space else DEFAULT_SPACE
    front_dir = RunLayout(out).stage("front")
    proxy: Any = {"auto": "auto", "knee": front_dir, "none": None}.get(h.proxy, h.proxy)
    result = tune(spec, splits, proxy=proxy, selector=fc.knee, trials=h.trials,
                  epochs=h.epochs, space=space, backend=h.backend, sampler=h.sampler,
                  pruner=h.pruner, workers=h.workers, top_k=h.top_k,
                  final_epochs=h.final_epochs or fc.train.epochs, seed=fc.train.seed,
                  flops_floor=h.flops_floor, tolerance=h.tolerance,
                  lr_transfer=h.lr_transfer, model_args=fc.model_args,
                  proxy_front=front_dir if h.proxy == "auto" and _is_recipe(fc) else None,
                  train=dataclasses.replace(fc.train, epochs=h.epochs),
                  out=RunLayout(out).stage("hpo"))
    raw = result.to_dict()
    return {"best_params": result.best_params, "val_acc": result.val_acc,
            "test_acc": result.test_acc, "seconds": result.seconds,
            "trials": sum(not interrupted(t) for t in result.trials),
            "proxy": raw.get("proxy"), "default": raw.get("default"),
            "proxy_decision": raw.get("proxy_decision"), "verdicts": raw.get("verdicts", []),
            "final_epochs": h.final_epochs or fc.train.epochs}


def _acc(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _secs(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _recommendation(result: PipelineResult) -> str:
    """One line: what to use, or what to change."""
    bad = [v for v in result.verdicts if not v["ok"]]
    if bad:
        first = bad[0]
        return (f"Do not use this result as it is: {first['stage']}: "
                f"{first['advice'] or first['finding']}.")
    h = result.hpo
    tuned = "the tuned configuration" if h.get("best_params") else "the defaults"
    return (f"Use {tuned} on the base network (validation {_acc(h['val_acc'])}); the "
            f"compacted knee is the small network to deploy.")


def _report(config: PipelineConfig, result: PipelineResult, out: Path) -> Path:
    """``report.md``: the verdict and a recommendation first, then dense, knee, compacted
    and tuned networks side by side, the HPO's time against the full pipeline it predicts,
    and every stage's table and plot."""
    from moprune.front import Front, Point
    from moprune.io import atomic_write
    from moprune.report import format_table
    from moprune.report.tables import front_table
    from moprune.verdicts import Verdict, summary

    front = Front.load(RunLayout(RunLayout(out).stage("front")).front)
    axes = front.meta["knee_axes"]
    k, c, h = result.knee, result.compaction, result.hpo
    before, after = c["before"], c["after"]
    default = h.get("default") or {}
    changed = after["parameters"] != before["parameters"]
    step = (lambda d: f"{d['train_step_ms']:.2f}") if changed and "train_step_ms" in before \
        else (lambda d: "-")
    knee_flops = (round(before["flops_per_image"] * k["flops_share"])
                  if k.get("flops_share") is not None else None)
    networks = [
        ["dense, default hyperparameters", _acc(default.get("val_acc")),
         _acc(default.get("test_acc")), f"{before['parameters']:,}",
         f"{before['flops_per_image']:,}", step(before)],
        [f"knee `{k['key']}` (FLOPs: its share x dense)", _acc(k["val_acc"]),
         _acc(k["test_acc"]),
         f"{k['scope_size'] - k['zeros']:,} nonzero",
         "-" if knee_flops is None else f"{knee_flops:,}", "-"],
        ["knee compacted (the proxy's shape)", "-", _acc(after.get("test_acc")),
         f"{after['parameters']:,}", f"{after['flops_per_image']:,}", step(after)],
        ["dense, tuned hyperparameters", _acc(h["val_acc"]), _acc(h["test_acc"]),
         f"{before['parameters']:,}", f"{before['flops_per_image']:,}", "-"],
    ]
    verdicts = [Verdict(**v) for v in result.verdicts]
    decision = h.get("proxy_decision") or {}
    pay = decision.get("check") or decision.get("bound")
    spent = h["seconds"]
    time_rows = [[phase.replace("_", " "), _secs(v)] for phase, v in spent.items()
                 if phase != "hpo_wall"]
    lines = [
        f"# moprune run: {config.front.model} on {config.front.data.dataset}", "",
        f"**Verdict: {summary(verdicts)}.** {_recommendation(result)}", "",
        *[f"- {v.line()}" for v in verdicts], "",
        "## Networks", "",
        format_table(["network", "val acc", "test acc", "parameters", "FLOPs per image",
                      "train step ms (median)"], networks, markdown=True), "",
        f"Dense and tuned: {h.get('final_epochs', '-')} epochs. Step times are medians of "
        "repeated steps, shown only for a network that compaction changed.", "",
        "## Proxy HPO", "",
        f"{h['trials']} trials of {config.hpo.epochs} epoch(s) on "
        + ("the compacted knee" if h.get("proxy") else "the base network")
        + f", the top {config.hpo.top_k} trained on {config.front.model}: best "
        + ", ".join(f"{key}={v:.3g}" if isinstance(v, float) else f"{key}={v}"
                    for key, v in h["best_params"].items()) + ".", "",
        (f"Proxy decision: {decision['reason']}." if decision else ""), "",
        format_table(["phase", "seconds"], time_rows, markdown=True), "",
    ]
    if pay:
        lines += [
            "Predicted by the pay check before the trials (measured step times, medians):", "",
            format_table(["pipeline", "seconds"], [
                ["proxy (creation + trials + transfer)", _secs(pay["proxy_s"])],
                ["full (trials on the base network + transfer)", _secs(pay["full_s"])],
                ["predicted saving", f"{pay['saving']:.0%}"]], markdown=True), ""]
    nd = front.non_dominated(axes=axes)
    knee_point = Point.from_dict({key: v for key, v in k.items()
                                  if key not in ("selector", "axes", "rule")})
    rows = nd if any(p.key == knee_point.key for p in nd) else [*nd, knee_point]
    lines += [
        "![hpo](hpo/hpo.png)", "",
        "## Front", "",
        f"{len(front)} points ({config.front.method.name}, {config.front.complexity}), "
        f"{len(nd)} non-dominated in {axes} axes; the knee is `{k['key']}`"
        + ("" if any(p.key == knee_point.key for p in nd) else " (last row: the knee as "
           "trained to the end, not a point of the search)") + ":", "",
        front_table(rows, markdown=True), "",
        "![front](front/front.png)", "",
        "## Seconds per stage", "",
        format_table(["stage", "seconds"], [[st, _secs(v)] for st, v in result.seconds.items()],
                     markdown=True), "",
    ]
    text = "\n".join(lines)
    return atomic_write(RunLayout(out).report, lambda f: f.write(text.encode()))
