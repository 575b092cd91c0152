import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from moprune.cli import main
from moprune.front import Front
from moprune.models import load_model


def run_cli(*args):
    """Run the real console entry in a subprocess; return (code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "moprune.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def cli(capsys):
    """``main()`` in this process (an error path needs no interpreter of its own): returns
    (code, stdout, stderr) of the call alone."""
    def call(*args):
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's own errors
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err
    return call


def test_the_console_entry_refuses_bad_input_with_one_line_and_exit_2(tmp_path):
    code, _, err = run_cli("train", "--epochs", "three", "--out", tmp_path / "run")
    assert code == 2 and "--epochs takes a int, got 'three'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_datasets_lists_fashion_mnist_as_available(fmnist_available, capsys):
    assert main(["datasets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["fashion-mnist"]["available"] is True
    assert {"mnist", "cifar10", "cifar100"} <= set(rows)


def test_models_lists_the_registry(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["lenet5"]["parameters"] == 61706
    assert rows["mlp"]["parameters"] == 266610
    assert {"vgg", "resnet20", "resnet56", "torchvision:<name>"} <= set(rows)


def test_train_writes_a_run_directory(tmp_path, synthetic_root, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("model: mlp\nmodel_args: {hidden: [32]}\ntrain:\n  epochs: 5\n  lr: 0.5\n")
    out = tmp_path / "run"
    code = main(["train", "--config", str(config), "--epochs", "2",
                 "--data-root", str(synthetic_root), "--out", str(out)])
    assert code == 0
    assert "val acc" in capsys.readouterr().out
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["train"]["epochs"] == 2  # the flag beats the file
    assert resolved["train"]["lr"] == 0.5  # the file beats the default
    assert resolved["model_args"] == {"hidden": [32]}
    results = json.loads((out / "results.json").read_text())
    assert len(results["history"]) == 2 and 0 <= results["test_acc"] <= 1
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = torch.load(out / "model.pt", weights_only=True)
    assert payload["recipe"]["args"] == {"hidden": [32]}
    load_model(out / "model.pt")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "lenet6"], "unknown model 'lenet6'"),
        (["--dataset", "svhn"], "unknown dataset 'svhn'"),
        (["--epochs", "-3"], "--epochs must be an integer >= 0, got '-3'"),
        (["--epochs", "three"], "--epochs takes a int, got 'three'"),
        (["--data-root", "/no/such/folder"], "--data-root '/no/such/folder' does not exist"),
        (["--config", "BAD"], "malformed config file"),
        (["--config", "UNKNOWN"], "unknown key 'train.epoch'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    (tmp_path / "bad.yaml").write_text("train: {epochs: [1}\n")
    (tmp_path / "unknown.yaml").write_text("train: {epoch: 1}\n")
    args = [{"BAD": tmp_path / "bad.yaml", "UNKNOWN": tmp_path / "unknown.yaml"}.get(a, a)
            for a in args]
    code, _, err = cli("train", "--out", tmp_path / "run", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_sigkilled_training_resumes_to_the_same_weights(tmp_path, synthetic_root):
    """A real SIGKILL after the first epoch's checkpoint, then the same command again."""
    from tests.conftest import write_idx

    root = write_idx(tmp_path / "big", n_train=6000, n_test=100)
    common = ["train", "--model", "lenet5", "--epochs", "4", "--data-root", root,
              "--device", "cpu"]
    code, _, err = run_cli(*common, "--out", tmp_path / "straight")
    assert code == 0, err

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "moprune.cli", *map(str, common),
                             "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    assert not (out / "results.json").exists()

    code, _, err = run_cli(*common, "--out", out)
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert results["resumed_from_epoch"] >= 1
    straight = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)["state_dict"]
    resumed = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_sigterm_stops_a_command_as_ctrl_c_does_and_it_resumes(tmp_path):
    """SIGTERM (a job scheduler, `kill`): one line, exit 143, the checkpoint kept; the same
    command then finishes from it."""
    from tests.conftest import write_idx

    root = write_idx(tmp_path / "big", n_train=6000, n_test=100)
    out = tmp_path / "run"
    common = ["train", "--model", "lenet5", "--epochs", "4", "--data-root", str(root),
              "--device", "cpu", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "moprune.cli", *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == ("moprune: terminated; run the same command again "
                                            "to resume")
    assert "Traceback" not in err and not (out / "results.json").exists()
    code, _, err = run_cli(*common)
    assert code == 0, err
    assert json.loads((out / "results.json").read_text())["resumed_from_epoch"] >= 1


def test_front_and_knee_commands(tmp_path, synthetic_root, capsys, cli):
    out = tmp_path / "front"
    args = ["front", "--model", "lenet5", "--data-root", str(synthetic_root), "--method",
            "dichotomic", "--budget", "4", "--epochs", "2", "--explore-epochs", "1",
            "--batch-size", "32", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "non-dominated" in printed and "chord knee" in printed
    front = json.loads((out / "front.json").read_text())
    assert len([p for p in front["points"] if not p["retrained"]]) == 4
    assert front["meta"]["knee"]["selector"] == "chord"
    assert (out / "front.png").read_bytes()[:4] == b"\x89PNG"
    assert yaml.safe_load((out / "config.yaml").read_text())["method"]["budget"] == 4

    assert main(["knee", str(out), "--selector", "angle"]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "sparsity" in printed and "parameters" in printed
    payload = torch.load(out / "knee-angle.pt", weights_only=True)
    assert payload["meta"]["selector"] == "angle"
    model = load_model(out / "knee-angle.pt")
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    summary = json.loads((out / "knee-angle.json").read_text())
    assert summary["point"]["epochs"] == 2  # retrained for the full epochs if needed

    # compaction of the knee: the same test accuracy, a smaller or equal network
    assert main(["compact", str(out), "--selector", "angle"]) == 0
    printed = capsys.readouterr().out
    assert "flops_per_image" in printed and "test_acc" in printed
    report = json.loads((out / "knee-angle-compact.json").read_text())
    assert report["after"]["test_acc"] == report["before"]["test_acc"]
    assert report["after"]["parameters"] <= report["before"]["parameters"]
    small = load_model(out / "knee-angle-compact.pt")
    assert small(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert main(["knee", str(out), "--selector", "slope", "--compact"]) == 0
    assert (out / "knee-slope-compact.pt").exists()
    assert main(["compact", str(out / "knee-slope.pt"), "--keep-flops", "0.5",
                 "--out", str(tmp_path / "half.pt")]) == 0
    half = json.loads((tmp_path / "half.json").read_text())
    assert half["after"]["flops_per_image"] <= 0.5 * half["before"]["flops_per_image"]

    # a larger budget continues the same run; other settings are refused
    assert main([*args[:-6], "--budget", "5", *args[-6:]]) == 0
    assert len([p for p in json.loads((out / "front.json").read_text())["points"]
                if not p["retrained"]]) == 5
    code, _, err = cli(*[a for a in args if a != "--batch-size" and a != "32"])
    assert code == 2
    assert "other settings: train.batch_size is 32 there, 128 now" in err


def test_path_front_with_flops_and_its_knee(tmp_path, synthetic_root, capsys):
    out = tmp_path / "path"
    args = ["front", "--model", "lenet5", "--data-root", str(synthetic_root), "--method",
            "path", "--budget", "5", "--epochs", "4", "--complexity", "flops", "--prox",
            "--finetune", "1", "--batch-size", "32", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "non-dominated in flops axes" in printed and "FLOPs" in printed
    front = json.loads((out / "front.json").read_text())
    # the count in every axis a knee can be chosen in, printed and kept in front.json
    counts = front["meta"]["non_dominated_count"]
    assert set(counts) == {"objectives", "kept", "flops"}
    assert counts["flops"] == len(Front.load(out / "front.json").non_dominated(axes="flops"))
    assert f"{counts['objectives']} in (f1, f2), {counts['kept']} in (val error, kept)" in printed
    assert front["meta"]["knee"]["axes"] == "flops"
    assert all(p["finetune_epochs"] == 1 and p["raw"] for p in front["points"])
    assert (out / "path" / "state.pt").exists()
    assert main(["knee", str(out)]) == 0
    summary = json.loads((out / "knee-chord.json").read_text())
    assert summary["axes"] == "flops" and summary["point"]["key"] == front["meta"]["knee"]["point"]
    assert main(["knee", str(out), "--axes", "kept", "--out", str(tmp_path / "k.pt")]) == 0
    assert main(args) == 0  # a finished run resumes as it is


def test_knee_within_a_flops_budget_is_debiased_to_the_knee_epochs(tmp_path, synthetic_root,
                                                                   cli):
    out = tmp_path / "path"
    assert main(["front", "--model", "lenet5", "--data-root", str(synthetic_root),
                 "--method", "path", "--budget", "5", "--epochs", "4", "--complexity",
                 "flops", "--prox", "--finetune", "1", "--knee-epochs", "6",
                 "--batch-size", "32", "--out", str(out)]) == 0
    front = Front.load(out / "front.json")
    nd = front.non_dominated(axes="flops")
    share = sorted(p.flops_share for p in nd)[len(nd) // 2]
    expected = min((p for p in nd if p.flops_share <= share), key=lambda p: -p.val_acc)
    code, printed, _ = cli("knee", out, "--max-share", share)
    assert code == 0 and f"max-flops{share:g} knee of" in printed
    summary = json.loads((out / f"knee-max-flops{share:g}.json").read_text())
    point = summary["point"]
    assert point["key"] == f"{expected.key.rsplit('-e', 1)[0]}-e6"  # debiased to 6 in all
    assert point["retrained"] and point["epochs"] == 6 and point["zeros"] == expected.zeros
    assert Front.load(out / "front.json").final_version(expected).key == point["key"]
    code, _, err = cli("knee", out, "--max-share", 1e-9)
    assert code == 2 and "no non-dominated point keeps at most" in err
    code, _, err = cli("knee", out, "--max-share", 0.5, "--axes", "objectives")
    assert code == 2 and "--max-share bounds a share" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["front", "--method", "pareto"], "unknown front method 'pareto'"),
        (["front", "--method", "grid", "--lams", "0,2"], "lams must be weights in [0, 1]"),
        (["front", "--lams", "0,1"], "lams is for the grid method, not path"),
        (["front", "--lams", "0,x"], "--lams takes a comma-separated list of floats"),
        (["front", "--knee", "elbow"], "knee must be one of"),
        (["front", "--complexity", "l3"], "complexity must be one of"),
        (["front", "--budget", "0"], "--budget must be an integer >= 1"),
        (["front", "--finetune", "-1"], "--finetune must be an integer >= 0"),
        (["front", "--knee-axes", "params"], "knee_axes must be one of"),
        (["front", "--smgd-normalize", "max"], "invalid choice: 'max'"),
        (["front", "--path-max-drop", "0"], "--path-max-drop must be a number > 0 and <= 1"),
        (["front", "--path-start-lam", "1"], "--path-start-lam must be a number > 0 and < 1"),
        (["front", "--method", "smgd", "--prox"], "prox is for the weighted sum and the path"),
        (["front", "--method", "path", "--explore-epochs", "2"], "explore_epochs is for the"),
        (["front", "--method", "grid", "--knee-epochs", "12"],
         "knee_epochs is for the path method, not grid"),
    ],
)
def test_front_bad_input(cli, tmp_path, args, message):
    code, _, err = cli(*args, "--out", tmp_path / "run")
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compact", "NOWHERE"], "is neither a run directory nor a model file"),
        (["compact", "TEXT"], "is not a moprune model file"),
        (["compact", "DIR"], "no knee-chord.pt in"),
        (["compact", "TEXT", "--threshold", "-1"], "--threshold must be a number >= 0"),
        (["compact", "TEXT", "--threshold", "1", "--keep-flops", "0.5"], "not allowed with"),
    ],
)
def test_compact_bad_input(cli, tmp_path, args, message):
    (tmp_path / "text.pt").write_text("not a model")
    (tmp_path / "dir").mkdir()
    swap = {"NOWHERE": tmp_path / "none", "TEXT": tmp_path / "text.pt", "DIR": tmp_path / "dir"}
    code, _, err = cli(*[swap.get(a, a) for a in args])
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1


def test_compact_refuses_a_negative_threshold(cli, tmp_path):
    from moprune.models import build_model, save_model

    save_model(build_model("mlp", in_channels=1, num_classes=10, image_size=28),
               tmp_path / "m.pt")
    code, _, err = cli("compact", tmp_path / "m.pt", "--threshold", "-1")
    assert code == 2 and "--threshold must be a number >= 0, got '-1'" in err


def test_knee_without_a_front(cli, tmp_path):
    code, _, err = cli("knee", tmp_path)
    assert code == 2 and "no front in" in err


def test_hpo_and_fidelity_on_a_compacted_knee_proxy(tmp_path, synthetic_root, capsys, cli):
    front = tmp_path / "front"
    data = ["--model", "lenet5", "--data-root", str(synthetic_root), "--batch-size", "32"]
    assert main(["front", *data, "--method", "grid", "--lams", "0,0.9,0.99", "--epochs", "1",
                 "--complexity", "group-l1", "--out", str(front)]) == 0
    assert main(["knee", str(front)]) == 0
    # a few steps on 240 synthetic images kill no channel: prune the knee to half its FLOPs
    assert main(["compact", str(front / "knee-chord.pt"), "--keep-flops", "0.5"]) == 0
    capsys.readouterr()
    hpo = ["hpo", *data, "--epochs", "1", "--proxy", str(front), "--trials", "3",
           "--top-k", "2", "--out", str(tmp_path / "hpo")]
    assert main(hpo) == 0
    printed = capsys.readouterr().out
    assert "3 trials on the proxy: 3 complete" in printed and "best: val acc" in printed
    results = json.loads((tmp_path / "hpo" / "results.json").read_text())
    assert results["proxy"]["pruning_history"]
    assert {"proxy_front", "proxy_compaction", "hpo_trials", "transfer"} <= set(results["time"])
    assert results["time"]["proxy_front"] > 0 and len(results["transfer"]) == 2
    proxy_size = results["trials"][0]["parameters"]
    assert proxy_size < sum(p.numel() for p in load_model(front / "knee-chord.pt").parameters())
    assert (tmp_path / "hpo" / "hpo.png").read_bytes()[:4] == b"\x89PNG"
    # the same command resumes without new trials; other settings are refused
    assert main(hpo) == 0
    assert len(json.loads((tmp_path / "hpo" / "results.json").read_text())["trials"]) == 3
    code, _, err = cli(*[a if a != "1" else "2" for a in hpo])  # 2 epochs a trial
    assert code == 2 and "other settings: run.train.epochs is 1 there, 2 now" in err
    code, _, err = cli(*hpo, "--sampler", "random")
    assert code == 2 and "other settings: study.sampler is 'tpe' there, 'random' now" in err
    # a larger --top-k trains only the configurations not transferred yet
    assert main([*hpo[:-2], "--top-k", "3", *hpo[-2:]]) == 0
    again = json.loads((tmp_path / "hpo" / "results.json").read_text())
    assert len(again["transfer"]) == 3 and again["transfer"][:2] == results["transfer"]

    (tmp_path / "lr.yaml").write_text("lr: {type: float, low: 0.01, high: 0.3, log: true}\n")
    assert main(["fidelity", *data, "--epochs", "2", "--proxy", str(front), "--configs", "4",
                 "--space", str(tmp_path / "lr.yaml"), "--out", str(tmp_path / "fid")]) == 0
    assert "Spearman rho" in capsys.readouterr().out
    fid = json.loads((tmp_path / "fid" / "fidelity.json").read_text())
    assert len(fid["configs"]) == 4 and fid["top3_overlap"] in (0, 1 / 3, 2 / 3, 1)
    assert fid["spearman_rho"] is None or -1 <= fid["spearman_rho"] <= 1
    assert (tmp_path / "fid" / "fidelity.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--proxy", "NOWHERE"], "does not exist (a front run, a model file, uniform:SHARE"),
        (["--proxy", "uniform:half"], "uniform:SHARE needs a share of the FLOPs in (0, 1]"),
        (["--proxy", "uniform:1.5"], "uniform:SHARE needs a share of the FLOPs in (0, 1]"),
        (["--proxy", "DIR"], "has no compacted knee knee-chord-compact.pt"),
        (["--proxy", "none", "--sampler", "ga"], "optuna backend's samplers are"),
        (["--proxy", "none", "--backend", "pymoo", "--pruner", "median"], "use --pruner none"),
        (["--proxy", "none", "--trials", "0"], "--trials must be an integer >= 1"),
        (["--proxy", "none", "--space", "TEXT"], "must hold a mapping"),
        (["--proxy", "none", "--storage", "mongodb://x"], "--storage must be a sqlite://"),
        (["--proxy", "none", "--objectives", "seconds"], "objectives must start with"),
        (["--proxy", "none", "--top-k", "0"], "--top-k must be an integer >= 1"),
        (["--proxy", "none", "--pruner", "asha"], "invalid choice: 'asha'"),
    ],
)
def test_hpo_bad_input(cli, tmp_path, synthetic_root, args, message):
    (tmp_path / "text.yaml").write_text("just text")
    (tmp_path / "dir").mkdir()
    swap = {"NOWHERE": tmp_path / "none", "TEXT": tmp_path / "text.yaml", "DIR": tmp_path / "dir"}
    code, _, err = cli("hpo", "--data-root", synthetic_root, "--limit-train", "100",
                           *[swap.get(a, a) for a in args], "--out", tmp_path / "run")
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--levels", "0.8,1.2"], "levels are kept shares of FLOPs in (0, 1]"),
        (["--levels", "0.8,x"], "levels must be comma-separated numbers"),
        (["--grid-size", "1"], "--grid-size must be an integer >= 2"),
        (["--params", "lr,momentum"], "'momentum' must be a log-scaled float"),
    ],
)
def test_sensitivity_bad_input(cli, tmp_path, args, message):
    code, _, err = cli("sensitivity", "--limit-train", "100", *args, "--out",
                           tmp_path / "run")
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_progress_lines_off_a_terminal(tmp_path, synthetic_root, capsys, monkeypatch):
    # a log (stderr not a terminal): one line per front point, and per few epochs
    monkeypatch.delenv("MOPRUNE_PROGRESS_LINES")
    common = ["--model", "mlp", "--data-root", str(synthetic_root), "--epochs", "2"]
    assert main(["train", *common, "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split("] ", 1)[1].split(":")[0] for line in err] == ["epoch 1/2", "epoch 2/2"]
    assert all(line.startswith("[moprune ") for line in err)
    assert main(["front", *common, "--method", "path", "--budget", "3", "--prox",
                 "--out", str(tmp_path / "f")]) == 0
    points = [line for line in capsys.readouterr().err.splitlines() if "front point" in line]
    front = json.loads((tmp_path / "f" / "front.json").read_text())
    assert len(points) == len(front["points"]) and "val acc" in points[0]
    # MOPRUNE_PROGRESS_LINES=0 silences them
    monkeypatch.setenv("MOPRUNE_PROGRESS_LINES", "0")
    assert main(["train", *common, "--seed", "1", "--out", str(tmp_path / "t1")]) == 0
    assert capsys.readouterr().err == ""
