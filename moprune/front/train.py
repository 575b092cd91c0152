"""``train_front``: the Pareto front of a network, one training run per point."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from moprune.config import DataConfig, TrainConfig, check_choice, config_to_dict
from moprune.data import DataSplits, prepare_data
from moprune.errors import ConfigError
from moprune.front import methods
from moprune.front.config import FrontConfig
from moprune.front.debiasing import debias, debias_knee, path_epochs
from moprune.front.job import FrontJob
from moprune.front.measure import measure_point, train_point
from moprune.front.methods import FRONT_METHODS, FrontMethod, method_from_config
from moprune.front.points import AXES, Front, Point
from moprune.layout import RunLayout
from moprune.models import build_model
from moprune.objectives import COMPLEXITIES, complexity_kind
from moprune.progress import progress_line
from moprune.solvers import WeightedSumSolver

__all__ = ["METHODS", "FrontProblem", "check_front", "front_from_config", "measure_point",
           "model_factory", "retrain_knee", "train_front", "train_point"]

#: The front methods' names (:data:`moprune.front.methods.FRONT_METHODS`).
METHODS = tuple(FRONT_METHODS.names())
ModelSpec = str | nn.Module | Callable[[], nn.Module]


@dataclass(frozen=True)
class FrontProblem:
    """What a front is of, apart from how it is trained: the network and its complexity
    objective (``complexity`` and the layers in ``scope``, see
    :class:`moprune.objectives.Complexity`).

    Args:
        model: A registered name, an ``nn.Module`` (deep-copied and re-initialised for
            every run: its own weights do not matter), or a factory returning a fresh module.
        model_args: Options of a registered model.
    """

    model: ModelSpec
    complexity: str = "l1"
    scope: str = "all"
    model_args: dict[str, Any] = field(default_factory=dict)


def train_front(
    model: FrontProblem | ModelSpec,
    data: DataSplits | DataConfig | None = None,
    *,
    method: FrontMethod | str | None = None,
    train: TrainConfig | None = None,
    complexity: str | None = None,
    scope: str | None = None,
    tau: float | None = None,
    freeze_masks: bool = False,
    prox: bool = False,
    finetune: int = 0,
    knee: str | None = "chord",
    knee_axes: str = "auto",
    model_args: dict[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    progress: bool | None = None,
) -> Front:
    """Train the Pareto front of a network for (cross-entropy, complexity).

    Every point is a fresh network from the same initialisation (``seed``), trained with
    intra-training pruning. With ``out`` every point's model and results are written
    there as soon as it is done, and calling again resumes: finished points are read back,
    a run that was killed resumes from its checkpoint; calling again with other settings
    is refused with one line. Without ``out`` the points' networks are kept in a
    temporary directory for the life of the process. Either way ``front.model(point)``
    gives a point's trained network.

    Args:
        model: A :class:`FrontProblem`, or its model alone (a registered name, an
            ``nn.Module`` or a factory), with ``complexity``, ``scope`` and
            ``model_args`` given here.
        data: Splits, or a DataConfig to prepare them (default: Fashion-MNIST).
        method: How the front is trained, with its options
            (:mod:`moprune.front.methods`): :class:`~moprune.front.methods.Path` (the
            continuation path, the default: one warm-started run that raises the weight
            step by step), :class:`~moprune.front.methods.Dichotomic`,
            :class:`~moprune.front.methods.Grid`, :class:`~moprune.front.methods.Bisection`
            (weight searches, one run per weight), :class:`~moprune.front.methods.SMGD`, or
            a registered method's name (its defaults).
        train: Optimizer, schedule, epochs (of a full run; of the whole path) and seed.
        complexity, scope: The f2 objective (``l1``, ``group-l1`` or ``flops``) and the
            layers it covers (default ``l1``, ``all``).
        tau: Intra-training pruning threshold; None: 1e-3, or no pruning with ``prox`` or
            a ranked path corrector; 0 turns it off.
        freeze_masks: Pruned weights stay zero.
        prox: Take f2 by its proximal step (soft-thresholding: exact zeros without a
            threshold) for the weighted sum and the path.
        finetune: Debias every search point by this many epochs with its mask frozen and
            lam = 0 (:func:`moprune.front.path.debias`); the front and the knee then use
            the fine-tuned objectives, the raw ones stay in ``Point.raw``.
        knee: Selector of the knee to retrain (``chord``, ``angle``, ``slope``), or None.
        knee_axes: The plane the knee is chosen in: ``objectives`` (f1, f2), ``kept``
            (validation error, kept share), ``flops`` (validation error, FLOPs share), or
            ``auto``: ``flops`` for the flops complexity, else ``kept`` for a one-run
            method or with ``finetune``, else ``objectives``. Kept in
            ``front.meta["knee_axes"]``.
        out: Run directory for point models and resumption.
        seed: Initialisation and batch-order seed. Default: ``train.seed``; giving both,
            they must agree.
        progress: Progress bars (None: only on a terminal).

    Returns:
        The :class:`Front` of all trained points (``front.non_dominated()`` filters).

    Example:
        >>> from moprune.front import Dichotomic, Path
        >>> front = train_front("lenet5", method=Path(points=30, knee_epochs=12),
        ...                     train=TrainConfig(epochs=10), prox=True)  # doctest: +SKIP
        >>> front.final_version(front.knee("chord", axes="kept")).kept  # doctest: +SKIP
    """
    problem = _problem(model, complexity, scope, model_args)
    runner = method_from_config(method if method is not None else methods.Path())
    base = train or TrainConfig()
    if seed is not None and train is not None and seed != base.seed:
        raise ConfigError(f"seed={seed} and train.seed={base.seed} disagree; give it in one "
                          "place")
    seed = base.seed if seed is None else seed
    base = replace(base, seed=seed)  # what the front's meta records
    epochs = base.epochs
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    if finetune < 0:
        raise ConfigError(f"finetune must be >= 0 epochs, got {finetune}")
    check_choice("complexity", problem.complexity, COMPLEXITIES.names())
    runner.check(epochs=epochs, complexity=problem.complexity, prox=prox, tau=tau)
    knee_epochs = runner.knee_total_epochs()
    if knee_epochs is not None and knee is None:
        raise ConfigError("knee_epochs needs a knee selector")
    if knee_axes not in ("auto", *AXES):
        raise ConfigError(f"knee_axes must be auto or one of {AXES}, got {knee_axes!r}")
    axes = knee_axes if knee_axes != "auto" else (
        complexity_kind(problem.complexity).knee_axes or
        ("kept" if runner.one_run or finetune else "objectives"))
    splits = data if isinstance(data, DataSplits) else prepare_data(data)
    solver_kw: dict[str, Any] = dict(complexity=problem.complexity, scope=problem.scope,
                                     tau=runner.tau(tau, prox), freeze_masks=freeze_masks)
    where = Path(out) if out is not None else _temporary_dir()
    factory = model_factory(problem.model, splits, problem.model_args)
    meta = _meta(problem, runner, splits, base, factory, axes=axes, prox=prox,
                 finetune=finetune, solver_kw=solver_kw)
    front = Front(meta=meta, root=where,
                  factory=None if isinstance(problem.model, str) else factory)
    if RunLayout(where).front.exists():
        _check_resume(RunLayout(where).front, meta)

    job = FrontJob(factory=factory, splits=splits, train=base, front=front, out=where,
                   solver_options=solver_kw, prox=prox, finetune=finetune, knee=knee,
                   axes=axes, progress=progress)
    runner.run(job)
    if finetune:  # each point's seconds: extras["finetune_seconds"]
        for point in list(front.search_points):
            front.add(debias(point, factory, splits, base, epochs=finetune,
                             complexity=problem.complexity, scope=problem.scope,
                             out_dir=where, progress=progress))
    if knee_epochs is not None and knee is not None:
        chosen = front.knee(knee, axes=axes)
        if path_epochs(chosen) + finetune < knee_epochs:
            front.add(debias_knee(chosen, factory, splits, base, total_epochs=knee_epochs,
                                  complexity=problem.complexity, scope=problem.scope,
                                  out_dir=where, progress=progress))
    front.save(RunLayout(where).front)
    return front


def _problem(problem: FrontProblem | ModelSpec, complexity: str | None, scope: str | None,
             model_args: dict[str, Any] | None) -> FrontProblem:
    """The problem of :func:`train_front`'s arguments (given in one place only)."""
    if not isinstance(problem, FrontProblem):
        return FrontProblem(problem, complexity or "l1", scope or "all",
                            dict(model_args or {}))
    given = [n for n, v in (("complexity", complexity), ("scope", scope),
                            ("model_args", model_args)) if v is not None]
    if given:
        raise ConfigError(f"{given[0]} is given by the FrontProblem; give it in one place")
    return problem


def _meta(problem: FrontProblem, method: FrontMethod, splits: DataSplits, base: TrainConfig,
          factory: Callable[[], nn.Module], *, axes: str, prox: bool, finetune: int,
          solver_kw: dict[str, Any]) -> dict[str, Any]:
    """What ``front.json`` records of the front's settings (its resume guard compares
    them); the same keys for every method, so that fronts of every version compare."""
    model = problem.model
    meta: dict[str, Any] = {
        "model": model if isinstance(model, str) else type(factory()).__name__,
        "model_args": problem.model_args, "dataset": splits.raw.name,
        "splits": splits.sizes, "data_origin": splits.origin,
        "method": method.name, "budget": method.runs, "epochs": base.epochs,
        "explore_epochs": base.epochs, "complexity": problem.complexity,
        "scope": problem.scope, "tau": solver_kw["tau"],
        "freeze_masks": solver_kw["freeze_masks"], "prox": prox, "finetune": finetune,
        "knee_axes": axes, "knee_epochs": method.knee_total_epochs(),
        "smgd_variant": None, "smgd_normalize": None, "path_corrector": None,
        "path_distance": None, "train": config_to_dict(base), "seed": base.seed,
    }
    meta.update(method.meta())
    return meta


def front_from_config(config: FrontConfig, data: DataSplits | DataConfig | None = None, *,
                      model: ModelSpec | None = None,
                      out: str | os.PathLike[str] | None = None,
                      progress: bool | None = None) -> Front:
    """:func:`train_front` with the settings of a :class:`~moprune.front.FrontConfig`
    (what ``moprune front`` and ``moprune run`` read from their YAML or flags); ``data``
    default: ``config.data``; ``model`` default: ``config.model``."""
    problem = FrontProblem(config.model if model is None else model, config.complexity,
                           config.scope, dict(config.model_args))
    return train_front(
        problem, data if data is not None else config.data, method=config.method,
        train=config.train, tau=config.tau, freeze_masks=config.freeze_masks,
        prox=config.prox, finetune=config.finetune, knee=config.knee,
        knee_axes=config.knee_axes, out=out, progress=progress)


def check_front(config: FrontConfig, splits: DataSplits, *,
                model: ModelSpec | None = None) -> None:
    """What a front checks once its data is loaded, before anything is written: that its
    network (``model``, default ``config.model``) builds for this data. (Its settings are
    checked by :class:`~moprune.config.FrontConfig` itself.)

    Raises:
        ConfigError: naming the model.
    """
    model_factory(config.model if model is None else model, splits, config.model_args)()


def retrain_knee(front: Front, point: Point, config: FrontConfig,
                 out_dir: str | os.PathLike[str], *, data: DataSplits | None = None,
                 progress: bool | None = None) -> Point:
    """``point`` brought to the front's full training, added to ``front`` and saved in
    ``out_dir`` (a knee chosen by another selector or budget than the one
    :func:`train_front` finished):

    - a weighted-sum point whose run had fewer epochs than ``config.train.epochs`` (and no
      debiasing) is trained again at its weight for the full epochs;
    - a path point is debiased until it has seen ``config.knee_epochs`` epochs in all
      (:func:`~moprune.front.path.debias_knee`), when the front asks for that.

    Any other point (SMGD, one trained in full already, one already brought there) is
    returned as it is.
    """
    final = front.final_version(point)
    if final is not point or point.retrained:
        return final
    on_path = "epochs_trained" in point.extras
    total = config.method.knee_total_epochs()
    if on_path:
        if total is None or path_epochs(point) + point.finetune_epochs >= total:
            return point
    elif point.lam is None or point.finetune_epochs or point.epochs >= config.train.epochs:
        return point
    out = Path(out_dir)
    splits = data if data is not None else prepare_data(config.data)
    factory = model_factory(config.model, splits, config.model_args)
    if on_path:
        assert total is not None  # checked above
        progress_line(f"debiasing {point.key} to {total} epochs in all")
        final = debias_knee(point, factory, splits, config.train, total_epochs=total,
                            complexity=config.complexity, scope=config.scope, out_dir=out,
                            progress=progress)
    else:
        assert point.lam is not None  # checked above
        progress_line(f"retraining {point.key} for {config.train.epochs} epochs")
        tau = config.method.tau(config.tau, config.prox)
        solver = WeightedSumSolver(point.lam, prox=config.prox, complexity=config.complexity,
                                   scope=config.scope, tau=tau,
                                   freeze_masks=config.freeze_masks)
        final = train_point(factory, splits, config.train, solver, out_dir=out,
                            retrained=True, progress=progress)
    front.add(final)
    front.save(RunLayout(out).front)
    return final


def _temporary_dir() -> Path:
    """A directory for the points' networks of a front trained without ``out_dir``,
    removed when the process ends."""
    import atexit
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="moprune-front-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _check_resume(path: Path, meta: dict[str, Any]) -> None:
    """Refuse to add points to a front made with other settings (they would mix)."""
    old = Front.load(path).meta
    diff = [k for k in meta if k not in ("budget", "knee_epochs") and k in old
            and old[k] != meta[k]]
    if diff:
        raise ConfigError(f"{path.parent} holds a front made with other settings "
                          f"({diff[0]}: {old[diff[0]]!r} there, {meta[diff[0]]!r} now); "
                          "use another out_dir")


def model_factory(model: ModelSpec, splits: DataSplits, model_args: dict[str, Any]
             ) -> Callable[[], nn.Module]:
    """A function returning a fresh network for every run, its weights drawn from torch's
    random state (which every caller seeds with the run's seed first): a registered model
    built anew, a user's module deep-copied with every layer re-initialised by its own
    ``reset_parameters`` (so the front does not depend on the weights the module happened
    to be given; the module itself is never trained)."""
    if isinstance(model, str):
        def build() -> nn.Module:
            return build_model(model, in_channels=splits.in_channels,
                               num_classes=splits.num_classes, image_size=splits.image_size,
                               **model_args)
        return build
    if isinstance(model, nn.Module):
        initial = copy.deepcopy(model)

        def fresh() -> nn.Module:
            net = copy.deepcopy(initial)
            for layer in net.modules():
                reset = getattr(layer, "reset_parameters", None)
                if callable(reset) and layer is not net:
                    reset()
            return net
        return fresh
    if callable(model):
        return model
    raise ConfigError(f"model must be a name, an nn.Module or a factory, got {model!r}")
