import math

import pytest
import torch
from torch import nn

from moprune.errors import ConfigError
from moprune.models import build_model
from moprune.objectives import Complexity, scope_parameters


def _model(name="lenet5", seed=0):
    model = build_model(name, in_channels=1, num_classes=10, image_size=28, seed=seed)
    with torch.no_grad():  # some exact zeros, and one whole dead channel, as pruning makes
        for p in model.parameters():
            p.mul_((torch.rand(p.shape) > 0.3).float())
        model.features[0].weight[2].zero_()
    return model


@pytest.mark.parametrize("name", ["lenet5", "vgg", "mlp"])
@pytest.mark.parametrize("kind", ["l1", "group-l1"])
@pytest.mark.parametrize("scope", ["all", "dense", "conv"])
def test_analytic_gradient_matches_autograd(name, kind, scope):
    model = _model(name) if name != "mlp" else build_model("mlp", in_channels=1, num_classes=10,
                                                           image_size=28, seed=0)
    if name == "mlp" and scope == "conv":
        with pytest.raises(ConfigError, match="scope 'conv' holds no weights"):
            Complexity(model, kind=kind, scope=scope)
        return
    f2 = Complexity(model, kind=kind, scope=scope)
    analytic = f2.gradient()
    value = f2.differentiable()
    autograd = torch.autograd.grad(value, f2.penalized)
    assert len(analytic) == len(f2.penalized)
    for a, b, p in zip(analytic, autograd, f2.penalized, strict=True):
        nonzero = p != 0  # at 0 the subgradient is chosen as 0; autograd's is too for abs
        assert torch.allclose(a[nonzero], b[nonzero], atol=1e-9, rtol=1e-5)
        assert torch.all(a[p == 0] == 0) if kind == "l1" else True
    assert f2.value() == pytest.approx(float(value.detach()))


def test_scopes_select_layers():
    model = _model()
    names = lambda scope: [n for n, _ in scope_parameters(model, scope)]  # noqa: E731
    assert names("conv") == ["features.0.weight", "features.3.weight"]
    assert names("dense") == ["classifier.1.weight", "classifier.3.weight",
                              "classifier.5.weight"]
    assert names("all") == names("conv") + names("dense")
    assert not any("bias" in n for n in names("all"))


def test_l1_value_and_l0():
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.0], [0.0, 0.5, 0.0]]))
        model[1].weight.copy_(torch.tensor([[0.0, 1.0], [-1.0, 0.0]]))
    f2 = Complexity(model, kind="l1")
    assert f2.n == 10
    assert f2.value() == pytest.approx(5.5 / 10)
    assert f2.zeros() == 5 and f2.sparsity() == 0.5


def test_group_l1_equals_l1_for_equal_magnitudes_and_groups_outputs():
    model = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.5, -0.5, 0.5, 0.5], [0.0] * 4, [0.5] * 4]))
        model[1].weight.fill_(0.5)
    group, l1 = Complexity(model, kind="group-l1"), Complexity(model, kind="l1")
    assert group.value() == pytest.approx(l1.value())
    # hidden layer: groups are its 3 output neurons (one dead); output layer: its 3 inputs
    assert group.group_dims == [0, 1]
    assert group.num_groups == 6 and group.dead_groups() == 1
    expected = (2 * math.sqrt(4) * 1.0 + 3 * math.sqrt(2) * math.sqrt(0.5)) / 18
    assert group.value() == pytest.approx(expected)


def test_group_l1_joins_the_following_batch_norm_to_each_channel():
    model = build_model("vgg", in_channels=1, num_classes=10, image_size=28, seed=0)
    group, l1 = Complexity(model, kind="group-l1"), Complexity(model, kind="l1")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    assert [len(a) for a in group.attached] == [2] * 6 + [0]  # the classifier has no norm
    assert all(a[0] is bn.weight and a[1] is bn.bias
               for a, bn in zip(group.attached, norms, strict=False))
    assert len(group.penalized) == 7 + 12 and l1.penalized == l1.params
    fc = model.classifier[1].weight.numel()
    assert group.n == l1.n == sum(c.weight.numel() for c in convs) + fc
    # A channel with zero weights but a live shift is not dead; with the shift zero too it is.
    with torch.no_grad():
        convs[0].weight[3].zero_()
        norms[0].weight[3] = 0.0
        norms[0].bias[3] = 0.5  # (batch norm shifts start at 0)
    assert group.dead_groups() == 0
    with torch.no_grad():
        norms[0].bias[3] = 0.0
    assert group.dead_groups() == 1
    # Group scale counts the two attached entries: sqrt(9 + 2) for the first conv's channels.
    assert group._group_scale[0] == pytest.approx(math.sqrt(11))


def test_bad_kind_and_scope():
    with pytest.raises(ConfigError, match="complexity kind must be one of .* got 'l2'"):
        Complexity(_model(), kind="l2")
    with pytest.raises(ConfigError, match="scope must be one of .* got 'bias'"):
        Complexity(_model(), scope="bias")
