import json

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from moprune.config import DataConfig, TrainConfig
from moprune.errors import ConfigError
from moprune.hpo import DEFAULT_SPACE
from moprune.models import load_model
from moprune.sensitivity import SensitivitySettings, run_sensitivity


def _journal(out, name):
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def test_sensitivity_end_to_end_and_resume(synthetic_root, tmp_path):
    data = DataConfig(data_root=str(synthetic_root), val_fraction=0.2)
    train = TrainConfig(epochs=1, batch_size=32)
    settings = SensitivitySettings(levels=(0.5,), grid_size=2, hpo_trials=2)
    report = run_sensitivity("lenet5", data, train, DEFAULT_SPACE, settings, tmp_path)
    assert set(report["landscapes"]) == {"base", "keep-0.5"}
    assert np.array(report["landscapes"]["base"]).shape == (2, 2)
    grid = report["grid"]
    assert grid["names"] == ["lr", "weight_decay"]
    assert grid["values"][0][0] == pytest.approx(report["optimum"]["lr"] / 10)
    net = report["networks"]["keep-0.5"]
    assert net["flops"] <= 0.5 * report["networks"]["base"]["flops"] * 1.05
    assert load_model(tmp_path / "networks" / "keep-0.5.pt")  # loads without pickled code
    c = report["comparisons"]["keep-0.5"]
    assert {"wasserstein_decades", "jensen_shannon", "best_shift_decades", "spearman_rho",
            "regret_points"} <= set(c)
    assert report["answer"]["summary"]
    for png in ("landscapes.png", "distances.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    # every grid cell is one trial of its network's study, run exactly once
    cells = _journal(tmp_path, "grid-keep-0.5").trials
    assert sorted(t.user_attrs["eval_index"] for t in cells) == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in cells)
    # resuming trains nothing again and gives the same report
    again = run_sensitivity("lenet5", data, train, DEFAULT_SPACE, settings, tmp_path)
    assert again["landscapes"] == report["landscapes"]
    assert len(_journal(tmp_path, "grid-base").trials) == 4
    assert json.loads((tmp_path / "sensitivity.json").read_text())["optimum"] == \
        report["optimum"]


@pytest.mark.parametrize("kwargs, message", [
    ({"levels": (0.8, 1.5)}, "levels are kept shares of FLOPs in \\(0, 1\\]"),
    ({"levels": (0.0,)}, "levels are kept shares of FLOPs in \\(0, 1\\]"),
    ({"levels": ()}, "at least one pruning level"),
    ({"grid_size": 1}, "grid_size must be an integer >= 2"),
    ({"temperature": 0.0}, "temperature must be a number > 0, got 0.0"),
    ({"span": -1.0}, "span must be a number > 0"),
    ({"init": "lottery"}, "init must be one of"),
    ({"params": ("lr", "lr")}, "distinct hyperparameters"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SensitivitySettings(**kwargs)


def test_grid_parameters_must_be_log_scaled(synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match="'momentum' must be a log-scaled float"):
        run_sensitivity("lenet5", DataConfig(data_root=str(synthetic_root)), TrainConfig(),
                        DEFAULT_SPACE, SensitivitySettings(params=("lr", "momentum")), tmp_path)
