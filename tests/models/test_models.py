import pytest
import torch
from torch import nn

from moprune.errors import ConfigError, MopruneError, UnknownNameError
from moprune.models import MODELS, build_model, load_model, model_recipe, save_model

ALL_MODELS = [*MODELS.names(), "torchvision:resnet18", "torchvision:mobilenet_v2"]
SHAPES = [(1, 28, 10), (3, 32, 100)]  # (channels, image size, classes): FMNIST, CIFAR-100


@pytest.mark.parametrize("name", ALL_MODELS)
@pytest.mark.parametrize(("channels", "size", "classes"), SHAPES)
def test_forward_backward(name, channels, size, classes):
    model = build_model(name, in_channels=channels, num_classes=classes, image_size=size, seed=0)
    x = torch.randn(2, channels, size, size)
    out = model(x)
    assert out.shape == (2, classes)
    out.logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_same_seed_same_weights(name):
    def weights(seed):
        m = build_model(name, in_channels=1, num_classes=10, image_size=28, seed=seed)
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    assert torch.equal(weights(1), weights(1))
    assert not torch.equal(weights(1), weights(2))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_save_and_load_without_pickles(tmp_path, name):
    model = build_model(name, in_channels=1, num_classes=10, image_size=28, seed=0).eval()
    save_model(model, tmp_path / "m.pt", meta={"acc": 0.5})
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["format"] == "moprune-model" and payload["meta"] == {"acc": 0.5}
    loaded = load_model(tmp_path / "m.pt").eval()
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(model(x), loaded(x))
    assert model_recipe(loaded) == model_recipe(model)


def test_model_options_reach_the_factory():
    model = build_model("mlp", in_channels=1, num_classes=10, image_size=28, hidden=[32])
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [32, 10]
    assert model_recipe(model)["args"] == {"hidden": [32]}


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 3))


def test_a_users_module_saves_and_loads_with_its_factory(tmp_path):
    from moprune.pruning import compact

    mine = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    assert build_model(mine, in_channels=1, num_classes=10, image_size=28) is mine
    save_model(mine, tmp_path / "m.pt", meta={"note": "mine"})
    with pytest.raises(MopruneError, match="holds the weights of a user's Sequential; give "
                       "factory="):
        load_model(tmp_path / "m.pt")
    back = load_model(tmp_path / "m.pt", factory=lambda: nn.Sequential(nn.Flatten(),
                                                                        nn.Linear(784, 10)))
    assert torch.equal(back[1].weight, mine[1].weight)
    with pytest.raises(MopruneError, match="its weights do not fit the module built for them"):
        load_model(tmp_path / "m.pt", factory=lambda: nn.Sequential(nn.Linear(784, 5)))

    # compacted: the file records the pruning history and the input shape, and a fresh
    # module from the factory is shrunk the same way before its weights go in
    net = _cnn()
    with torch.no_grad():
        net[0].weight[:3] = 0
        net[0].bias[:3] = -1.0  # ReLU(-1) = 0: three dead channels
    x = torch.randn(2, 1, 8, 8)
    small, report = compact(net, example_inputs=x)
    assert report.channels_removed == 3 and small[0].out_channels == 3
    save_model(small, tmp_path / "small.pt")
    loaded = load_model(tmp_path / "small.pt", factory=_cnn)
    assert loaded[0].out_channels == 3
    assert torch.allclose(loaded.eval()(x), net.eval()(x), atol=1e-6)


def test_a_users_recipe_is_not_built_by_name():
    from moprune.models.serialization import build_from_recipe

    with pytest.raises(MopruneError, match="a user's Sequential has no recipe to build it from"):
        build_from_recipe({"model": None, "module": "Sequential"})


def test_bad_names_and_options():
    with pytest.raises(UnknownNameError, match="unknown model 'lenet6'; known: lenet5"):
        build_model("lenet6", in_channels=1, num_classes=10, image_size=28)
    with pytest.raises(UnknownNameError, match="unknown torchvision model 'resnet19'"):
        build_model("torchvision:resnet19", in_channels=1, num_classes=10, image_size=28)
    with pytest.raises(ConfigError, match="bad options for model 'mlp'.*depth"):
        build_model("mlp", in_channels=1, num_classes=10, image_size=28, depth=3)


def test_load_rejects_other_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(MopruneError, match="is not a moprune model file"):
        load_model(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(MopruneError, match="is not a moprune model file"):
        load_model(tmp_path / "text.pt")
    with pytest.raises(MopruneError, match="does not exist"):
        load_model(tmp_path / "absent.pt")
