import math

import pytest
import torch

from moprune.errors import ConfigError
from moprune.pruning import MagnitudePruner


def test_prune_zeroes_exactly_the_weights_at_or_under_tau():
    w = torch.nn.Parameter(torch.tensor([0.0, 1e-3, -1e-3, 1.0001e-3, -0.5, 2e-4, 3.0]))
    before = w.detach().clone()
    MagnitudePruner([w], tau=1e-3).prune()
    expected = torch.where(before.abs() <= 1e-3, torch.zeros(()), before)
    assert torch.equal(w.detach(), expected)


@pytest.mark.parametrize("optimizer_cls", [torch.optim.SGD, torch.optim.Adam])
def test_frozen_masks_stay_zero_through_steps(optimizer_cls):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(50) * 0.01)
    kw = {"momentum": 0.9} if optimizer_cls is torch.optim.SGD else {}
    opt = optimizer_cls([w], lr=0.1, **kw)
    pruner = MagnitudePruner([w], tau=5e-3, freeze=True)
    pruner.prune(opt)
    dead = w.detach() == 0
    assert dead.any() and (~dead).any()
    for _ in range(5):
        opt.zero_grad()
        (w * torch.linspace(-1, 1, 50)).sum().backward()  # gradient pushes every weight
        pruner.mask_grads()
        assert torch.all(w.grad[dead] == 0)
        opt.step()
        pruner.prune(opt)
        assert torch.all(w.detach()[dead] == 0)
        for value in opt.state[w].values():
            if torch.is_tensor(value) and value.shape == w.shape:
                assert torch.all(value[dead] == 0)


def test_unfrozen_weights_may_grow_back():
    w = torch.nn.Parameter(torch.tensor([1e-4, 1.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    pruner = MagnitudePruner([w], tau=1e-3)
    pruner.prune(opt)
    assert w[0] == 0
    w.grad = torch.tensor([-1.0, 0.0])
    opt.step()
    pruner.prune(opt)
    assert float(w.detach()[0]) == pytest.approx(0.1)


def test_infinite_tau_prunes_all_and_negative_tau_is_refused():
    w = torch.nn.Parameter(torch.randn(10))
    MagnitudePruner([w], tau=math.inf).prune()
    assert torch.all(w == 0)
    with pytest.raises(ConfigError, match="tau must be >= 0, got -1"):
        MagnitudePruner([w], tau=-1)
