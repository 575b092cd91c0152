"""Front methods and solvers are chosen by name: a new one is a class, a registration and
this kind of test."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from moprune.config import TrainConfig, config_from_dict
from moprune.errors import ConfigError
from moprune.front import (
    FRONT_METHODS,
    KNEE_SELECTORS,
    SMGD,
    Bisection,
    Dichotomic,
    Front,
    FrontConfig,
    FrontJob,
    FrontMethod,
    Grid,
    KneeSelector,
    Path,
    Point,
    method_from_config,
    option,
    train_front,
)
from moprune.solvers import SOLVERS, WeightedSumSolver


@dataclass(frozen=True)
class EndsOnly(FrontMethod):
    """The two ends of the front and one weight between: a method written outside moprune,
    with an option of its own."""

    middle: float = option(0.5, flag="ends-middle", help="the weight between the ends",
                           gt=0, lt=1)

    @property
    def runs(self) -> int:
        return 3

    def run(self, job: FrontJob) -> None:
        for lam in (0.0, self.middle, 1.0):
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


def test_a_registered_method_with_its_option_is_used_by_name(plugins, synthetic_data,
                                                              tmp_path):
    config = TrainConfig(lr=0.05, batch_size=32, epochs=1)
    front = train_front("lenet5", synthetic_data, method=EndsOnly(middle=0.6), train=config,
                        out=tmp_path)
    assert [p.lam for p in front] == [0.0, 0.3, 0.5]  # the solver halved every weight
    assert front.meta["method"] == "ends-only" and front.meta["budget"] == 3
    assert front.meta["method_options"] == {"name": "ends-only", "middle": 0.6}
    assert all((tmp_path / p.checkpoint).exists() for p in front)
    with pytest.raises(ConfigError, match="middle of the ends-only method must be a number "
                                          "> 0 and < 1, got 1.5"):
        EndsOnly(middle=1.5)
    # by name, from YAML (its option nested, or flat as on the command line)
    for values in ({"method": {"name": "ends-only", "middle": 0.6}},
                   {"method": "ends-only", "ends_middle": 0.6}):
        assert config_from_dict(FrontConfig, values).method == EndsOnly(middle=0.6)
    with pytest.raises(ConfigError, match="ends_middle is for the ends-only method, not path"):
        config_from_dict(FrontConfig, {"method": "path", "ends_middle": 0.6})
    # and from the command line, its flag derived from the option
    from moprune.cli import build_parser, resolve_config
    from moprune.cli.front import front_keys

    args = build_parser().parse_args(["front", "--out", str(tmp_path / "cli"), "--method",
                                      "ends-only", "--ends-middle", "0.7"])
    assert resolve_config(FrontConfig, args, flat=front_keys()).method == EndsOnly(middle=0.7)


def test_methods_say_what_they_take(synthetic_data):
    config = TrainConfig(lr=0.05, batch_size=32, epochs=2)
    with pytest.raises(ConfigError, match="prox is for the weighted sum and the path, not "
                                          "for smgd"):
        train_front("lenet5", synthetic_data, method=SMGD(budget=1), prox=True, train=config)
    with pytest.raises(ConfigError, match="explore_epochs is for the bisection, dichotomic "
                                          "and grid methods, not path"):
        method_from_config("path", flat={"explore_epochs": 1})
    with pytest.raises(ConfigError, match="unknown option 'explore_epochs' of the path "
                                          "method"):
        method_from_config({"name": "path", "explore_epochs": 1})
    with pytest.raises(ConfigError, match="unknown front method 'nope'; known: bisection, "
                                          "dichotomic, grid, path, smgd"):
        train_front("lenet5", synthetic_data, method="nope", train=config)


def test_the_library_default_is_the_main_jobs_path():
    import inspect

    assert FrontConfig().method == Path(points=30)
    assert inspect.signature(train_front).parameters["method"].default is None  # Path()


def test_the_job_builds_registered_solvers_with_the_fronts_f2(synthetic_data, tmp_path):
    job = FrontJob(factory=lambda: torch.nn.Linear(2, 2), splits=synthetic_data,
                   train=TrainConfig(), front=None, out=tmp_path,
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
        # by name in a front's config and on the command line too
        assert FrontConfig(knee="utopia").knee == "utopia"
        from moprune.cli import build_parser

        args = build_parser().parse_args(["knee", "run", "--selector", "utopia"])
        assert args.selector == "utopia"
    finally:
        KNEE_SELECTORS.unregister("utopia")
    with pytest.raises(ConfigError, match="unknown knee selector 'utopia'"):
        front.knee("utopia")


@pytest.mark.parametrize("method", [Dichotomic(budget=2), Grid(budget=2, lams=(0.0, 1.0)),
                                    Bisection(budget=2), SMGD(budget=1), Path(points=2)],
                         ids=lambda m: m.name)
def test_a_flops_knee_for_every_method(synthetic_data, method):
    """Every method's points record their FLOPs share, so the flops complexity's knee (read
    in (validation error, FLOPs share)) is picked whatever the method."""
    front = train_front("lenet5", synthetic_data, method=method, complexity="flops",
                        train=TrainConfig(lr=0.05, batch_size=32, epochs=2))
    assert front.meta["knee_axes"] == "flops"
    assert all(p.flops_share is not None and 0 <= p.flops_share <= 1 for p in front)
    knee = front.knee("chord", axes="flops")
    assert front.final_version(knee).flops_share is not None


def test_a_path_corrector_registered_from_outside_is_used_by_name(synthetic_data):
    """A corrector written outside moprune: the magnitude cut at half the share the path
    asks for; registered once, the path method takes its name (and its kind: ranked, so no
    prox)."""
    from moprune.front.correctors import CORRECTORS, MagnitudeCorrector

    class HalfMagnitude(MagnitudeCorrector):
        def move(self, model, solver, optimizer, value, shape):
            return super().move(model, solver, optimizer, value / 2, shape)

    CORRECTORS.register("half-magnitude")(HalfMagnitude)
    try:
        front = train_front("lenet5", synthetic_data,
                            method=Path(points=3, corrector="half-magnitude", start_lam=0.6),
                            train=TrainConfig(lr=0.05, batch_size=32, epochs=2))
        cut = [p for p in front.search_points if p.extras.get("corrector")]
        assert cut and all(p.extras["corrector"] == "half-magnitude" for p in cut)
        # the share asked is recorded; half of it is cut
        assert all(p.zeros == pytest.approx(p.extras["cut"] / 2 * p.scope_size, abs=1)
                   for p in cut)
        with pytest.raises(ConfigError, match="the half-magnitude corrector cuts by rank"):
            FrontConfig(method=Path(corrector="half-magnitude"), prox=True)
    finally:
        CORRECTORS.unregister("half-magnitude")
    with pytest.raises(ConfigError, match="unknown path corrector 'half-magnitude'"):
        FrontConfig(method=Path(corrector="half-magnitude"))
