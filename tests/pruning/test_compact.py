import pytest
import torch
import torch_pruning as tp
from torch import nn

from moprune.errors import ConfigError
from moprune.models import build_model, load_model, save_model
from moprune.pruning.compact import compact, prune_to_flops
from moprune.pruning.stats import count_flops

MODELS = ["mlp", "lenet5", "vgg", "resnet20", "resnet56", "torchvision:resnet18",
          "torchvision:mobilenet_v2"]
LAYERS = (nn.Conv2d, nn.Linear)


def kill_channels(model: nn.Module, x: torch.Tensor, share: float, seed: int) -> int:
    """Zero a random share of every coupled channel group: producers' weights and biases
    and the batch norms' scale and shift, so that the channels are truly dead."""
    gen = torch.Generator().manual_seed(seed)
    output = [m for m in model.modules() if isinstance(m, LAYERS)][-1]
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=x)
    killed = 0
    with torch.no_grad():
        for group in graph.get_all_groups(ignored_layers=[output], root_module_types=LAYERS):
            n = len(group._group[0].root_idxs)
            chosen = torch.randperm(n, generator=gen)[: int(share * n)]
            for item in group._group:
                m = item.dep.target.module
                if not graph.is_out_channel_pruning_fn(item.dep.handler):
                    continue
                local = torch.tensor(item.idxs)[torch.isin(torch.tensor(item.root_idxs), chosen)]
                if isinstance(m, (*LAYERS, nn.BatchNorm2d)):
                    if m.weight is not None:
                        m.weight[local] = 0
                    if m.bias is not None:
                        m.bias[local] = 0
            killed += len(chosen)
    return killed


@pytest.mark.parametrize("name", MODELS)
def test_removing_dead_channels_keeps_the_function(name, tmp_path):
    model = build_model(name, in_channels=1, num_classes=10, image_size=28, seed=0).eval()
    x = torch.randn(3, 1, 28, 28)
    killed = kill_channels(model, x, share=0.3, seed=1)
    small, report = compact(model, example_inputs=x)
    assert report.channels_removed == killed > 0
    assert report.parameters_after < report.parameters_before
    assert sum(p.numel() for p in small.parameters()) == report.parameters_after
    probe = torch.randn(5, 1, 28, 28)
    assert torch.allclose(model(probe), small(probe), atol=1e-5, rtol=1e-4)
    assert small(probe).shape == (5, 10)  # the classifier's outputs stay
    # the compacted file loads without pickles and rebuilds the smaller network
    save_model(small, tmp_path / "small.pt")
    payload = torch.load(tmp_path / "small.pt", weights_only=True)
    assert payload["recipe"]["pruning_history"]
    again = load_model(tmp_path / "small.pt").eval()
    assert torch.allclose(again(probe), small(probe), atol=1e-6)


def test_zero_weights_behind_a_batch_norm_shift_are_kept():
    model = build_model("vgg", in_channels=1, num_classes=10, image_size=28, seed=0).eval()
    conv, bn = model.features[0], model.features[1]
    with torch.no_grad():
        conv.weight[:4] = 0
        bn.bias[:4] = torch.tensor([0.5, 0.0, -0.3, 0.0])  # constants after the batch norm
        bn.weight[:4] = 1.0
        bn.running_mean[:4] = 0
    x = torch.randn(2, 1, 28, 28)
    small, report = compact(model, example_inputs=x)
    # ReLU(0) = ReLU(-0.3) = 0 reach the next conv as zeros; ReLU(0.5) is a live constant
    assert report.removed == {"features.0": 3}
    assert report.kept_live == {"features.0": 1}
    assert torch.allclose(model(x), small(x), atol=1e-5)


def test_residual_additions_stay_consistent():
    model = build_model("resnet20", in_channels=3, num_classes=10, image_size=32, seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    kill_channels(model, x, share=0.5, seed=3)
    small, _ = compact(model, example_inputs=x)
    block = small.layers[0]
    assert block.conv2.out_channels == small.conv1.out_channels == small.bn1.num_features
    assert torch.allclose(model(x), small(x), atol=1e-5)


def test_threshold_and_fraction_remove_weak_channels():
    model = build_model("lenet5", in_channels=1, num_classes=10, image_size=28, seed=0).eval()
    x = torch.randn(2, 1, 28, 28)
    _, by_fraction = compact(model, example_inputs=x, fraction=0.5)
    assert by_fraction.removed == {"features.0": 3, "features.3": 8, "classifier.1": 60,
                                   "classifier.3": 42}
    _, by_threshold = compact(model, example_inputs=x, threshold=1e9)
    # one channel of every layer always stays
    assert by_threshold.removed == {"features.0": 5, "features.3": 15, "classifier.1": 119,
                                    "classifier.3": 83}


def test_user_module_and_bad_arguments():
    mine = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        mine[1].weight[:5] = 0
        mine[1].bias[:5] = 0
    x = torch.randn(2, 1, 4, 4)
    small, report = compact(mine, example_inputs=x)
    assert report.removed == {"1": 5}
    assert small[1].out_features == 3 and small[3].in_features == 3
    assert torch.allclose(mine(x), small(x))
    with pytest.raises(ConfigError, match="threshold must be >= 0, got -1"):
        compact(mine, example_inputs=x, threshold=-1)
    with pytest.raises(ConfigError, match="fraction must be in \\[0, 1\\), got 1.5"):
        compact(mine, example_inputs=x, fraction=1.5)


@pytest.mark.parametrize("name", ["lenet5", "vgg", "resnet20"])
@pytest.mark.parametrize("mode", ["global", "uniform"])
def test_prune_to_flops_meets_the_target(name, mode, tmp_path):
    model = build_model(name, in_channels=1, num_classes=10, image_size=28, seed=0)
    x = torch.randn(4, 1, 28, 28)
    small, info = prune_to_flops(model, example_inputs=x, keep_flops=0.4, mode=mode)
    kept = info["flops_after"] / info["flops_before"]
    assert 0.38 <= kept <= 0.40
    assert count_flops(small, x) == info["flops_after"]
    save_model(small, tmp_path / "small.pt")
    again = load_model(tmp_path / "small.pt").eval()
    assert torch.allclose(again(x), small(x), atol=1e-6)


def test_prune_to_flops_bad_input():
    model = build_model("lenet5", in_channels=1, num_classes=10, image_size=28)
    x = torch.randn(2, 1, 28, 28)
    with pytest.raises(ConfigError, match="keep_flops must be in \\(0, 1\\], got 0"):
        prune_to_flops(model, example_inputs=x, keep_flops=0)
    with pytest.raises(ConfigError, match="mode must be global or uniform, got 'random'"):
        prune_to_flops(model, example_inputs=x, keep_flops=0.5, mode="random")


def test_constant_neurons_before_a_linear_layer_are_folded_into_its_bias():
    model = build_model("mlp", in_channels=1, num_classes=10, image_size=28, seed=0).eval()
    first, second = model[1], model[3]
    with torch.no_grad():
        first.weight[:7] = 0
        first.bias[:7] = torch.tensor([-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3])  # 3 live
    x = torch.randn(4, 1, 28, 28)
    small, report = compact(model, example_inputs=x)
    assert report.folded == {"1": 3} and report.removed == {"1": 7}
    assert report.kept_live == {}
    assert small[1].out_features == 300 - 7
    probe = torch.randn(6, 1, 28, 28)
    assert torch.allclose(model(probe), small(probe), atol=1e-5)
    assert not torch.equal(small[3].bias, second.bias)  # the constants moved there


def test_compact_file_of_a_users_module(tmp_path):
    """compact_file: one library call for what `moprune compact` writes, a user's module
    included (loaded with its factory, traced on the inputs given)."""
    import json

    from moprune.compaction import compact_file
    from moprune.errors import ConfigError
    from moprune.models import load_model, save_model

    def make():
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8),
                                   torch.nn.ReLU(), torch.nn.Linear(8, 3))

    net = make()
    with torch.no_grad():
        net[1].weight[:5] = 0
        net[1].bias[:5] = -1.0  # five dead neurons
    save_model(net, tmp_path / "mine.pt")
    x = torch.randn(4, 1, 4, 4)
    with pytest.raises(ConfigError, match="give example_inputs"):
        compact_file(tmp_path / "mine.pt", factory=make)
    result = compact_file(tmp_path / "mine.pt", factory=make, example_inputs=x)
    assert result["out"] == str(tmp_path / "mine-compact.pt")
    assert result["after"]["parameters"] < result["before"]["parameters"]
    assert json.loads((tmp_path / "mine-compact.json").read_text())["details"][
        "channels_removed"] == 5
    small = load_model(tmp_path / "mine-compact.pt", factory=make)
    assert small[1].out_features == 3
    assert torch.allclose(small.eval()(x), net.eval()(x), atol=1e-6)
