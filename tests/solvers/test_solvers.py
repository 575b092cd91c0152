"""Contract tests over every registered solver."""

import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.models import build_model
from moprune.solvers import SOLVERS, CrossEntropySolver, WeightedSumSolver

ARGS = {"weighted-sum": {"lam": 0.5}}


def _problem(seed=0):
    torch.manual_seed(seed)
    model = build_model("mlp", in_channels=1, num_classes=2, image_size=4, hidden=[16])
    x = torch.randn(64, 1, 4, 4)
    return model, x, (x.flatten(1).sum(1) > 0).long()


def _run(name, steps=30, seed=0, **kw):
    model, x, y = _problem(seed)
    solver = SOLVERS.get(name)(**{**ARGS.get(name, {}), **kw})
    solver.bind(model, TrainConfig(lr=0.05))
    losses = [float(solver.step(x, y)[0]) for _ in range(steps)]
    return model, solver, losses


@pytest.mark.parametrize("name", SOLVERS.names())
def test_solver_learns_and_describes_itself(name):
    _, solver, losses = _run(name)
    assert losses[-1] < losses[0]
    assert solver.describe()["solver"] == name
    stats = solver.epoch_stats()
    assert {"f2", "sparsity"} <= set(stats)


@pytest.mark.parametrize("name", SOLVERS.names())
def test_same_seed_same_result(name):
    a, _, la = _run(name)
    b, _, lb = _run(name)
    assert la == lb
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("name", SOLVERS.names())
def test_pruning_threshold_changes_the_result(name):
    _, s_off, _ = _run(name, tau=None)
    _, s_on, _ = _run(name, tau=0.05)
    assert s_on.f2.zeros() > s_off.f2.zeros()


def test_weighted_sum_zero_equals_cross_entropy():
    a, _, _ = _run("weighted-sum", lam=0.0, tau=None)
    model, x, y = _problem()
    solver = CrossEntropySolver()
    solver.bind(model, TrainConfig(lr=0.05))
    for _ in range(30):
        solver.step(x, y)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), model.parameters(), strict=True))


def test_weighted_sum_step_adds_the_scaled_f2_gradient():
    model, x, y = _problem()
    before = [p.detach().clone() for p in model.parameters()]
    solver = WeightedSumSolver(0.8, tau=None)
    solver.bind(model, TrainConfig(lr=0.1, momentum=0.0))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g1 = torch.autograd.grad(loss, list(model.parameters()))
    scoped = {id(p) for p in solver.f2.params}
    solver.step(x, y)
    for p, b, g in zip(model.parameters(), before, g1, strict=True):
        g2 = b.sign() / solver.f2.n if id(p) in scoped else 0.0
        assert torch.allclose(p.detach(), b - 0.1 * (g + 4.0 * g2), atol=1e-7)  # 0.8/0.2 = 4


def test_weighted_sum_one_is_the_lexicographic_extreme():
    model, solver, losses = _run("weighted-sum", lam=1.0)
    assert solver.f2.zeros() == solver.f2.n  # every weight in scope is 0 ...
    biases = [m.bias for m in model if isinstance(m, torch.nn.Linear)]
    assert any(float(b.detach().abs().sum()) > 0 for b in biases)  # ... and the biases still learn
    assert losses[-1] <= losses[0]


def test_more_weight_on_f2_gives_sparser_networks():
    # 288 weights: lam / (1 - lam) / 288 * lr stays under tau for these weights
    sparsity = [_run("weighted-sum", lam=lam, steps=200, tau=5e-3)[1].f2.sparsity()
                for lam in (0.0, 0.5, 0.9)]
    assert sparsity[0] < sparsity[1] < sparsity[2]


def test_lam_out_of_range():
    with pytest.raises(ConfigError, match=r"lam must be in \[0, 1\], got 1.5"):
        WeightedSumSolver(1.5)


def test_weighted_sum_prox_step_is_sgd_on_f1_then_soft_thresholding():
    model, x, y = _problem()
    before = [p.detach().clone() for p in model.parameters()]
    solver = WeightedSumSolver(0.8, tau=None, prox=True)
    solver.bind(model, TrainConfig(lr=0.1, momentum=0.0, scheduler="none"))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g1 = torch.autograd.grad(loss, list(model.parameters()))
    scoped = {id(p) for p in solver.f2.params}
    solver.step(x, y)
    threshold = 0.1 * 4.0 / solver.f2.n  # lr * lam / (1 - lam) / n
    for p, b, g in zip(model.parameters(), before, g1, strict=True):
        w = b - 0.1 * g
        if id(p) in scoped:
            w = torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)
        assert torch.allclose(p.detach(), w, atol=1e-7)
    assert solver.describe()["prox"] is True


def test_prox_gives_exact_zeros_without_a_threshold():
    _, plain, _ = _run("weighted-sum", lam=0.9, steps=100, tau=None)
    _, prox, _ = _run("weighted-sum", lam=0.9, steps=100, tau=None, prox=True)
    assert plain.f2.zeros() == 0 < prox.f2.zeros()


def test_prox_is_refused_where_there_is_no_weight():
    from moprune.solvers import SMGDSolver

    with pytest.raises(ConfigError, match="has no proximal step"):
        SMGDSolver(prox=True)


def test_set_lam_changes_the_weight_between_steps():
    model, x, y = _problem()
    solver = WeightedSumSolver(0.0, tau=None, prox=True)
    solver.bind(model, TrainConfig(lr=0.1, momentum=0.0, scheduler="none"))
    solver.step(x, y)
    assert solver.f2.zeros() == 0
    solver.set_lam(0.999)
    solver.step(x, y)
    assert solver.f2.zeros() > 0
    with pytest.raises(ConfigError, match="lam = 1 is solved from the start"):
        solver.set_lam(1.0)


@pytest.mark.parametrize("freeze", [False, True])
def test_frozen_masks_keep_the_prox_zeros_at_zero(freeze):
    """With the prox step there is no threshold; frozen masks must still hold its zeros
    when the weight of f2 is lowered (without freezing, f1's gradient revives some)."""
    model, x, y = _problem()
    solver = WeightedSumSolver(0.999, tau=None, prox=True, freeze_masks=freeze)
    solver.bind(model, TrainConfig(lr=0.1, momentum=0.9, scheduler="none"))
    for _ in range(5):
        solver.step(x, y)
    zeros = [p == 0 for p in solver.f2.params]
    assert sum(int(z.sum()) for z in zeros) > 0
    solver.set_lam(0.0)
    for _ in range(20):
        solver.step(x, y)
    revived = sum(int((z & (p != 0)).sum()) for z, p in zip(zeros, solver.f2.params,
                                                             strict=True))
    assert (revived == 0) if freeze else (revived > 0)
