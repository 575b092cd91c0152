"""``train_front``: the Pareto front of a network, one training run per point."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from moprune.config import DataConfig, FrontConfig, TrainConfig, config_to_dict
from moprune.data import DataSplits, prepare_data
from moprune.errors import ConfigError
from moprune.front.measure import measure_point
from moprune.front.methods import FRONT_METHODS, FrontJob, train_point
from moprune.front.path import debias, debias_knee, path_epochs
from moprune.front.points import AXES, Front, Point
from moprune.models import build_model
from moprune.names import PATH_CORRECTORS
from moprune.progress import progress_line
from moprune.solvers import WeightedSumSolver

__all__ = ["METHODS", "check_front", "front_from_config", "measure_point", "model_factory",
           "retrain_knee", "train_front", "train_point"]

#: The front methods' names (:data:`moprune.front.methods.FRONT_METHODS`).
METHODS = tuple(FRONT_METHODS.names())
ModelSpec = str | nn.Module | Callable[[], nn.Module]


def train_front(
    model: ModelSpec,
    data: DataSplits | DataConfig | None = None,
    *,
    method: str = "dichotomic",
    budget: int = 8,
    epochs: int | None = None,
    explore_epochs: int | None = None,
    complexity: str = "l1",
    scope: str = "all",
    tau: float | None = None,
    freeze_masks: bool = False,
    prox: bool = False,
    finetune: int = 0,
    lams: list[float] | None = None,
    smgd_variant: str = "sgd",
    smgd_normalize: str = "none",
    path_warmup: float | None = None,
    path_max_drop: float = 0.1,
    path_start_lam: float = 0.5,
    path_corrector: str = "l1",
    path_distance: str = "change",
    train_config: TrainConfig | None = None,
    model_args: dict[str, Any] | None = None,
    knee: str | None = "chord",
    knee_axes: str = "auto",
    knee_epochs: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    progress: bool | None = None,
) -> Front:
    """Train the Pareto front of ``model`` for (cross-entropy, complexity).

    Every point is a fresh network from the same initialisation (``seed``), trained with
    intra-training pruning. With ``out_dir`` every point's model and results are written
    there as soon as it is done, and calling again resumes: finished points are read back,
    a run that was killed resumes from its checkpoint; calling again with other settings
    is refused with one line. Without ``out_dir`` the points' networks are kept in a
    temporary directory for the life of the process. Either way ``front.model(point)``
    gives a point's trained network.

    Args:
        model: A registered name, an ``nn.Module`` (deep-copied and re-initialised for
            every run: its own weights do not matter), or a factory returning a fresh
            module.
        data: Splits, or a DataConfig to prepare them (default: Fashion-MNIST).
        method: ``dichotomic`` (adaptive weights), ``grid`` (``lams`` or a default grid),
            ``bisection``, ``smgd`` (``budget`` SMGD runs with seeds ``seed``,
            ``seed + 1``, ...; no weight given), or ``path`` (the continuation path: one
            warm-started run that raises the weight step by step and records a point after
            every corrector; see :func:`moprune.front.path.train_path`).
        budget: Number of training runs of the search (the knee retrain not counted); for
            ``path``, the number of points it aims at after the dense one.
        epochs: Epochs of a full training run; for ``path``, of the whole run. Default:
            ``train_config.epochs`` (10 without one); giving both, they must agree.
        explore_epochs: Epochs of the search's runs (default ``epochs``); when fewer, the
            knee's weight is retrained for ``epochs`` (a point marked ``retrained``, kept
            out of the non-dominated set, which compares runs of equal length).
        complexity, scope, freeze_masks: The f2 objective (``l1``, ``group-l1`` or
            ``flops``) and the pruning (see :class:`moprune.solvers.Solver`).
        tau: Intra-training pruning threshold; None: 1e-3, or no pruning with ``prox``;
            0 turns it off.
        prox: Take f2 by its proximal step (soft-thresholding: exact zeros without a
            threshold) for the weighted sum and the path.
        finetune: Debias every search point by this many epochs with its mask frozen and
            lam = 0 (:func:`moprune.front.path.debias`); the front and the knee then use
            the fine-tuned objectives, the raw ones stay in ``Point.raw``.
        lams: The weights of ``grid``.
        smgd_variant: ``sgd`` or ``adam`` for ``method="smgd"``.
        smgd_normalize: ``none``, ``l2`` or ``loss``: how SMGD normalises g1 and g2
            before the min-norm step (:class:`moprune.solvers.SMGDSolver`).
        path_warmup: Epochs at lam = 0 before the path (default: a quarter of ``epochs``).
        path_max_drop: The path ends once its validation accuracy is this far below the
            dense point's.
        path_start_lam: The path's first weight of f2 after the dense point: where the
            l1 pull starts to prune (lam 0.99 and up with the normalised f2), fewer
            points are spent at the dense end. With ``path_corrector="magnitude"``: the
            first share of weights cut; with ``channel``, of the FLOPs cut.
        path_corrector: ``l1`` (the weighted sum, lam raised along the path),
            ``magnitude`` (the epsilon-constraint on the kept share: the smallest weights
            cut step by step, f1 trained alone in between; no prox, no tau, no l1
            shrinkage to debias) or ``channel`` (the same along the FLOPs share, whole
            channels cut; complexity ``group-l1`` or ``flops``); see
            :func:`moprune.front.path.train_path`.
        path_distance: What of the validation accuracy counts in a path step's length:
            ``change`` (default) or ``fall`` (a recovery is no overshoot).
        train_config: Optimizer and schedule (and, when not given here, epochs and seed).
        model_args: Options of a registered model.
        knee: Selector of the knee to retrain (``chord``, ``angle``, ``slope``), or None.
        knee_axes: The plane the knee is chosen in: ``objectives`` (f1, f2), ``kept``
            (validation error, kept share), ``flops`` (validation error, FLOPs share), or
            ``auto``: ``flops`` for the flops complexity, else ``kept`` for the path or
            with ``finetune`` (fine-tuned f2 no longer measures the l1 trade-off), else
            ``objectives``. Kept in ``front.meta["knee_axes"]``.
        knee_epochs: Path only: debias the knee (chosen by ``knee`` in ``knee_axes``,
            among the debiased points with ``finetune``, else among the raw ones) from its
            raw network until it has seen this many epochs in all
            (:func:`moprune.front.path.debias_knee`); ``front.final_version(knee)`` is
            then that network. None: the knee is the point as it is.
        out_dir: Run directory for point models and resumption.
        seed: Initialisation and batch-order seed. Default: ``train_config.seed`` (0
            without one); giving both, they must agree.
        progress: Progress bars (None: only on a terminal).

    Returns:
        The :class:`Front` of all trained points (``front.non_dominated()`` filters).

    Example:
        >>> front = train_front(model="lenet5", method="dichotomic", budget=8, epochs=6,
        ...                     explore_epochs=2)  # doctest: +SKIP
        >>> front.final_version(front.knee("chord")).kept  # doctest: +SKIP
    """
    runner = FRONT_METHODS.get(method)()  # an unknown name: one line listing the known
    base = train_config or TrainConfig()
    epochs, seed = (_agree(name, given, getattr(base, name), train_config is not None)
                    for name, given in (("epochs", epochs), ("seed", seed)))
    base = replace(base, epochs=epochs, seed=seed)  # what the front's meta records
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    explore = epochs if explore_epochs is None else explore_epochs
    if not 1 <= explore <= epochs:
        raise ConfigError(f"explore_epochs must be in [1, epochs={epochs}], got {explore}")
    if budget < runner.min_budget:
        raise ConfigError(f"budget must be >= {runner.min_budget}, got {budget}")
    if finetune < 0:
        raise ConfigError(f"finetune must be >= 0 epochs, got {finetune}")
    if prox and not runner.prox:
        raise ConfigError(f"prox is for the weighted sum and the path, not for {method}")
    if runner.one_run and explore < epochs:
        raise ConfigError(f"explore_epochs is for the weighted-sum searches; {method} is "
                          "one run of --epochs")
    if knee_epochs is not None and (not runner.knee_epochs or knee is None):
        raise ConfigError("knee_epochs is for the path, with a knee selector")
    if knee_axes not in ("auto", *AXES):
        raise ConfigError(f"knee_axes must be auto or one of {AXES}, got {knee_axes!r}")
    axes = knee_axes if knee_axes != "auto" else (
        "flops" if complexity == "flops" else
        "kept" if runner.one_run or finetune else "objectives")
    if path_corrector not in PATH_CORRECTORS:
        raise ConfigError(f"path_corrector must be one of {PATH_CORRECTORS}, got "
                          f"{path_corrector!r}")
    if path_corrector != "l1" and method != "path":
        raise ConfigError(f"path_corrector is for the path, not for {method}")
    if path_distance != "change" and method != "path":
        raise ConfigError(f"path_distance is for the path, not for {method}")
    splits = data if isinstance(data, DataSplits) else prepare_data(data)
    tau = (None if prox or path_corrector != "l1" else 1e-3) if tau is None else tau
    solver_kw: dict[str, Any] = dict(complexity=complexity, scope=scope, tau=tau,
                                     freeze_masks=freeze_masks)
    out = Path(out_dir) if out_dir is not None else _temporary_dir()
    factory = model_factory(model, splits, model_args or {})
    meta = {
        "model": model if isinstance(model, str) else type(factory()).__name__,
        "model_args": model_args or {}, "dataset": splits.raw.name, "splits": splits.sizes,
        "data_origin": splits.origin,
        "method": method, "budget": budget, "epochs": epochs, "explore_epochs": explore,
        "complexity": complexity, "scope": scope, "tau": tau, "freeze_masks": freeze_masks,
        "prox": prox, "finetune": finetune, "knee_axes": axes, "knee_epochs": knee_epochs,
        "smgd_variant": smgd_variant if method == "smgd" else None,
        "smgd_normalize": smgd_normalize if method == "smgd" else None,
        "path_corrector": path_corrector if method == "path" else None,
        "path_distance": path_distance if method == "path" else None,
        "train": config_to_dict(base), "seed": seed,
    }
    front = Front(meta=meta, root=out, factory=None if isinstance(model, str) else factory)
    if (out / "front.json").exists():
        _check_resume(out / "front.json", meta)

    job = FrontJob(factory=factory, splits=splits, train=base, front=front, out=out,
                   budget=budget, explore=explore, solver_options=solver_kw, prox=prox,
                   finetune=finetune, knee=knee, axes=axes, progress=progress,
                   options={"lams": lams, "smgd_variant": smgd_variant,
                            "smgd_normalize": smgd_normalize, "path_warmup": path_warmup,
                            "path_max_drop": path_max_drop, "path_start_lam": path_start_lam,
                            "path_corrector": path_corrector,
                            "path_distance": path_distance})
    runner.run(job)
    if finetune:  # each point's seconds: extras["finetune_seconds"]
        for point in list(front.search_points):
            front.add(debias(point, factory, splits, replace(base, seed=seed),
                             epochs=finetune, complexity=complexity, scope=scope,
                             out_dir=out, progress=progress))
    if knee_epochs is not None and knee is not None:
        chosen = front.knee(knee, axes=axes)
        if path_epochs(chosen) + finetune < knee_epochs:
            front.add(debias_knee(chosen, factory, splits, replace(base, seed=seed),
                                  total_epochs=knee_epochs, complexity=complexity,
                                  scope=scope, out_dir=out, progress=progress))
    front.save(out / "front.json")
    return front


def front_from_config(config: FrontConfig, data: DataSplits | DataConfig | None = None, *,
                      model: ModelSpec | None = None,
                      out_dir: str | os.PathLike[str] | None = None,
                      progress: bool | None = None) -> Front:
    """:func:`train_front` with the settings of a :class:`~moprune.config.FrontConfig`
    (what ``moprune front`` and ``moprune run`` read from their YAML or flags); ``data``
    default: ``config.data``; ``model`` default: ``config.model``."""
    return train_front(
        config.model if model is None else model,
        data if data is not None else config.data, method=config.method, budget=config.budget,
        explore_epochs=config.explore_epochs,
        complexity=config.complexity, scope=config.scope, tau=config.tau,
        freeze_masks=config.freeze_masks, prox=config.prox, finetune=config.finetune,
        lams=config.lams, smgd_variant=config.smgd_variant,
        smgd_normalize=config.smgd_normalize, path_warmup=config.path_warmup,
        path_max_drop=config.path_max_drop, path_start_lam=config.path_start_lam,
        path_corrector=config.path_corrector, path_distance=config.path_distance,
        train_config=config.train, model_args=config.model_args, knee=config.knee,
        knee_axes=config.knee_axes, knee_epochs=config.knee_epochs, out_dir=out_dir,
        progress=progress)


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
    total = config.knee_epochs
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
        tau = (None if config.prox else 1e-3) if config.tau is None else config.tau
        solver = WeightedSumSolver(point.lam, prox=config.prox, complexity=config.complexity,
                                   scope=config.scope, tau=tau,
                                   freeze_masks=config.freeze_masks)
        final = train_point(factory, splits, config.train, solver, out_dir=out,
                            retrained=True, progress=progress)
    front.add(final)
    front.save(out / "front.json")
    return final


def _agree(name: str, given: int | None, configured: int, has_config: bool) -> int:
    """``given`` (an argument of train_front) or the train config's value; both given,
    they must be the same (one silently overriding the other hid mistakes)."""
    if given is None:
        return configured
    if has_config and given != configured:
        raise ConfigError(f"{name}={given} and train_config.{name}={configured} disagree; "
                          "give it in one place")
    return given


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
