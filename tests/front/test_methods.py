"""Front methods and solvers are chosen by name: a new one is a class, a registration and
this kind of test."""

import numpy as np
import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.front import (
    FRONT_METHODS,
    KNEE_SELECTORS,
    Front,
    FrontJob,
    FrontMethod,
    KneeSelector,
    Point,
    train_front,
)
from moprune.solvers import SOLVERS, WeightedSumSolver


class EndsOnly(FrontMethod):
    """The two ends of the front and one weight between: a method written outside moprune."""

    min_budget = 3

    def run(self, job: FrontJob) -> None:
        for lam in (0.0, 0.5, 1.0):
            job.run(job.solver("halved-sum", lam=lam, prox=job.prox), job.seed, job.epochs)


class HalvedSum(WeightedSumSolver):
    """The weighted sum at half the weight: a solver written outside moprune."""

    name = "halved-sum"

    def set_lam(self, lam: float) -> None:
        super().set_lam(lam / 2)


@pytest.fixture
def plugins():
    FRONT_METHODS.register("ends-only")(EndsOnly)
    SOLVERS.register("halved-sum")(HalvedSum)
    yield
    FRONT_METHODS.unregister("ends-only")
    SOLVERS.unregister("halved-sum")


def test_a_registered_method_and_solver_are_used_by_name(plugins, synthetic_data, tmp_path):
    config = TrainConfig(lr=0.05, batch_size=32, epochs=1)
    front = train_front("lenet5", synthetic_data, method="ends-only", budget=3,
                        train_config=config, out_dir=tmp_path)
    assert [p.lam for p in front] == [0.0, 0.25, 0.5]  # the solver halved every weight
    assert front.meta["method"] == "ends-only"
    assert all((tmp_path / p.checkpoint).exists() for p in front)
    with pytest.raises(ConfigError, match="budget must be >= 3, got 2"):
        train_front("lenet5", synthetic_data, method="ends-only", budget=2,
                    train_config=config)


def test_methods_say_what_they_take(synthetic_data):
    config = TrainConfig(lr=0.05, batch_size=32, epochs=2)
    with pytest.raises(ConfigError, match="prox is for the weighted sum and the path, not "
                                          "for smgd"):
        train_front("lenet5", synthetic_data, method="smgd", budget=1, prox=True,
                    train_config=config)
    with pytest.raises(ConfigError, match="path is one run of --epochs"):
        train_front("lenet5", synthetic_data, method="path", budget=2, explore_epochs=1,
                    train_config=config)
    with pytest.raises(ConfigError, match="unknown front method 'nope'; known: bisection, "
                                          "dichotomic, grid, path, smgd"):
        train_front("lenet5", synthetic_data, method="nope", train_config=config)


def test_the_job_builds_registered_solvers_with_the_fronts_f2(synthetic_data, tmp_path):
    job = FrontJob(factory=lambda: torch.nn.Linear(2, 2), splits=synthetic_data,
                   train=TrainConfig(), front=None, out=tmp_path, budget=2, explore=1,
                   solver_options={"complexity": "group-l1", "scope": "dense", "tau": 0.0,
                                   "freeze_masks": True})
    solver = job.solver("weighted-sum", lam=0.3)
    assert isinstance(solver, WeightedSumSolver)
    assert solver.describe()["complexity"] == "group-l1" and solver.lam == 0.3


class UtopiaKnee(KneeSelector):
    """The point nearest the ideal point in normalised objectives: a knee selector written
    outside moprune."""

    name = "utopia"

    def _select(self, F: np.ndarray) -> int:
        return int(np.argmin(np.hypot(F[:, 0], F[:, 1])))


def test_a_registered_knee_selector_is_used_by_name():
    KNEE_SELECTORS.register("utopia")(UtopiaKnee)
    try:
        pts = [Point(method="weighted-sum", f1=f1, f2=f2, val_acc=0.9, zeros=0, scope_size=10,
                     lam=lam) for f1, f2, lam in
               [(0.1, 1.0, 0.0), (0.2, 0.3, 0.3), (0.3, 0.2, 0.5), (0.45, 0.12, 0.6),
                (1.0, 0.0, 0.9)]]
        front = Front(pts)
        assert front.knee("utopia").lam == 0.5  # nearest (0, 0) after normalising
        assert front.knee("chord").lam == 0.3  # farthest from the chord
    finally:
        KNEE_SELECTORS.unregister("utopia")
    with pytest.raises(ConfigError, match="unknown knee selector 'utopia'"):
        front.knee("utopia")
