import numpy as np
import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.models import build_model
from moprune.solvers import SMGDSolver, min_norm_coefficient


def _a(g1, g2):
    return float(min_norm_coefficient(g1 @ g1, g1 @ g2, g2 @ g2))


def _brute_force(g1, g2):
    grid = np.linspace(0.0, 1.0, 100_001)
    norms = np.linalg.norm(grid[:, None] * g1 + (1 - grid[:, None]) * g2, axis=1)
    return grid[np.argmin(norms)], norms.min()


@pytest.mark.parametrize("case", range(20))
def test_min_norm_matches_brute_force_on_random_vectors(case):
    rng = np.random.default_rng(case)
    g1, g2 = rng.normal(size=50), rng.normal(size=50)
    if case % 4 == 1:
        g1 *= 100  # g1 dominates: the min-norm point is near g2
    if case % 4 == 2:
        g2 *= 100
    if case % 4 == 3:
        g2 = g1 + 0.01 * rng.normal(size=50)  # nearly equal
    a = _a(torch.tensor(g1), torch.tensor(g2))
    best_a, best_norm = _brute_force(g1, g2)
    assert np.linalg.norm(a * g1 + (1 - a) * g2) == pytest.approx(best_norm, rel=1e-6, abs=1e-9)
    assert a == pytest.approx(best_a, abs=1e-4)


def test_min_norm_edge_cases():
    g = torch.tensor([1.0, 2.0, 3.0])
    assert _a(g, g) == 1.0  # g1 == g2: a = 1 by convention
    assert _a(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])) == pytest.approx(0.5)
    assert _a(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])) == pytest.approx(0.5)
    # one gradient inside the other's half-space, longer: the shorter one is the answer
    assert _a(torch.tensor([10.0, 0.0]), torch.tensor([1.0, 0.0])) == 0.0
    assert _a(torch.tensor([1.0, 0.0]), torch.tensor([10.0, 1.0])) == 1.0


def test_min_norm_direction_descends_on_both_objectives():
    rng = np.random.default_rng(7)
    for _ in range(50):
        g1, g2 = torch.tensor(rng.normal(size=20)), torch.tensor(rng.normal(size=20))
        a = _a(g1, g2)
        d = a * g1 + (1 - a) * g2
        assert float(d @ g1) >= -1e-9 and float(d @ g2) >= -1e-9


def test_sgd_step_uses_the_min_norm_combination():
    torch.manual_seed(0)
    model = build_model("mlp", in_channels=1, num_classes=3, image_size=4, hidden=[5])
    x, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    solver = SMGDSolver(tau=None)
    optimizer = solver.bind(model, TrainConfig(lr=0.1, momentum=0.0, scheduler="none"))
    before = [p.detach().clone() for p in model.parameters()]
    # expected: g1 by autograd, g2 = sign(w) on the weights in scope ("sum" scale)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g1 = torch.autograd.grad(loss, list(model.parameters()))
    scoped = {id(p) for p in solver.f2.params}
    g2 = [p.detach().sign() if id(p) in scoped else torch.zeros_like(p)
          for p in model.parameters()]
    flat1, flat2 = torch.cat([g.flatten() for g in g1]), torch.cat([g.flatten() for g in g2])
    a = _a(flat1, flat2)
    solver.step(x, y)
    for p, b, u, v in zip(model.parameters(), before, g1, g2, strict=True):
        assert torch.allclose(p.detach(), b - 0.1 * (a * u + (1 - a) * v), atol=1e-6)
    assert optimizer is solver.optimizer


@pytest.mark.parametrize("variant", ["sgd", "adam"])
def test_smgd_trades_complexity_for_fit(variant):
    """SMGD fits the data, and ends less complex than training on f1 alone."""
    from moprune.solvers import CrossEntropySolver

    def run(solver):
        torch.manual_seed(0)
        model = build_model("mlp", in_channels=1, num_classes=2, image_size=4, hidden=[16])
        x = torch.randn(64, 1, 4, 4)
        y = (x.flatten(1).sum(1) > 0).long()
        optimizer = "sgd" if variant == "sgd" else "adam"
        solver.bind(model, TrainConfig(lr=0.05 if variant == "sgd" else 0.01, momentum=0.0,
                                       optimizer=optimizer))
        f1_start = float(torch.nn.functional.cross_entropy(model(x), y).detach())
        for _ in range(100):
            solver.step(x, y)
        return f1_start, float(torch.nn.functional.cross_entropy(model(x), y).detach()), solver

    f1_start, f1_smgd, smgd = run(SMGDSolver(variant=variant, tau=None))
    _, _, plain = run(CrossEntropySolver())
    assert f1_smgd < 0.5 * f1_start
    assert smgd.f2.value() < plain.f2.value()
    assert 0.0 <= smgd.epoch_stats()["alpha"] <= 1.0


def test_bad_variant_and_optimizer():
    with pytest.raises(ConfigError, match="SMGD variant must be one of .* got 'rmsprop'"):
        SMGDSolver(variant="rmsprop")
    model = build_model("lenet5", in_channels=1, num_classes=10, image_size=28)
    with pytest.raises(ConfigError, match="steps with SGD; got optimizer 'adam'"):
        SMGDSolver().bind(model, TrainConfig(optimizer="adam"))


@pytest.mark.parametrize("normalize", ["l2", "loss"])
def test_normalised_step_takes_the_min_norm_point_of_the_normalised_pair(normalize):
    torch.manual_seed(0)
    model = build_model("mlp", in_channels=1, num_classes=3, image_size=4, hidden=[5])
    x, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    solver = SMGDSolver(tau=None, normalize=normalize)
    solver.bind(model, TrainConfig(lr=0.1, momentum=0.0, scheduler="none"))
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g1 = torch.autograd.grad(loss, list(model.parameters()))
    scoped = {id(p) for p in solver.f2.params}
    g2 = [p.detach().sign() if id(p) in scoped else torch.zeros_like(p)
          for p in model.parameters()]
    flat1, flat2 = torch.cat([g.flatten() for g in g1]), torch.cat([g.flatten() for g in g2])
    if normalize == "l2":
        c1, c2 = flat1.norm(), flat2.norm()
    else:
        c1, c2 = loss.detach(), sum(p.detach().abs().sum() for p in solver.f2.params)
    a = _a(flat1 / c1, flat2 / c2)
    if normalize == "l2":
        assert a == pytest.approx(0.5)  # two unit vectors: the midpoint, the bisector
    solver.step(x, y)
    for p, b, u, v in zip(model.parameters(), before, g1, g2, strict=True):
        assert torch.allclose(p.detach(), b - 0.1 * (a * u / c1 + (1 - a) * v / c2), atol=1e-6)


def test_normalised_smgd_reaches_other_points_than_plain():
    """Plain SMGD with the mean-scale f2 follows the smaller gradient (f2's) and drives the
    weights to zero; normalised, the direction depends on the angle only, and the run
    ends at a point that fits the data; the two normalisations end at different points."""
    def run(normalize, seed=0):
        torch.manual_seed(seed)
        model = build_model("mlp", in_channels=1, num_classes=2, image_size=4, hidden=[16])
        x = torch.randn(64, 1, 4, 4)
        y = (x.flatten(1).sum(1) > 0).long()
        solver = SMGDSolver(tau=None, f2_scale="mean", normalize=normalize)
        solver.bind(model, TrainConfig(lr=0.05, momentum=0.0, scheduler="none"))
        for _ in range(300):
            solver.step(x, y)
        f1 = float(torch.nn.functional.cross_entropy(model(x), y).detach())
        return f1, solver.f2.value()

    plain, l2, loss = run("none"), run("l2"), run("loss")
    assert l2[0] < plain[0] and l2[1] > plain[1]  # l2 keeps more fit, less shrinkage
    assert abs(l2[1] - loss[1]) > 0.05 * max(l2[1], loss[1])  # different end points
    assert run("l2", seed=1) != l2  # and from another start, another point


def test_bad_normalize():
    with pytest.raises(ConfigError, match="normalize must be one of .* got 'max'"):
        SMGDSolver(normalize="max")
    with pytest.raises(ConfigError, match="is for the sgd variant"):
        SMGDSolver(variant="adam", normalize="l2")
