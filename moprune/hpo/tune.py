"""``tune``: the library's one call for hyperparameter search on a proxy network.

Example:
    >>> from moprune.hpo import tune
    >>> result = tune("lenet5", splits, proxy="uniform:0.25", trials=16)  # doctest: +SKIP
    >>> result.best_params, result.test_acc, result.seconds["total"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from moprune.config import TrainConfig
from moprune.data import DataSplits
from moprune.errors import ConfigError
from moprune.hpo.job import HPOJob
from moprune.hpo.pipeline import run_hpo
from moprune.hpo.proxy import DEFAULT_RECIPE, ProxyRecipe, auto_proxy, lr_transfer_for
from moprune.hpo.sources import proxy_source
from moprune.hpo.space import DEFAULT_SPACE, SearchSpace
from moprune.hpo.study import StudySettings
from moprune.io import JSONResult

__all__ = ["HPOResult", "resolve_proxy", "tune"]

ModelSpec = str | nn.Module | Callable[[], nn.Module]


@dataclass(frozen=True)
class HPOResult(JSONResult):
    """What a proxy HPO found and what it cost.

    Attributes:
        best_params: The configuration whose transfer scored best on the base network's
            validation set.
        val_acc, test_acc: The base network trained with it (test: for reporting only).
        transfer: Every top-k configuration retrained on the base network.
        trials: Every trial of the study (state, params, values, seconds).
        seconds: Per phase (proxy creation phases, ``hpo_trials``, ``transfer``) and
            ``total``.
        out: The run directory (``results.json``, ``hpo.png``, the study's journal).
        study: The study's name in its storage.
    """

    best_params: dict[str, Any]
    val_acc: float
    test_acc: float | None
    transfer: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    seconds: dict[str, float]
    out: Path
    study: str

    @classmethod
    def from_results(cls, results: Mapping[str, Any], out: Path) -> HPOResult:
        best = results.get("best") or {}
        return cls(best_params=dict(best.get("params", {})),
                   val_acc=float(best.get("val_acc", 0.0)), test_acc=best.get("test_acc"),
                   transfer=list(results.get("transfer", [])),
                   trials=list(results.get("trials", [])),
                   seconds={k: float(v) for k, v in results.get("time", {}).items()},
                   out=out, study=str(results.get("settings", {}).get("study", "")),
                   raw=dict(results))


def resolve_proxy(proxy: Any, model: ModelSpec, splits: DataSplits, *,
                  selector: str = "chord", model_args: Mapping[str, Any] | None = None,
                  flops_floor: float | None = None, tolerance: float | str = 0.0
                  ) -> tuple[dict[str, Any] | None, dict[str, float]]:
    """The proxy's recipe and its creation seconds, from what a user gives: None (trials
    train the base network), an ``nn.Module`` (its shape), a recipe, a model file, a front
    run directory or ``"uniform:SHARE"`` (the registered ``model`` with ``model_args``
    thinned; see :func:`moprune.hpo.proxy_source`). ``flops_floor``: with a front run
    directory, its knee in FLOPs terms above that share, accuracy differences up to
    ``tolerance`` taken as noise (:meth:`moprune.front.Front.knee`)."""
    if proxy is None:
        return None, {}
    if isinstance(proxy, nn.Module):  # e.g. a compacted knee: its shape, fresh weights
        return {"model": proxy}, {}
    if isinstance(proxy, Mapping):
        return dict(proxy), {}
    if isinstance(proxy, (str, os.PathLike)):
        base = None
        if str(proxy).startswith("uniform:"):
            if not isinstance(model, str):
                raise ConfigError("a uniform proxy thins a registered model; give a module "
                                  "of your own as proxy= instead")
            base = {"model": model, "args": dict(model_args or {}),
                    "in_channels": splits.in_channels, "num_classes": splits.num_classes,
                    "image_size": splits.image_size}
        factory = None
        if not isinstance(model, str):  # a front of the user's module is rebuilt by it
            from moprune.front.train import model_factory

            factory = model_factory(model, splits, dict(model_args or {}))
        return proxy_source(proxy, selector=selector, base=base, flops_floor=flops_floor,
                            tolerance=tolerance, factory=factory)
    if flops_floor is not None or tolerance:
        raise ConfigError("a FLOPs floor or knee tolerance needs a front run directory as "
                          "the proxy")
    raise ConfigError(f"proxy must be None, an nn.Module, a model file, a front run "
                      f"directory or 'uniform:SHARE', got {type(proxy).__name__}")


def tune(model: ModelSpec, data: DataSplits, *, proxy: Any = "auto", trials: int = 20,
         epochs: int | None = None, space: SearchSpace | None = None,
         backend: str = "optuna", sampler: str = "", pruner: str = "none",
         storage: str | None = None, study: str = "moprune", workers: int = 1,
         top_k: int = 3, final_epochs: int | None = None, seed: int | None = None,
         train: TrainConfig | None = None, selector: str = "chord",
         flops_floor: float | None = None, tolerance: float | str = 0.0,
         lr_transfer: str | None = None, recipe: ProxyRecipe = DEFAULT_RECIPE,
         model_args: dict[str, Any] | None = None,
         proxy_front: str | os.PathLike[str] | None = None,
         out: str | os.PathLike[str] | None = None) -> HPOResult:
    """Search hyperparameters on ``proxy`` and transfer the best to ``model``.

    Every trial trains a fresh network of the proxy's shape (weights drawn with the trial's
    seed, never a previous trial's); the ``top_k`` configurations are then trained on
    ``model`` for ``final_epochs`` and the best on validation is the result, judged
    against ``model`` trained with the default hyperparameters (``train``).

    With ``proxy="auto"`` (the default) the proxy is made by ``recipe``
    (:func:`moprune.hpo.proxy.auto_proxy`: a channel path on the FLOPs over ``data``, its
    knee above a floor with ties within the validation noise, compacted, muP's factors on
    its trials) when a pay check predicts it saves at least ``recipe.min_saving`` of the
    time at ``trials`` trials; otherwise the trials train ``model`` itself, and the result
    says why (``result.to_dict()["proxy_decision"]``).

    Args:
        model: The base network: a registered name, an ``nn.Module`` (deep-copied and
            re-initialised for every training) or a callable returning a fresh one.
        data: The splits (:func:`moprune.data.from_tensors`, :func:`moprune.data.load`).
        proxy: None (trials train ``model`` itself), an ``nn.Module`` (its shape, e.g. a
            compacted knee), a model file, a front run directory (its compacted knee) or
            ``"uniform:SHARE"``.
        flops_floor: With a front run directory: its knee in (validation error, FLOPs
            share) among the points keeping at least this share, compacted, no retrain.
        tolerance: With ``flops_floor``: accuracy differences up to this count as noise
            in the knee's choice (:meth:`moprune.front.Front.knee`).
        lr_transfer: ``"mup"``: proxy trials scale learning rate, weight decay and
            initialisation per layer by muP's width factors (:mod:`moprune.hpo.lr_transfer`),
            so that the proxy's best learning rate is the base network's. None: the
            recipe's with ``proxy="auto"``, else ``"none"``.
        recipe: The recipe of ``proxy="auto"``.
        proxy_front: With ``proxy="auto"``: a run directory of the recipe's path already
            trained on ``data`` (``moprune run``'s front), used instead of a new one.
        trials: The study's budget.
        epochs: Epochs of a trial (default ``train.epochs``).
        final_epochs: Epochs of the transfer and of the default-hyperparameter reference
            (default ``train.epochs``: as long as a real training).
        space: The search space (default :data:`moprune.hpo.DEFAULT_SPACE`).
        backend, sampler, pruner, storage, study, workers: The study (see
            :class:`moprune.hpo.StudySettings`); workers > 1 need a picklable model.
        out: The run directory (resumes there); None: a temporary one.

    Returns:
        An :class:`HPOResult`.
    """
    if not isinstance(data, DataSplits):
        raise ConfigError("data must be the splits of moprune.data.from_tensors or "
                          "moprune.data.load")
    config = train or TrainConfig()
    if seed is not None and train is not None and seed != config.seed:
        raise ConfigError(f"seed={seed} and train.seed={config.seed} disagree; give it in one "
                          "place")
    seed = config.seed if seed is None else seed
    config = replace(config, seed=seed)
    final_epochs = final_epochs or config.epochs  # as long as a real training
    if epochs is not None:
        config = replace(config, epochs=epochs)
    space = space or DEFAULT_SPACE
    if out is None:
        import tempfile

        out = tempfile.mkdtemp(prefix="moprune-tune-")
    settings = StudySettings(backend=backend, sampler=sampler, pruner=pruner, trials=trials,
                             seed=seed, storage=storage, study=study, workers=workers)
    decision = None
    if isinstance(proxy, str) and proxy == "auto":
        shape, creation, decision = auto_proxy(
            model, data, config, Path(out) / "proxy", trials=trials, top_k=top_k,
            final_epochs=final_epochs, recipe=recipe, model_args=model_args,
            front=proxy_front)
        lr_transfer = lr_transfer_for(lr_transfer, shape, recipe)
    else:
        shape, creation = resolve_proxy(proxy, model, data, selector=selector,
                                        model_args=model_args, flops_floor=flops_floor,
                                        tolerance=tolerance)
    job = HPOJob(model=model, data=data.config, train=config, space=space.to_dict(),
                 settings=settings, out=str(out), proxy=shape,
                 lr_transfer=lr_transfer or "none")
    results = run_hpo(job, top_k=top_k, final_epochs=final_epochs, creation_seconds=creation,
                      splits=data, decision=decision)
    return HPOResult.from_results(results, Path(out))
