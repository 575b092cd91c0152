"""`moprune run`: the whole pipeline from one config, resumable stage by stage."""

import json

import pytest

from moprune.cli import main
from moprune.config import config_from_dict
from moprune.errors import ConfigError, MopruneError
from moprune.pipeline import PipelineConfig, run_pipeline


def _config(root, **hpo):
    return config_from_dict(PipelineConfig, {
        "front": {"model": "lenet5", "method": "path", "budget": 3, "prox": True,
                  "data": {"data_root": str(root), "val_fraction": 0.2},
                  "train": {"epochs": 2, "batch_size": 32}},
        "hpo": {"trials": 2, "epochs": 1, "sampler": "random", "top_k": 1, "proxy": "knee",
                **hpo}})


def test_run_pipeline_makes_every_stage_and_resumes(synthetic_root, tmp_path, monkeypatch):
    out = tmp_path / "run"
    result = run_pipeline(_config(synthetic_root), out)
    assert set(result.seconds) == {"front", "knee", "compact", "hpo"}
    assert result.compaction["after"]["parameters"] <= result.compaction["before"]["parameters"]
    assert result.hpo["trials"] == 2 and 0 <= result.hpo["val_acc"] <= 1
    # the proxy's creation (the front's trainings and the compaction) is counted
    assert {"proxy_front", "proxy_compaction"} <= set(result.hpo["seconds"])
    report = (out / "report.md").read_text()
    for section in ("**Verdict: ", "## Networks", "dense, default hyperparameters",
                    "knee compacted", "dense, tuned hyperparameters", "## Proxy HPO",
                    "## Front", "## Seconds per stage", "front/front.png", "hpo/hpo.png"):
        assert section in report
    # every stage's verdict, each in the report with its finding
    assert [v["stage"] for v in result.verdicts][:3] == ["front", "knee", "compaction"]
    for v in result.verdicts:
        assert v["finding"] in report
    assert (out / "front" / "knee-chord-compact.pt").is_file()
    stages = json.loads((out / "stages.json").read_text())
    assert list(stages) == ["front", "knee", "compact", "hpo"]

    def no_training(*args, **kwargs):
        raise AssertionError("a finished stage was run again")

    for where in ("moprune.front.debiasing.train", "moprune.hpo.objective.train",
                  "moprune.hpo.transfer.train", "moprune.pipeline._compact"):
        monkeypatch.setattr(where, no_training)
    again = run_pipeline(_config(synthetic_root), out)
    assert again.to_dict() == result.to_dict()
    with pytest.raises(MopruneError, match="hpo.trials is 2 there, 3 now"):
        run_pipeline(_config(synthetic_root, trials=3), out)


def test_run_command_reads_a_yaml_file_and_names_bad_keys(synthetic_root, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("front: {model: lenet5}\nhpo: {trials: 2, epoch: 1}\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "unknown key 'hpo.epoch'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="hpo.backend must be one of"):
        config_from_dict(PipelineConfig, {"hpo": {"backend": "ray"}})
    assert not (tmp_path / "r").exists()


def test_hpo_stage_checks_the_knee_proxy_settings():
    from moprune.pipeline import HPOStage

    assert HPOStage(proxy="knee", flops_floor=0.2, lr_transfer="mup").flops_floor == 0.2
    with pytest.raises(ConfigError, match=r"hpo.flops_floor must be in \[0, 1\)"):
        HPOStage(proxy="knee", flops_floor=1.0)
    with pytest.raises(ConfigError, match="they need hpo.proxy knee, not 'auto'"):
        HPOStage(flops_floor=0.2)
    with pytest.raises(ConfigError, match="hpo.proxy must be auto, knee, none or uniform"):
        HPOStage(proxy="front")
    with pytest.raises(ConfigError, match="hpo.lr_transfer must be one of"):
        HPOStage(lr_transfer="sp")


def test_run_pipeline_with_a_users_module_and_tensors(tmp_path):
    """The whole pipeline on an nn.Sequential and tensors: no registered name, no dataset."""
    import torch
    from torch import nn

    from moprune import from_tensors

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (400,), generator=g)
    x = torch.randn(400, 1, 12, 12, generator=g)
    for c, (r, s) in enumerate([(0, 0), (0, 6), (6, 0), (6, 6)]):
        x[y == c, 0, r:r + 6, s:s + 6] += 0.8
    data = from_tensors(x, y, val_fraction=0.2, seed=0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(144, 48), nn.ReLU(), nn.Linear(48, 4))
    config = config_from_dict(PipelineConfig, {
        "front": {"method": "path", "budget": 4, "prox": True, "complexity": "group-l1",
                  "path_start_lam": 0.99, "train": {"epochs": 4, "batch_size": 32}},
        "hpo": {"trials": 2, "epochs": 1, "sampler": "random", "top_k": 1, "proxy": "knee"}})
    result = run_pipeline(config, tmp_path / "run", model=net, data=data)
    assert result.compaction["after"]["parameters"] <= result.compaction["before"]["parameters"]
    trials = json.loads((tmp_path / "run" / "hpo" / "results.json").read_text())["trials"]
    assert [t["parameters"] for t in trials] == [result.compaction["after"]["parameters"]] * 2
    assert "proxy_front" in result.hpo["seconds"]  # the front counted as creation
    assert "module:Sequential" in (tmp_path / "run" / "report.md").read_text()
    assert all(p.grad is None for p in net.parameters())  # the user's module: never trained


@pytest.mark.slow
def test_moprune_run_killed_at_random_ends_as_an_uninterrupted_run(tmp_path):
    """benchmarks/run_faults.py on a small pipeline: `moprune run` SIGKILLed 4 times at
    random, resumed each time; its report.md (timings masked), JSON results and every model
    file are the uninterrupted run's."""
    from benchmarks.run_faults import compare, run_with_kills, timed_run
    from tests.conftest import write_idx

    root = write_idx(tmp_path / "data", n_train=3000, n_test=200)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({
        "front": {"model": "lenet5", "method": "path", "budget": 6, "prox": True,
                  "data": {"data_root": str(root)}, "train": {"epochs": 4}},
        "hpo": {"trials": 6, "epochs": 1, "top_k": 2}}))
    startup, total = timed_run(config, tmp_path / "reference")
    kills = run_with_kills(config, tmp_path / "killed", kills=4, startup=startup,
                           work=total - startup, seed=1)
    assert len(kills) >= 2, kills  # (a start may end before its kill)
    result = compare(tmp_path / "reference", tmp_path / "killed")
    assert result["identical"], result
    assert result["models"] >= 3 and result["json"] >= 5


@pytest.mark.slow
def test_hpo_workers_killed_at_random_finish_the_study(tmp_path):
    """benchmarks/hpo_faults.py --workers: `moprune hpo --workers 2` with its workers (or,
    when none is left, itself) SIGKILLed 3 times: exit 0, exactly the budget counted,
    nothing trained twice, every killed worker reaped, no zombie."""
    from benchmarks.hpo_faults import run_worker_kills
    from tests.conftest import write_idx

    root = write_idx(tmp_path / "data", n_train=10000, n_test=100)  # trials of ~2 s
    counts = run_worker_kills(tmp_path / "run", trials=16, kills=3, kill_every=1.5,
                              data_root=str(root), limit_train=9000, epochs=4)
    assert counts["kill_count"] >= 2, counts
    assert counts["ok"] and counts["exit_code"] == 0, counts
    assert counts["counted"] == 16 and counts["configurations_trained_twice"] == 0
    assert not counts["zombies"] and not counts["not_reaped_within_2s"], counts


@pytest.mark.parametrize("bad,text", [
    ({"hpo": {"sampler": "bogus"}}, "hpo.sampler of the optuna backend must be one of"),
    ({"hpo": {"space": "missing.yaml"}}, "cannot read config file 'missing.yaml'"),
    ({"front": {"model": "torchvision:nosuchnet"}}, "unknown torchvision model 'nosuchnet'"),
])
def test_a_run_refused_by_a_later_stage_is_refused_before_it_writes(synthetic_root, tmp_path,
                                                                    monkeypatch, capsys,
                                                                    bad, text):
    """A setting only the HPO stage (or the front's network) would refuse is refused before
    config.yaml and the front are written, and the corrected config then runs there."""
    monkeypatch.chdir(tmp_path)
    good = {"front": {"method": "path", "budget": 2, "train": {"epochs": 1},
                      "data": {"data_root": str(synthetic_root), "val_fraction": 0.2}},
            "hpo": {"trials": 1, "epochs": 1, "top_k": 1}}
    config = {k: {**v, **bad.get(k, {})} for k, v in good.items()}
    (tmp_path / "bad.yaml").write_text(json.dumps(config))
    (tmp_path / "good.yaml").write_text(json.dumps(good))
    assert main(["run", "bad.yaml", "--out", "run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and text in err[0], err
    assert not (tmp_path / "run").exists()
    assert main(["run", "good.yaml", "--out", "run"]) in (0, 3)  # (3: a verdict failed)
    assert (tmp_path / "run" / "report.md").is_file()


def test_a_degenerate_pipeline_ends_with_its_verdicts_and_exit_3(synthetic_root, tmp_path,
                                                                 capsys):
    """The run the works-by-default issue found 'succeeding': an l1 path that cannot prune
    in its few steps (a knee keeping every weight, nothing compacted), its knee as the
    proxy. It now ends with exit 3, the problems in one line each and report.md's verdict."""
    config = tmp_path / "old.yaml"
    config.write_text(json.dumps({
        "front": {"model": "lenet5", "method": "path", "budget": 3, "prox": True,
                  "data": {"data_root": str(synthetic_root), "limit_train": 200},
                  "train": {"epochs": 1}},
        "hpo": {"trials": 2, "epochs": 1, "top_k": 1, "proxy": "knee"}}))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 3
    captured = capsys.readouterr()
    problems = [line for line in captured.err.splitlines() if "PROBLEM" in line]
    assert any(line.startswith("moprune: warning: knee: PROBLEM") for line in problems)
    assert any("compaction: PROBLEM" in line and "unstructured" in line for line in problems)
    assert "verdict: DEGENERATE" in captured.out
    report = (tmp_path / "run" / "report.md").read_text()
    assert report.splitlines()[2].startswith("**Verdict: DEGENERATE")
    assert "Do not use this result as it is" in report


def test_print_config_writes_every_default_and_it_loads_back(capsys, tmp_path):
    assert main(["run", "--print-config"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "all.yaml").write_text(text)
    from moprune.config import load_config_file

    loaded = config_from_dict(PipelineConfig, load_config_file(tmp_path / "all.yaml"))
    assert loaded == PipelineConfig()  # (every key there, the recipe's path among them)
    assert loaded.front.method.corrector == "channel" and loaded.hpo.proxy == "auto"
    assert main(["run", "--out", str(tmp_path / "r")]) == 2
    assert "run needs CONFIG and --out RUN_DIR" in capsys.readouterr().err


@pytest.mark.parametrize("example", sorted(
    (__import__("pathlib").Path(__file__).parents[1] / "examples").glob("*.yaml")),
    ids=lambda p: p.name)
def test_the_example_configs_load(example):
    from moprune.config import load_config_file

    config = config_from_dict(PipelineConfig, load_config_file(example), where=str(example))
    assert config.hpo.trials >= 1 and config.front.model
