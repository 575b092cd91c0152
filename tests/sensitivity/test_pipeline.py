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


def test_sensitivity_end_to_end_with_seeds_resume_and_more_seeds(synthetic_root, tmp_path):
    data = DataConfig(data_root=str(synthetic_root), val_fraction=0.2)
    train = TrainConfig(epochs=1, batch_size=32, seed=5)
    settings = SensitivitySettings(levels=(0.5,), grid_size=2, hpo_trials=2, seeds=2,
                                   bootstrap=100)
    result = run_sensitivity("lenet5", data, train=train, space=DEFAULT_SPACE, settings=settings,
                             out=tmp_path)
    report = result.to_dict()
    assert result.summary == report["answer"]["summary"] and result.out == tmp_path
    assert set(result.moves) == {"lr", "weight_decay"} and result.seeds == report["seeds"]
    assert set(report["landscapes"]) == {"base", "keep-0.5"}
    assert np.array(report["landscapes"]["base"]).shape == (2, 2)
    runs = np.array(report["runs"]["keep-0.5"])
    assert runs.shape == (2, 2, 2)  # seeds x grid
    assert np.allclose(runs.mean(axis=0), report["landscapes"]["keep-0.5"])
    assert report["seeds"] == [6, 7]
    grid = report["grid"]
    assert grid["names"] == ["lr", "weight_decay"]
    assert grid["values"][0][0] == pytest.approx(report["optimum"]["lr"] / 10)
    net = report["networks"]["keep-0.5"]
    assert net["flops"] <= 0.5 * report["networks"]["base"]["flops"] * 1.05
    assert load_model(tmp_path / "networks" / "keep-0.5.pt")  # loads without pickled code
    c = report["comparisons"]["keep-0.5"]
    assert {"wasserstein_decades", "jensen_shannon", "best_shift_decades", "spearman_rho",
            "regret_points", "interval"} <= set(c)
    low, high = c["interval"]["regret_points"]
    assert low <= high
    assert set(c["interval"]["wasserstein_decades"]) == {"lr", "weight_decay"}
    assert np.array(report["diverged"]["base"]).shape == (2, 2)
    assert 0 <= report["divergence_rate"]["base"] <= 1
    assert report["temperature"]["source"] != "given" and report["temperature"]["value"] > 0
    assert report["answer"]["summary"]
    for png in ("landscapes.png", "distances.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"

    # the base landscape is measured anew: no grid training uses the HPO's seed, and every
    # (cell, seed) is one trial of its network's study, run exactly once
    hpo = _journal(tmp_path, "hpo-base").trials
    assert len(hpo) == 2 and "seed" not in hpo[0].user_attrs
    for name in ("cells-base", "cells-keep-0.5"):
        cells = _journal(tmp_path, name).trials
        assert sorted(t.user_attrs["eval_index"] for t in cells) == list(range(8))
        assert sorted(t.user_attrs["seed"] for t in cells) == [6] * 4 + [7] * 4
        assert all(t.state == TrialState.COMPLETE for t in cells)

    # resuming trains nothing again and gives the same report
    again = run_sensitivity("lenet5", data, train=train, space=DEFAULT_SPACE, settings=settings,
                             out=tmp_path).to_dict()
    assert again["runs"] == report["runs"]
    assert len(_journal(tmp_path, "cells-base").trials) == 8
    assert len(_journal(tmp_path, "hpo-base").trials) == 2
    assert json.loads((tmp_path / "sensitivity.json").read_text())["optimum"] == \
        report["optimum"]

    # one more seed trains only its own cells, and keeps the first two seeds' values
    more = run_sensitivity("lenet5", data, train=train, space=DEFAULT_SPACE,
                           settings=SensitivitySettings(levels=(0.5,), grid_size=2,
                                                        hpo_trials=2, seeds=3, bootstrap=100),
                           out=tmp_path).to_dict()
    assert more["seeds"] == [6, 7, 8]
    assert more["runs"]["base"][:2] == report["runs"]["base"]
    assert len(_journal(tmp_path, "cells-base").trials) == 12


def test_a_grid_trial_trains_with_its_seed(synthetic_root):
    """An enqueued trial's ``seed`` attribute is the seed its network is drawn with."""
    from moprune.data import prepare_data
    from moprune.hpo import SearchSpace
    from moprune.hpo.objective import TrialObjective
    from moprune.models import build_model

    splits = prepare_data(DataConfig(data_root=str(synthetic_root), val_fraction=0.2))
    seen = []

    def factory(seed):
        seen.append(seed)
        return build_model("mlp", in_channels=1, num_classes=splits.num_classes,
                           image_size=splits.image_size, seed=seed)

    space = SearchSpace.from_dict({"lr": {"type": "categorical", "choices": [0.01]}})
    objective = TrialObjective(factory, splits, TrainConfig(epochs=1, seed=3), space)
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"lr": 0.01}, user_attrs={"seed": 11})
    study.enqueue_trial({"lr": 0.01})
    study.optimize(objective, n_trials=2)
    assert seen == [11, 3]


@pytest.mark.parametrize("kwargs, message", [
    ({"levels": (0.8, 1.5)}, "levels are kept shares of FLOPs in \\(0, 1\\]"),
    ({"levels": (0.0,)}, "levels are kept shares of FLOPs in \\(0, 1\\]"),
    ({"levels": ()}, "at least one pruning level"),
    ({"grid_size": 1}, "grid_size must be an integer >= 2"),
    ({"temperature": 0.0}, "temperature must be a number > 0, got 0.0"),
    ({"seeds": 0}, "seeds must be an integer >= 1"),
    ({"bootstrap": 10}, "bootstrap must be an integer >= 100"),
    ({"span": -1.0}, "span must be a number > 0"),
    ({"init": "lottery"}, "init must be one of"),
    ({"params": ("lr", "lr")}, "distinct hyperparameters"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SensitivitySettings(**kwargs)


def test_grid_parameters_must_be_log_scaled(synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match="'momentum' must be a log-scaled float"):
        run_sensitivity("lenet5", DataConfig(data_root=str(synthetic_root)), train=TrainConfig(),
                        space=DEFAULT_SPACE,
                        settings=SensitivitySettings(params=("lr", "momentum")), out=tmp_path)
