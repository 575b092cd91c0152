import math

import optuna
import pytest

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.hpo import DEFAULT_SPACE, SearchSpace, load_space


def test_yaml_space_parses_with_numbers_written_as_yaml_reads_them(tmp_path):
    f = tmp_path / "space.yaml"
    f.write_text("space:\n"
                 "  lr: {type: float, low: 1e-4, high: 1e-1, log: true}\n"  # '1e-4' is a string
                 "  warmup_epochs: {type: int, low: 0, high: 3}\n"
                 "  optimizer: {type: categorical, choices: [sgd, adam]}\n")
    space = load_space(f)
    assert space.names == ["lr", "warmup_epochs", "optimizer"]
    lr = space.params[0]
    assert (lr.low, lr.high, lr.log) == (1e-4, 1e-1, True)
    assert isinstance(space.distributions()["optimizer"],
                      optuna.distributions.CategoricalDistribution)


def test_decode_maps_the_unit_cube_onto_the_ranges():
    space = SearchSpace.from_dict({
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "momentum": {"type": "float", "low": 0.5, "high": 0.9},
        "warmup_epochs": {"type": "int", "low": 0, "high": 4},
        "batch_size": {"type": "categorical", "choices": [32, 64, 128]}})
    assert space.decode([0, 0, 0, 0]) == {"lr": pytest.approx(1e-4), "momentum": 0.5,
                                          "warmup_epochs": 0, "batch_size": 32}
    assert space.decode([1, 1, 1, 1]) == {"lr": pytest.approx(1e-2), "momentum": 0.9,
                                          "warmup_epochs": 4, "batch_size": 128}
    mid = space.decode([0.5, 0.5, 0.5, 0.5])
    assert mid["lr"] == pytest.approx(1e-3)  # the middle of a log range is its geometric mean
    assert mid["momentum"] == pytest.approx(0.7) and mid["warmup_epochs"] == 2
    assert mid["batch_size"] == 64


def test_apply_overrides_the_training_config_and_validates():
    config = DEFAULT_SPACE.apply(TrainConfig(), {"lr": 0.01, "batch_size": 64})
    assert config.lr == 0.01 and config.batch_size == 64 and config.epochs == 10
    with pytest.raises(ConfigError, match="do not make a valid training config"):
        DEFAULT_SPACE.apply(TrainConfig(), {"optimizer": "rmsprop"})


@pytest.mark.parametrize("spec, message", [
    ({"learning_rate": {"type": "float", "low": 0.1, "high": 1}}, "is not a training setting"),
    ({"lr": {"type": "normal", "low": 0.1, "high": 1}}, "type must be one of"),
    ({"lr": {"type": "float", "low": 1.0, "high": 0.1}}, "needs finite low <= high"),
    ({"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "log scale needs low > 0"),
    ({"lr": {"type": "float", "high": 0.1}}, "needs 'low' and 'high'"),
    ({"lr": {"type": "float", "low": "fast", "high": 0.1}}, "low must be a number"),
    ({"lr": {"type": "float", "low": 0.1, "high": 1, "step": 2}}, "unknown keys"),
    ({"batch_size": {"type": "categorical", "choices": []}}, "non-empty 'choices'"),
    ({"warmup_epochs": {"type": "int", "low": 0.5, "high": 2}}, "int bounds must be integers"),
    ({"lr": 0.1}, "expected a mapping"),
    ({}, "at least one hyperparameter"),
    ({"epochs": {"type": "int", "low": 1, "high": 3}}, "is not a training setting"),
])
def test_bad_specs_are_rejected_with_clear_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        SearchSpace.from_dict(spec)


def test_round_trip_and_suggest_through_optuna():
    space = SearchSpace.from_dict(DEFAULT_SPACE.to_dict())
    assert space.to_dict() == DEFAULT_SPACE.to_dict()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = space.suggest(trial)
    assert set(values) == set(space.names)
    assert 1e-3 <= values["lr"] <= 0.3 and values["batch_size"] in (64, 128, 256)
    assert math.isfinite(values["weight_decay"])
