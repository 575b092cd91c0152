import copy
import json
from dataclasses import replace

import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError, MopruneError
from moprune.front import Front, Grid, measure_point, train_front
from moprune.models import load_model
from moprune.models.serialization import read_model_file
from tests.front.flat import new_args

FAST = TrainConfig(lr=0.05, batch_size=32)


def _front(data, tmp_path=None, **kw):
    """A small front; ``epochs`` and ``seed`` go into the train config."""
    config = replace(kw.pop("train_config", FAST), epochs=kw.pop("epochs", 1),
                     seed=kw.pop("seed", 0))
    args = dict(model="lenet5", data=data, method="grid", budget=3, train_config=config,
                out_dir=tmp_path)
    if kw.get("method", "grid") == "grid":
        args["lams"] = [0.0, 0.9, 1.0]
    return train_front(**new_args(**{**args, **kw}))


def test_grid_front_writes_points_and_resumes(synthetic_data, tmp_path, monkeypatch):
    front = _front(synthetic_data, tmp_path)
    assert [p.lam for p in front] == [0.0, 0.9, 1.0]
    assert front.get("weighted-sum-lam1-e1").kept == 0.0
    for p in front:
        assert torch.load(tmp_path / p.checkpoint, weights_only=True)["format"] == "moprune-model"
        # the point measures the saved network
        again = measure_point(load_model(tmp_path / p.checkpoint), synthetic_data,
                              method=p.method, lam=p.lam)
        assert (again.f1, again.f2, again.zeros, again.test_acc) == pytest.approx(
            (p.f1, p.f2, p.zeros, p.test_acc))
    assert Front.load(tmp_path / "front.json").to_dict() == front.to_dict()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished point was trained again")

    monkeypatch.setattr("moprune.front.measure.train", no_training)
    again = _front(synthetic_data, tmp_path)
    assert again.to_dict() == front.to_dict()


def test_same_seed_same_front(synthetic_data):
    a, b = _front(synthetic_data), _front(synthetic_data)
    assert [(p.f1, p.f2, p.zeros) for p in a] == [(p.f1, p.f2, p.zeros) for p in b]
    c = _front(synthetic_data, seed=1)
    assert [(p.f1, p.f2) for p in a] != [(p.f1, p.f2) for p in c]


def test_knee_is_retrained_for_the_full_epochs(synthetic_data, tmp_path):
    front = _front(synthetic_data, tmp_path, method="dichotomic", lams=None, budget=4,
                   epochs=2, explore_epochs=1)
    search = front.search_points
    assert len(search) == 4 and all(p.epochs == 1 for p in search)
    knee = front.knee("chord")
    final = front.final_version(knee)
    assert final is not knee and final.retrained and final.epochs == 2
    assert final.lam == knee.lam


@pytest.mark.parametrize("variant", ["sgd", "adam"])
def test_smgd_front_is_one_point_per_seed(synthetic_data, variant):
    config = FAST if variant == "sgd" else TrainConfig(optimizer="adam", lr=1e-3)
    front = _front(synthetic_data, method="smgd", budget=2, smgd_variant=variant,
                   train_config=config)
    assert [p.seed for p in front] == [0, 1]
    assert all(p.lam is None and 0 <= p.extras["alpha"] <= 1 for p in front)
    assert front.points[0].method == ("smgd" if variant == "sgd" else "smgd-adam")


def test_user_module_and_group_l1(synthetic_data, tmp_path):
    mine = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 10))
    front = _front(synthetic_data, tmp_path, model=mine, complexity="group-l1",
                   lams=[0.0, 0.99])
    assert len(front) == 2 and front.meta["model"] == "Sequential"
    payload = read_model_file(tmp_path / front.points[0].checkpoint)
    assert payload["recipe"] == {"model": None, "module": "Sequential"}
    assert set(payload["state_dict"]) == {"1.weight", "1.bias", "3.weight", "3.bias"}
    assert json.loads((tmp_path / "front.json").read_text())["meta"]["complexity"] == "group-l1"
    # the front gives each point's trained network, in a fresh module of the user's kind
    sparse = front.points[1]
    net = front.model(sparse)
    assert isinstance(net, torch.nn.Sequential) and net is not mine
    assert int(sum((p == 0).sum() for p in net.parameters())) >= sparse.zeros > 0
    assert torch.equal(net[1].weight, payload_of(tmp_path, sparse)["1.weight"])
    # read back from disk, the module's factory is needed, and said so in one line
    loaded = Front.load(tmp_path / "front.json")
    with pytest.raises(MopruneError, match="holds the weights of a user's Sequential; give "
                       "factory="):
        loaded.model(sparse.key)
    again = loaded.model(sparse.key, factory=lambda: copy.deepcopy(mine))
    assert torch.equal(again[1].weight, net[1].weight)


def payload_of(root, point):
    return read_model_file(root / point.checkpoint)["state_dict"]


def test_a_front_without_out_dir_still_holds_its_networks(synthetic_data):
    front = _front(synthetic_data)
    assert front.root is not None and front.root.is_dir()
    net = front.model(front.points[-1])
    assert sum(p.numel() for p in net.parameters()) > 0
    with pytest.raises(MopruneError, match="the front has no point 'nope'"):
        front.model("nope")


def test_a_seed_in_two_places_must_agree(synthetic_data):
    with pytest.raises(ConfigError, match="seed=2 and train.seed=0 disagree"):
        train_front("lenet5", synthetic_data, method=Grid(budget=2, lams=(0.0, 1.0)), seed=2,
                    train=replace(FAST, epochs=1))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"method": "pareto"}, "unknown front method .pareto.; known: "),
        ({"epochs": 0}, "epochs must be >= 1, got 0"),
        ({"epochs": 2, "explore_epochs": 3}, "explore_epochs must be <= train.epochs \\(2\\)"),
        ({"method": "dichotomic", "budget": 1},
         "budget of the dichotomic method must be an integer >= 2, got 1"),
        ({"complexity": "l0"}, "complexity must be one of"),
    ],
)
def test_bad_arguments(synthetic_data, kw, message):
    with pytest.raises(ConfigError, match=message):
        _front(synthetic_data, **kw)


def test_a_users_module_is_reinitialised_so_its_own_weights_do_not_matter(synthetic_data):
    """Two instances of one architecture (different weights): the same front, and the
    instances themselves are not trained."""
    def net():
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 16),
                                   torch.nn.ReLU(), torch.nn.Linear(16, 10))

    torch.manual_seed(1)
    a = net()
    torch.manual_seed(2)
    b = net()
    before = a[1].weight.clone()
    fa, fb = (_front(synthetic_data, model=m, lams=[0.0, 0.9]) for m in (a, b))
    assert [(p.f1, p.f2) for p in fa] == [(p.f1, p.f2) for p in fb]
    assert torch.equal(a[1].weight, before)


@pytest.mark.parametrize("method", ["dichotomic", "grid", "bisection", "smgd", "path"])
def test_every_method_records_the_flops_share_and_picks_a_flops_knee(synthetic_data,
                                                                     tmp_path, method):
    extra = {"lams": [0.0, 1.0]} if method == "grid" else {}
    front = _front(synthetic_data, tmp_path, method=method, budget=2, complexity="flops",
                   knee_axes="flops", **extra)
    assert front.meta["knee_axes"] == "flops"
    assert all(p.flops_share is not None and 0.0 <= p.flops_share <= 1.0 for p in front)
    knee = front.knee("chord", axes="flops")
    # the same share as the saved network measured again
    again = measure_point(load_model(tmp_path / knee.checkpoint), synthetic_data,
                          method=knee.method, complexity="flops")
    assert again.flops_share == pytest.approx(knee.flops_share)


def test_a_flops_knee_of_a_front_made_before_flops_were_measured_is_one_line(synthetic_data,
                                                                            tmp_path):
    _front(synthetic_data, tmp_path, method="grid", lams=[0.0, 1.0], budget=2)
    saved = json.loads((tmp_path / "front.json").read_text())
    for point in saved["points"]:
        point.pop("flops_share", None)  # as an older moprune wrote it
    (tmp_path / "front.json").write_text(json.dumps(saved))
    with pytest.raises(MopruneError, match=r"has no FLOPs share \(made before moprune "
                                           r"measured it\)"):
        Front.load(tmp_path / "front.json").knee("chord", axes="flops")
