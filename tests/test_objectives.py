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
@pytest.mark.parametrize("kind", ["l1", "group-l1", "flops"])
@pytest.mark.parametrize("scope", ["all", "dense", "conv"])
def test_analytic_gradient_matches_autograd(name, kind, scope):
    model = _model(name) if name != "mlp" else build_model("mlp", in_channels=1, num_classes=10,
                                                           image_size=28, seed=0)
    if name == "mlp" and scope == "conv":
        with pytest.raises(ConfigError, match="scope 'conv' holds no weights"):
            Complexity(model, kind=kind, scope=scope, input_shape=(1, 28, 28))
        return
    f2 = Complexity(model, kind=kind, scope=scope, input_shape=(1, 28, 28))
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
    with pytest.raises(ConfigError, match="unknown complexity 'l2'; known: flops, group-l1, l1"):
        Complexity(_model(), kind="l2")
    with pytest.raises(ConfigError, match="scope must be one of .* got 'bias'"):
        Complexity(_model(), scope="bias")


@pytest.mark.parametrize("name", ["lenet5", "vgg", "resnet20"])
def test_flops_weights_match_flop_counter_per_channel(name):
    from torch.utils.flop_counter import FlopCounterMode

    size, channels = (28, 1) if name != "resnet20" else (32, 3)
    model = build_model(name, in_channels=channels, num_classes=10, image_size=size, seed=0)
    f2 = Complexity(model, kind="flops", input_shape=(channels, size, size))
    modules = dict(model.named_modules())
    for name_, dim, per_group in zip(f2.names, f2.group_dims, f2.group_flops(), strict=True):
        layer = modules[name_.removesuffix(".weight")]
        x: dict[str, torch.Tensor] = {}

        def keep_input(module, inputs, output, x=x):
            x["in"] = inputs[0]

        handle = layer.register_forward_hook(keep_input)
        model.eval()(torch.zeros(1, channels, size, size))
        handle.remove()
        with FlopCounterMode(display=False) as counter:
            layer(x["in"])
        layer_flops = counter.get_total_flops()
        groups = layer.weight.shape[dim]
        assert per_group.shape == (groups,)
        assert torch.allclose(per_group, torch.full((groups,), layer_flops / groups))
    # the weights are the FLOPs: a conv channel of lenet5's conv1 (28 x 28 outputs) costs
    # more than one of conv2 (10 x 10) per weight
    if name == "lenet5":
        assert f2.positions[:2] == [28 * 28, 10 * 10]


def test_flops_complexity_needs_the_input_shape():
    with pytest.raises(ConfigError, match="needs the input shape"):
        Complexity(_model(), kind="flops")


@pytest.mark.parametrize("kind", ["l1", "group-l1", "flops"])
def test_prox_gives_exact_zeros_and_matches_soft_thresholding_by_hand(kind):
    model = build_model("vgg", in_channels=1, num_classes=10, image_size=28, seed=0)
    f2 = Complexity(model, kind=kind, input_shape=(1, 28, 28))
    before = [t.detach().clone() for t in f2.penalized]
    zeros_before = f2.zeros()
    # a step that zeroes about half the weights (l1) or groups: the median threshold
    if kind == "l1":
        step = f2.n * float(torch.cat([p.detach().abs().reshape(-1) for p in f2.params]).median())
    else:
        ratios = [f2._group_norms(i).detach().reshape(-1) * f2.norm / (s * k) for i, (s, k) in
                  enumerate(zip(f2._group_scale, f2.positions, strict=True))]
        step = float(torch.cat(ratios).median())
    f2.prox_(step)
    assert f2.zeros() > zeros_before
    if kind == "l1":
        t = step / f2.n
        for w, w0 in zip(f2.params, before, strict=False):
            expected = torch.sign(w0) * torch.clamp(w0.abs() - t, min=0)
            assert torch.equal(w, expected)
        return
    # group soft-thresholding by hand: w_g * max(0, 1 - step * c_g / ||w_g||)
    n_w = len(f2.params)
    attached = iter(before[n_w:])
    for i, (w, w0) in enumerate(zip(f2.params, before[:n_w], strict=True)):
        dim = f2.group_dims[i]
        extra = [next(attached) for _ in f2.attached[i]]
        for g in range(w0.shape[dim]):
            parts = [w0.select(dim, g).reshape(-1)] + [e[g].reshape(1) for e in extra]
            norm = torch.cat(parts).norm()
            c = f2._group_scale[i] * f2.positions[i] / f2.norm
            shrink = max(0.0, 1.0 - step * c / float(norm)) if norm > 0 else 0.0
            assert torch.allclose(w.select(dim, g), w0.select(dim, g) * shrink, atol=1e-7)
            if shrink == 0.0:
                assert torch.all(w.select(dim, g) == 0)
                for t in f2.attached[i]:
                    assert t[g] == 0


def test_prox_step_zero_changes_nothing_and_negative_is_refused():
    model = _model()
    f2 = Complexity(model, kind="l1")
    before = [p.clone() for p in f2.params]
    f2.prox_(0.0)
    assert all(torch.equal(a, b) for a, b in zip(before, f2.params, strict=True))
    with pytest.raises(ConfigError, match="proximal step must be >= 0, got -1"):
        f2.prox_(-1.0)


def test_channel_order_ranks_by_layer_normalised_norm_dead_first_within_the_cap():
    model = _model("vgg")
    with torch.no_grad():  # features[0] channel 2 dead with its batch norm
        model.features[1].weight[2] = 0.0
        model.features[1].bias[2] = 0.0
    f2 = Complexity(model, kind="flops", input_shape=(1, 28, 28))
    order = f2.channel_order()
    dead = f2.dead_groups()
    assert dead >= 1 and (0, 2) in order[:dead]  # dead groups (norm 0) come first
    assert len(set(order)) == len(order)
    groups = [p.shape[d] for p, d in zip(f2.params, f2.group_dims, strict=True)]
    for i, n in enumerate(groups):  # at most 90% of each tensor's groups, one always left
        assert sum(t == i for t, _ in order) == min(int(0.9 * n), n - 1)
    scores = []
    for i, j in order:
        norms = f2._group_norms(i).detach().flatten()
        scores.append(float(norms[j] / norms.mean()))
    assert scores == sorted(scores)  # smallest normalised norm first
    with pytest.raises(ConfigError, match="needs groups"):
        Complexity(model, kind="l1").channel_order()


def test_group_masks_kill_a_channel_with_its_batch_norm_and_its_flops_go():
    from moprune.pruning import flops_share

    model = build_model("vgg", in_channels=1, num_classes=10, image_size=28, seed=0)
    f2 = Complexity(model, kind="flops", input_shape=(1, 28, 28))
    cut = [(1, j) for j in range(16)]  # half of the second conv's output channels
    masks = f2.group_masks(cut)
    assert [tuple(m.shape) for m in masks] == [tuple(p.shape) for p in f2.penalized]
    with torch.no_grad():
        for p, m in zip(f2.penalized, masks, strict=True):
            p.mul_(m)
    assert f2.dead_groups() == 16
    conv, bn = model.features[3], model.features[4]
    assert bool((conv.weight[:16] == 0).all()) and bool((conv.weight[16:] != 0).any())
    assert bool((bn.weight[:16] == 0).all()) and bool((bn.bias[:16] == 0).all())
    # the conv's own FLOPs and half the next conv's inputs go (give or take the inputs a
    # fresh network's ReLUs silence at random: 0.4% of the FLOPs before the cut)
    costs = [float(c.sum()) for c in f2.group_flops()]
    lost = 0.5 * costs[1] + 0.5 * costs[2]
    assert flops_share(model, (1, 28, 28)) == pytest.approx(1 - lost / sum(costs), abs=0.02)


def test_a_complexity_kind_registered_from_outside_is_used_by_name(synthetic_data):
    """A kind written outside moprune: the group lasso with the last layer's groups ten
    times as heavy; registered once, then f2, a front and a config take it by name."""
    from moprune.config import TrainConfig, config_from_dict
    from moprune.front import FrontConfig, Grid, train_front
    from moprune.objectives import COMPLEXITIES, ComplexityKind

    class LateHeavy(ComplexityKind):
        def layer_weights(self, model, names, input_shape):
            return [1] * (len(names) - 1) + [10]

    COMPLEXITIES.register("late-heavy")(LateHeavy)
    try:
        model = _model()
        heavy, plain = (Complexity(model, kind=k) for k in ("late-heavy", "group-l1"))
        assert heavy.grouped and heavy.positions[-1] == 10
        assert heavy.value() != pytest.approx(plain.value())
        front = train_front("mlp", synthetic_data, method=Grid(budget=2, lams=(0.0, 1.0)),
                            complexity="late-heavy",
                            train=TrainConfig(epochs=1, batch_size=32, lr=0.05))
        assert front.meta["complexity"] == "late-heavy" and len(front) == 2
        assert config_from_dict(FrontConfig, {"complexity": "late-heavy"}).complexity == \
            "late-heavy"
    finally:
        COMPLEXITIES.unregister("late-heavy")
