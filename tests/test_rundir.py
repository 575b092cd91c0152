import pytest

from moprune.errors import MopruneError
from moprune.rundir import RunDir, settings_diff


def test_a_rerun_with_other_settings_is_refused_naming_the_setting(tmp_path):
    RunDir(tmp_path, {"train": {"lr": 0.05, "epochs": 10}, "budget": 8}).write()
    text = (tmp_path / "config.yaml").read_text()
    with pytest.raises(MopruneError, match=r"train.lr is 0.05 there, 0.1 now \(and 1 more\)"):
        RunDir(tmp_path, {"train": {"lr": 0.1, "epochs": 11}, "budget": 8}).check()
    assert (tmp_path / "config.yaml").read_text() == text
    # a setting that may change is accepted and written
    run = RunDir(tmp_path, {"train": {"lr": 0.05, "epochs": 10}, "budget": 9},
                 may_differ=("budget",))
    run.check()
    run.write()
    assert "budget: 9" in (tmp_path / "config.yaml").read_text()


def test_unchanged_settings_are_not_rewritten(tmp_path):
    run = RunDir(tmp_path, {"a": (1, 2)})
    run.write()
    mtime = (tmp_path / "config.yaml").stat().st_mtime_ns
    run.check()
    run.write()
    assert (tmp_path / "config.yaml").stat().st_mtime_ns == mtime


def test_settings_added_since_compare_with_their_default():
    old = {"data": {"limit_train": 100}}
    new = {"data": {"limit_train": 100, "test_fraction": 0.1}}
    assert settings_diff(old, new, defaults={"data": {"test_fraction": 0.1}}) == []
    assert settings_diff(old, new) == []  # no default known: ignored
    assert settings_diff(old, {"data": {"limit_train": 100, "test_fraction": 0.2}},
                         defaults={"data": {"test_fraction": 0.1}}) == [
        ("data.test_fraction", 0.1, 0.2)]


def test_legacy_json_settings_and_damaged_yaml(tmp_path):
    (tmp_path / "hpo.json").write_text('{"top_k": 3, "study": {"sampler": "tpe"}}')
    with pytest.raises(MopruneError, match="study.sampler is 'tpe' there, 'gp' now"):
        RunDir(tmp_path, {"study": {"sampler": "gp"}}, legacy=("hpo.json",)).check()
    (tmp_path / "config.yaml").write_text("a: [1, 2\n")
    with pytest.raises(MopruneError, match="config.yaml' is damaged"):
        RunDir(tmp_path, {"a": 1}).check()
