"""docs/examples/own_module.py: a user's module and tensors through the whole library."""

import importlib.util
import json
from pathlib import Path

import torch

import moprune
from moprune.hpo.objective import fresh_model

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "own_module.py"


def _example():
    spec = importlib.util.spec_from_file_location("own_module", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_own_module_from_tensors_to_a_tuned_knee(tmp_path, monkeypatch):
    example = _example()
    starts = []
    real_train = moprune.hpo.objective.train

    def spy(model, *args, **kwargs):  # every trial's network as it starts training
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr("moprune.hpo.objective.train", spy)
    result = example.main(str(tmp_path))
    assert isinstance(result, moprune.HPOResult)
    assert sum(t["state"] == "complete" for t in result.trials) == 4
    assert set(result.best_params) >= {"lr", "weight_decay"} and 0 <= result.val_acc <= 1
    assert result.seconds["total"] > 0 and (tmp_path / "hpo" / "results.json").is_file()
    assert result.to_dict()["proxy"]["model"] == "Sequential"

    # the compacted knee saved and loaded back through the user's factory
    small = moprune.load_model(tmp_path / "knee-compact.pt", factory=example.make_net)
    front = moprune.Front.load(tmp_path / "front" / "front.json")
    knee = front.knee("chord", axes="kept")
    x = torch.randn(3, 1, 12, 12)
    dense = front.model(knee, factory=example.make_net).eval()
    assert torch.allclose(small.eval()(x), dense(x), atol=1e-5)  # compaction kept the function
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel()
                                                            for p in dense.parameters())

    # every trial started from fresh weights of the knee's shape, drawn with its seed
    # (the trial seed, 0), never the knee's trained weights nor a previous trial's
    assert len(starts) == 4
    fresh0 = fresh_model({"model": small}, in_channels=1, num_classes=4, image_size=12,
                         seed=0).state_dict()
    fresh1 = fresh_model({"model": small}, in_channels=1, num_classes=4, image_size=12,
                         seed=1).state_dict()
    for start in starts:
        assert all(torch.equal(start[k], fresh0[k]) for k in fresh0)
        assert all(start[k].shape == v.shape for k, v in small.state_dict().items())
        assert not torch.equal(start["1.weight"], small.state_dict()["1.weight"])
    assert not torch.equal(fresh0["1.weight"], fresh1["1.weight"])  # other seed, other draw


def test_own_cnn_shrinks_by_the_default_recipe(tmp_path):
    """docs/examples/own_cnn.py: the recipe makes a CNN of the user's physically smaller
    (fewer channels, fewer FLOPs), and the tuned result is judged against the defaults."""
    spec = importlib.util.spec_from_file_location(
        "own_cnn", EXAMPLE.parent / "own_cnn.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(str(tmp_path))
    raw = result.to_dict()
    knee = json.loads(next((tmp_path / "proxy").glob("knee-*-compact.json")).read_text())
    assert knee["after"]["flops_per_image"] < 0.5 * knee["before"]["flops_per_image"]
    assert knee["after"]["parameters"] < knee["before"]["parameters"]
    assert raw["default"]["val_acc"] is not None and raw["proxy_decision"]["reason"]
    assert {v["stage"] for v in raw["verdicts"]} >= {"tuning"}
