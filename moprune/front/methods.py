"""How a front is trained, by name: the weight searches, SMGD and the continuation path.

``train_front(method=NAME)`` looks ``NAME`` up in :data:`FRONT_METHODS` and hands the
method a :class:`FrontJob` (the network's factory, the data, the settings, and ``job.run``,
which trains one point and adds it to the front). A method picks its solver by name from
:data:`moprune.solvers.SOLVERS`. A new method is one class, one registration and a test::

    @FRONT_METHODS.register("my-method")
    class MyMethod(FrontMethod):
        def run(self, job: FrontJob) -> None:
            for lam in (0.0, 0.99, 1.0):
                job.run(job.solver("weighted-sum", lam=lam), job.seed, job.explore)

(and its name in :data:`moprune.names.FRONT_METHODS`, the command line's choices, which a
test keeps equal to the registry).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.data import DataSplits
from moprune.front.path import train_path
from moprune.front.points import Front, Point
from moprune.front.search import WEIGHT_SEARCHES, GridSearch, WeightSearch
from moprune.io import read_json, write_json
from moprune.models import save_model
from moprune.progress import progress_line
from moprune.pruning import flops_share
from moprune.registry import Registry
from moprune.solvers import SOLVERS, Solver
from moprune.training import input_shape, train

__all__ = [
    "FRONT_METHODS",
    "FrontJob",
    "FrontMethod",
    "PathMethod",
    "SMGDMethod",
    "WeightSearchMethod",
    "train_point",
]


@dataclass
class FrontJob:
    """What a :class:`FrontMethod` needs to train a front.

    ``run(solver, seed, epochs)`` trains one point (read back when it is done already),
    adds it to ``front`` and saves the front; ``solver(name, **kw)`` builds a registered
    solver with the front's f2 and pruning settings.
    """

    factory: Callable[[], nn.Module]
    splits: DataSplits
    train: TrainConfig  # with the front's epochs and seed
    front: Front
    out: Path
    budget: int
    explore: int  # epochs of a search's runs
    solver_options: dict[str, Any]  # complexity, scope, tau, freeze_masks
    prox: bool = False
    finetune: int = 0
    knee: str | None = "chord"
    axes: str = "objectives"
    options: dict[str, Any] = field(default_factory=dict)  # the method's own settings
    progress: bool | None = None

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def epochs(self) -> int:
        return self.train.epochs

    def solver(self, name: str, **kwargs: Any) -> Solver:
        """The registered solver ``name`` with the front's f2 objective and pruning."""
        return SOLVERS.get(name)(**kwargs, **self.solver_options)

    def run(self, solver: Solver, seed: int, epochs: int, *, retrained: bool = False
            ) -> Point:
        """Train one point (:func:`train_point`), add it to the front and save the front."""
        config = replace(self.train, epochs=epochs, seed=seed)
        point = train_point(self.factory, self.splits, config, solver, out_dir=self.out,
                            retrained=retrained, progress=self.progress)
        self.front.add(point)
        self.front.save(self.out / "front.json")
        return point


class FrontMethod(ABC):
    """Base class of the ways to train a front.

    Attributes:
        min_budget: The smallest ``budget`` the method accepts.
        one_run: The method is one run of ``epochs`` (no ``explore_epochs``); its knee is
            chosen in (validation error, kept share) by default.
        prox: The method takes f2 by a proximal step when asked (``prox=True``).
        knee_epochs: The method's knee can be debiased to ``knee_epochs`` in all.
    """

    min_budget: ClassVar[int] = 2
    one_run: ClassVar[bool] = False
    prox: ClassVar[bool] = True
    knee_epochs: ClassVar[bool] = False

    @abstractmethod
    def run(self, job: FrontJob) -> None:
        """Train the front's points into ``job.front`` (through ``job.run`` or directly)."""


FRONT_METHODS: Registry[type[FrontMethod]] = Registry("front method")


class WeightSearchMethod(FrontMethod):
    """A weighted-sum front: a weight search (:data:`WEIGHT_SEARCHES`) trains one network
    per weight with the ``weighted-sum`` solver; with ``explore_epochs < epochs`` and no
    debiasing, the knee's weight is then retrained for the full epochs."""

    search: ClassVar[str]

    def make_search(self, job: FrontJob) -> WeightSearch:
        return WEIGHT_SEARCHES.get(self.search)()

    def run(self, job: FrontJob) -> None:
        def evaluate(lam: float) -> Point:
            return job.run(job.solver("weighted-sum", lam=lam, prox=job.prox), job.seed,
                           job.explore)

        self.make_search(job).run(evaluate, budget=job.budget)
        if job.knee is not None and job.explore < job.epochs and not job.finetune:
            chosen = job.front.knee(job.knee, axes=job.axes)
            if chosen.lam is not None:
                job.run(job.solver("weighted-sum", lam=chosen.lam, prox=job.prox), job.seed,
                        job.epochs, retrained=True)


@FRONT_METHODS.register("dichotomic")
class DichotomicMethod(WeightSearchMethod):
    """Adaptive weights: the next weight is the normal of the widest gap of the front."""

    search = "dichotomic"


@FRONT_METHODS.register("grid")
class GridMethod(WeightSearchMethod):
    """The weights ``lams`` (or :func:`~moprune.front.search.default_grid`)."""

    search = "grid"

    def make_search(self, job: FrontJob) -> WeightSearch:
        return GridSearch(job.options.get("lams"))


@FRONT_METHODS.register("bisection")
class BisectionMethod(WeightSearchMethod):
    """The mean of the two neighbouring weights whose points lie farthest apart."""

    search = "bisection"


@FRONT_METHODS.register("smgd")
class SMGDMethod(FrontMethod):
    """``budget`` SMGD runs (no weight given) with seeds ``seed``, ``seed + 1``, ..."""

    min_budget = 1
    prox = False

    def run(self, job: FrontJob) -> None:
        for i in range(job.budget):
            job.run(job.solver("smgd", variant=job.options.get("smgd_variant", "sgd"),
                               normalize=job.options.get("smgd_normalize", "none")),
                    job.seed + i, job.epochs)


@FRONT_METHODS.register("path")
class PathMethod(FrontMethod):
    """The continuation path (:func:`moprune.front.path.train_path`): one warm-started run
    that raises the weight step by step and records a point after every corrector."""

    min_budget = 1
    one_run = True
    knee_epochs = True

    def run(self, job: FrontJob) -> None:
        o = job.options
        warmup = o.get("path_warmup")
        for point in train_path(
                job.factory, job.splits, job.train, points=job.budget,
                warmup_epochs=job.epochs / 4 if warmup is None else warmup,
                max_drop=o.get("path_max_drop", 0.1), start_lam=o.get("path_start_lam", 0.5),
                corrector=o.get("path_corrector", "l1"),
                distance=o.get("path_distance", "change"), prox=job.prox, out_dir=job.out,
                progress=job.progress, **job.solver_options):
            job.front.add(point)


def train_point(factory: Callable[[], nn.Module], splits: DataSplits, config: TrainConfig,
                solver: Solver, *, out_dir: Path | None = None, retrained: bool = False,
                progress: bool | None = None) -> Point:
    """Train one network with ``solver`` and measure it as a :class:`Point`.

    With ``out_dir``, the point lives in ``out_dir/points/<key>/``: a finished point is
    read back instead of retrained, an unfinished one resumes from its checkpoint.
    """
    settings = solver.describe()
    probe = Point(method=_method(settings), f1=0, f2=0, val_acc=0, zeros=0, scope_size=0,
                  lam=settings.get("lam"), epochs=config.epochs, seed=config.seed)
    folder = out_dir / "points" / probe.key if out_dir is not None else None
    if folder is not None and (folder / "point.json").exists():
        return Point.from_dict(read_json(folder / "point.json"))
    torch.manual_seed(config.seed)
    model = factory()
    start = time.perf_counter()
    result = train(model, splits, config, solver=solver, evaluate_test=True,
                   checkpoint=None if folder is None else folder / "checkpoint.pt",
                   progress=progress)
    f2 = solver.f2
    assert f2 is not None
    extras: dict[str, Any] = {"solver": settings, "dead_groups": f2.dead_groups(),
                              "groups": f2.num_groups}
    if result.history and "alpha" in result.history[-1].extras:
        extras["alpha"] = result.history[-1].extras["alpha"]  # SMGD's mean a, last epoch
    # the loop's final validation pass is f1: the same model on the same split
    point = replace(probe, f1=result.val_loss, f2=f2.value(), val_acc=result.val_acc,
                    zeros=f2.zeros(), scope_size=f2.n, test_acc=result.test_acc,
                    flops_share=flops_share(model, input_shape(splits)),
                    test_loss=result.test_loss, retrained=retrained, extras=extras,
                    seconds=sum(r.seconds for r in result.history) or
                    time.perf_counter() - start)
    if folder is not None:
        model_file = folder / "model.pt"
        save_model(model.cpu(), model_file, meta={"point": point.key})
        point.checkpoint = str(model_file.relative_to(out_dir))  # type: ignore[arg-type]
        write_json(folder / "point.json", point.to_dict())
        (folder / "checkpoint.pt").unlink(missing_ok=True)
    progress_line(f"front point {point.summary()}")
    return point


def _method(settings: dict[str, Any]) -> str:
    if settings["solver"] == "smgd":
        return "smgd" if settings.get("variant") == "sgd" else f"smgd-{settings['variant']}"
    return str(settings["solver"])
