"""Run directories and YAML files of the flat-option era (``method: path``, ``budget: 20``,
``path_corrector: channel``, ...) load into the method objects, and resume."""

import json
from pathlib import Path

import pytest
import yaml

from moprune.config import TrainConfig, config_from_dict, config_to_dict
from moprune.errors import MopruneError
from moprune.front import FrontConfig, Grid
from moprune.front import Path as PathMethod
from moprune.rundir import RunDir
from moprune.runs.front import front_config
from tests.front.flat import new_args

ROOT = Path(__file__).parents[2]
OLD_FRONTS = sorted(p.parent for p in (ROOT / "docs" / "results").rglob("config.yaml")
                    if {"method", "complexity"} <= set(yaml.safe_load(p.read_text())))


def test_there_are_old_front_directories_to_read():
    assert len(OLD_FRONTS) >= 5


@pytest.mark.parametrize("run", OLD_FRONTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_an_old_front_directory_loads_and_its_guard_accepts_the_same_settings(run):
    old = yaml.safe_load((run / "config.yaml").read_text())
    config = front_config(run)
    assert config.method.name == old["method"] and config.method.runs == old["budget"]
    if old["method"] == "path":
        assert config.method.corrector == old["path_corrector"]
        assert config.method.start_lam == old["path_start_lam"]
    elif old["method"] == "grid":
        assert list(config.method.lams or []) == list(old["lams"] or [])
    # the front.json of that run records the method as the current code does
    meta = json.loads((run / "front.json").read_text())["meta"]
    assert {k: meta[k] for k in ("method", "budget")} == {
        "method": config.method.name, "budget": config.method.runs}
    # the resume guard: the same settings in the current form are accepted ...
    normalize = lambda d: config_to_dict(config_from_dict(FrontConfig, d))  # noqa: E731
    RunDir(run, config_to_dict(config), normalize=normalize).check()
    # ... and other settings refused, naming the setting (a method's option by its key)
    seed = old["train"]["seed"]
    other = config_from_dict(FrontConfig, {**old, "train": {**old["train"], "seed": seed + 1}})
    with pytest.raises(MopruneError, match=f"train.seed is {seed} there, {seed + 1} now"):
        RunDir(run, config_to_dict(other), normalize=normalize).check()
    if old["method"] == "path":
        other = config_from_dict(FrontConfig, {**old, "path_start_lam": 0.33})
        with pytest.raises(MopruneError, match="method.start_lam is .* there, 0.33 now"):
            RunDir(run, config_to_dict(other), normalize=normalize).check()


def test_flat_and_nested_yaml_give_the_same_config():
    flat = {"method": "path", "budget": 12, "path_corrector": "channel",
            "complexity": "flops", "knee_epochs": 4, "lams": None, "smgd_variant": "sgd",
            "explore_epochs": None, "train": {"epochs": 5}}
    nested = {"method": {"name": "path", "points": 12, "corrector": "channel",
                         "knee_epochs": 4}, "complexity": "flops", "train": {"epochs": 5}}
    a, b = (config_from_dict(FrontConfig, v) for v in (flat, nested))
    assert a == b and a.method == PathMethod(points=12, corrector="channel", knee_epochs=4)
    # written back in the nested form, read again the same
    assert config_from_dict(FrontConfig, config_to_dict(a)) == a
    assert config_to_dict(a)["method"]["name"] == "path"


def test_a_front_json_without_method_options_resumes(synthetic_data, tmp_path, monkeypatch):
    """front.json of the flat era has no ``method_options``: resumed, not retrained."""
    kw = new_args(model="lenet5", data=synthetic_data, method="grid", lams=[0.0, 1.0],
                  budget=2, train_config=TrainConfig(lr=0.05, batch_size=32, epochs=1),
                  out_dir=tmp_path)
    from moprune.front import train_front

    front = train_front(**kw)
    assert kw["method"] == Grid(budget=2, lams=(0.0, 1.0))
    saved = json.loads((tmp_path / "front.json").read_text())
    del saved["meta"]["method_options"]
    (tmp_path / "front.json").write_text(json.dumps(saved))

    def no_training(*args, **kwargs):
        raise AssertionError("a finished point was trained again")

    monkeypatch.setattr("moprune.front.measure.train", no_training)
    assert train_front(**kw).to_dict()["points"] == front.to_dict()["points"]
