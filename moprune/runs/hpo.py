"""``hpo_run`` and ``fidelity_run``: a proxy HPO and a proxy's rank fidelity, each into a
run directory (``moprune hpo``, ``moprune fidelity``), with every decision of the command
(the default sampler of a backend, the proxy, the learning-rate transfer) made here."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from moprune.config import RunConfig, config_to_dict
from moprune.errors import MopruneError
from moprune.hpo import (
    FidelityResult,
    HPOJob,
    HPOResult,
    SearchSpace,
    StudySettings,
    check_hpo,
    load_space,
)
from moprune.layout import RunLayout
from moprune.rundir import RunDir
from moprune.validation import check_run

__all__ = ["FidelityRunSettings", "HPORunSettings", "fidelity_run", "hpo_run"]


@dataclass(frozen=True)
class HPORunSettings:
    """What ``moprune hpo`` searches on and how, beside the run config (model, data,
    training of a trial).

    Attributes:
        proxy: ``auto`` (the proxy recipe's, when its pay check says it saves), a front run
            directory (its compacted knee), a model file, ``uniform:SHARE``, or None (the
            base network).
        selector, flops_floor, tolerance: Which knee of a front run (in FLOPs terms above
            the floor, ties within the tolerance).
        lr_transfer: ``mup`` or ``none``; None: ``mup`` for the recipe's proxy, else none.
        space: A YAML search space file (None: the default space).
        study: The study's sampler, pruner, budget and storage (its seed is the run's).
        top_k: Configurations transferred to the base network.
        final_epochs: Epochs of the transfer runs (None: the run's epochs).
    """

    proxy: str | None = "auto"
    selector: str = "chord"
    flops_floor: float | None = None
    tolerance: float = 0.0
    lr_transfer: str | None = None
    space: str | None = None
    study: StudySettings = field(default_factory=StudySettings)
    objectives: tuple[str, ...] = ("accuracy",)
    top_k: int = 3
    final_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.proxy == "none":
            object.__setattr__(self, "proxy", None)
        if self.tolerance and self.flops_floor is None:
            raise MopruneError("--proxy-tolerance needs --proxy-flops-floor (0 for none)")
        if self.flops_floor is not None and not (self.proxy and os.path.isdir(self.proxy)):
            raise MopruneError(f"--proxy-flops-floor chooses the knee of a front run; --proxy "
                               f"{self.proxy} is not a run directory")


def _job(config: RunConfig, s: HPORunSettings, out: str | os.PathLike[str]) -> HPOJob:
    if not isinstance(config.model, str):
        raise MopruneError("hpo needs a registered model name")
    return HPOJob(model=config.model, data=config.data, train=config.train,
                  space=load_space(s.space).to_dict(),
                  settings=replace(s.study, seed=config.train.seed), out=str(out),
                  objectives=tuple(s.objectives), lr_transfer=s.lr_transfer or "none")


def _proxy(config: RunConfig, s: HPORunSettings, splits: Any
           ) -> tuple[dict[str, Any] | None, dict[str, float]]:
    from moprune.hpo.tune import resolve_proxy

    return resolve_proxy(s.proxy, config.model, splits, selector=s.selector,
                         model_args=config.model_args, flops_floor=s.flops_floor,
                         tolerance=s.tolerance)


def hpo_run(config: RunConfig, settings: HPORunSettings, out: str | os.PathLike[str]
            ) -> HPOResult:
    """Tune ``config.model``'s hyperparameters in the run directory ``out``: trials on the
    proxy (made here in ``RUN_DIR/proxy`` with ``proxy="auto"`` when its pay check says
    so), the top-k transferred to the base network; resumes (its budget and workers may
    change), refuses other settings before any write. Returns the
    :class:`~moprune.hpo.HPOResult` (``to_dict()``: ``results.json``)."""
    from moprune.data import prepare_data
    from moprune.hpo import run_hpo
    from moprune.hpo.proxy import DEFAULT_RECIPE, auto_proxy, lr_transfer_for

    job = _job(config, settings, out)
    where = check_run(out, config.data, config.train.device)
    splits = prepare_data(config.data)
    auto = settings.proxy == "auto"
    proxy, creation = (None, {}) if auto else _proxy(config, settings, splits)
    job = replace(job, proxy=proxy)
    check_hpo(job, splits, top_k=settings.top_k, final_epochs=settings.final_epochs)
    run = RunDir(where, {
        "run": config_to_dict(config), "space": job.space,
        # the budget and the workers may change on resume; the search itself may not
        "study": {k: v for k, v in asdict(job.settings).items()
                  if k not in ("trials", "workers", "grace")},
        "proxy": {"auto": asdict(DEFAULT_RECIPE)} if auto else proxy,
        "objectives": list(job.objectives), "top_k": settings.top_k,
        "final_epochs": settings.final_epochs,
        "lr_transfer": settings.lr_transfer or ("recipe" if auto else "none")},
        may_differ=("top_k", "run.data.eval_batch_size"),
        legacy=("hpo.json",))
    run.check()
    run.write()
    decision = None
    if auto:  # the recipe's proxy, made here (resumable), when its pay check says so
        proxy, creation, decision = auto_proxy(
            config.model, splits, config.train, RunLayout(where).proxy,
            trials=job.settings.trials, top_k=settings.top_k,
            final_epochs=settings.final_epochs or config.train.epochs,
            model_args=config.model_args)
        job = replace(job, proxy=proxy,
                      lr_transfer=lr_transfer_for(settings.lr_transfer, proxy))
    results = run_hpo(job, top_k=settings.top_k, final_epochs=settings.final_epochs,
                      creation_seconds=creation, splits=splits, decision=decision)
    return HPOResult.from_results(results, where)


@dataclass(frozen=True)
class FidelityRunSettings:
    """What ``moprune fidelity`` compares: a proxy (not ``auto`` or None) on ``configs``
    configurations x ``seeds`` seeds against the base network."""

    proxy: str
    selector: str = "chord"
    flops_floor: float | None = None
    tolerance: float = 0.0
    lr_transfer: str | None = None
    space: str | None = None
    configs: int = 16
    seeds: int = 1
    bootstrap: int = 1000
    top_k: int = 3

    def hpo(self) -> HPORunSettings:
        return HPORunSettings(proxy=self.proxy, selector=self.selector,
                              flops_floor=self.flops_floor, tolerance=self.tolerance,
                              lr_transfer=self.lr_transfer, space=self.space,
                              top_k=self.top_k)


def fidelity_run(config: RunConfig, settings: FidelityRunSettings,
                 out: str | os.PathLike[str]) -> FidelityResult:
    """The rank fidelity of ``settings.proxy`` for ``config.model`` in the run directory
    ``out`` (:func:`moprune.hpo.fidelity`); more configurations or seeds extend a run.
    Returns the :class:`~moprune.hpo.FidelityResult`."""
    from moprune.data import prepare_data
    from moprune.hpo import fidelity

    if settings.proxy in (None, "none", "auto"):
        raise MopruneError("fidelity compares a proxy with the base network; give a front "
                           "run, a model file or uniform:SHARE")
    hpo = settings.hpo()
    job = _job(config, hpo, out)
    where = check_run(out, config.data, config.train.device)
    splits = prepare_data(config.data)
    proxy, _ = _proxy(config, hpo, splits)
    assert proxy is not None  # (a proxy was given)
    check_hpo(replace(job, proxy=proxy), splits, top_k=settings.top_k)
    run = RunDir(where, {"run": config_to_dict(config), "space": job.space, "proxy": proxy,
                         "configs": settings.configs, "seeds": settings.seeds,
                         "lr_transfer": settings.lr_transfer or "none",
                         "bootstrap": settings.bootstrap},
                 may_differ=("configs", "seeds", "bootstrap", "run.data.eval_batch_size"),
                 legacy=("fidelity-settings.json",))
    run.check()
    run.write()
    return fidelity(config.model, config.data, proxy=proxy, train=config.train,
                    space=SearchSpace.from_dict(job.space), configs=settings.configs,
                    seeds=settings.seeds, seed=config.train.seed, top_k=settings.top_k,
                    lr_transfer=settings.lr_transfer or "none",
                    bootstrap=settings.bootstrap, out=where, splits=splits)
