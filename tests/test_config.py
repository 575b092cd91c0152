import pytest

from moprune.config import (
    DataConfig,
    RunConfig,
    TrainConfig,
    config_from_dict,
    dump_config,
    load_config_file,
)
from moprune.errors import ConfigError


def test_roundtrip_through_yaml(tmp_path):
    config = RunConfig(model="mlp", model_args={"hidden": [64]},
                       data=DataConfig(limit_train=100), train=TrainConfig(epochs=3, lr=0.1))
    dump_config(config, tmp_path / "c.yaml")
    assert config_from_dict(RunConfig, load_config_file(tmp_path / "c.yaml")) == config


def test_partial_file_keeps_defaults(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  epochs: 2\ndata:\n")
    config = config_from_dict(RunConfig, load_config_file(tmp_path / "c.yaml"))
    assert config.train.epochs == 2
    assert config.train.lr == TrainConfig().lr
    assert config.data == DataConfig()


def test_int_accepted_for_float():
    assert config_from_dict(TrainConfig, {"lr": 1}).lr == 1.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train": {"epochs": -1}}, "epochs must be an integer >= 0, got -1"),
        ({"train": {"lr": float("nan")}}, "lr must be a number > 0, got nan"),
        ({"train": {"device": "cuda:abc"}}, "device must be auto, cpu, cuda or cuda:N"),
        ({"train": {"epoch": 1}}, "unknown key 'train.epoch'"),
        ({"train": {"epochs": "ten"}}, "train.epochs in config must be of type int, got 'ten'"),
        ({"train": {"optimizer": "lbfgs"}}, "optimizer must be one of .* got 'lbfgs'"),
        ({"data": {"val_fraction": 1.5}}, r"val_fraction must be a number > 0 and < 1, got 1.5"),
        ({"data": {"limit_train": 0}}, "limit_train must be an integer >= 1, got 0"),
        ({"train": 3}, "train in config must be a mapping, got 3"),
    ],
)
def test_bad_values_name_the_value(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(RunConfig, values)


def test_malformed_yaml_is_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: [1\n")
    with pytest.raises(ConfigError, match="malformed config file .*bad.yaml.* at line") as e:
        load_config_file(path)
    assert "\n" not in str(e.value)


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yaml"):
        load_config_file(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config_file(tmp_path / "list.yaml")


def test_the_experiment_configs_parse():
    from pathlib import Path

    from moprune.config import RunConfig, config_from_dict, load_config_file
    from moprune.front import FrontConfig
    from moprune.hpo import load_space

    files = sorted(Path(__file__).parents[1].glob("experiments/*/configs/*.yaml"))
    assert files
    for f in files:
        if f.stem == "space":
            assert load_space(f).names
        else:
            cls = FrontConfig if f.stem.endswith("front") else RunConfig
            config_from_dict(cls, load_config_file(f), where=str(f))
