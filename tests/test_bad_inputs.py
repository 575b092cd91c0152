"""A table of malformed invocations of every command, run in-process.

Each case must exit with code 2, print exactly one line on stderr that names the bad
value, print no traceback, and leave every file and directory under the working
directory exactly as it was (no run directory created, no settings rewritten).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from moprune.cli import main
from moprune.config import RunConfig, config_to_dict
from moprune.front import FrontConfig
from moprune.rundir import RunDir

# Paths are relative to the scratch directory the fixture makes (the cwd of each case):
#   afile          a plain file             front-l1/   a front run's settings (path)
#   lenet-run/     a train run's settings   damaged/    a front run: truncated front.json
#   listfront/     front.json holding a list         empty/    an empty directory
#   bad.pt         not a model file
RUN = ["--out", "newrun"]
HPO = ["hpo", "--proxy", "uniform:0.5", *RUN]
FID = ["fidelity", "--proxy", "uniform:0.5", *RUN]
SEN = ["sensitivity", *RUN]
TRAINING = {"train": ["train", *RUN], "front": ["front", *RUN], "hpo": HPO, "fidelity": FID,
            "sensitivity": SEN}

# (flags given to every training command, the text the error line must hold)
COMMON = [
    (["--lr", "-1"], "--lr must be a number > 0, got '-1'"),
    (["--lr", "abc"], "--lr takes a float, got 'abc'"),
    (["--epochs", "-1"], "--epochs must be an integer >= 0"),
    (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
    (["--val-fraction", "1.5"], "--val-fraction must be a number > 0 and < 1"),
    (["--limit-train", "0"], "--limit-train must be an integer >= 1"),
    (["--momentum", "1"], "--momentum must be a number >= 0 and < 1"),
    (["--seed", "-3"], "--seed must be an integer >= 0"),
    (["--channels", "2"], "channels must be 1 (greyscale) or 3 (RGB), got 2"),
    (["--test-fraction", "0"], "--test-fraction must be a number > 0 and < 1"),
    (["--optimizer", "rmsprop"], "optimizer must be one of"),
    (["--device", "cuda:abc"], "must be auto, cpu, cuda or cuda:N, got 'cuda:abc'"),
    (["--data-root", "nonexistent"], "--data-root 'nonexistent' does not exist"),
    (["--data-root", "afile"], "--data-root 'afile' is a file"),
    (["--dataset", "imagefolder:nonexistent"], "imagefolder: 'nonexistent' does not exist"),
    (["--config", "missing.yaml"], "cannot read config file 'missing.yaml'"),
]
OUT = [
    (["--out", ""], "--out is empty; give a directory"),
    (["--out", "afile"], "--out 'afile' is a file, not a directory"),
    (["--out", "afile/run"], "--out 'afile/run' lies under 'afile', which is a file"),
]

CASES: list[tuple[str, list[str], str]] = []
for cmd, base in TRAINING.items():
    for flags, text in COMMON:
        CASES.append((f"{cmd} {' '.join(flags)}", [*base, *flags], text))
    for flags, text in OUT:
        argv = [a for a in base if a not in RUN] + flags
        CASES.append((f"{cmd} {' '.join(flags)}", argv, text))
CASES += [
    # train
    ("train resumed with other data", ["train", "--out", "lenet-run", "--limit-train", "500"],
     "data.limit_train is 2000 there, 500 now"),
    ("train resumed with another model", ["train", "--out", "lenet-run", "--limit-train",
                                          "2000", "--model", "mlp"],
     "model is 'lenet5' there, 'mlp' now"),
    # front
    ("front resumed with other --lr", ["front", "--out", "front-l1", "--method", "path",
                                       "--lr", "0.1"], "train.lr is 0.05 there, 0.1 now"),
    ("front --budget 0", ["front", *RUN, "--budget", "0"], "--budget must be an integer >= 1"),
    ("front --path-start-lam 1", ["front", *RUN, "--path-start-lam", "1"],
     "--path-start-lam must be a number > 0 and < 1"),
    ("front --finetune -1", ["front", *RUN, "--finetune", "-1"],
     "--finetune must be an integer >= 0"),
    ("front --tau -1", ["front", *RUN, "--tau", "-1"], "--tau must be a number >= 0"),
    ("front --path-max-drop 0", ["front", *RUN, "--path-max-drop", "0"],
     "--path-max-drop must be a number > 0 and <= 1"),
    ("front --method bogus", ["front", *RUN, "--method", "bogus"],
     "unknown front method 'bogus'; known: bisection, dichotomic, grid, path, smgd"),
    ("front --complexity l3", ["front", *RUN, "--complexity", "l3"],
     "complexity must be one of"),
    ("front --lams 0,2", ["front", *RUN, "--method", "grid", "--lams", "0,2"],
     "lams must be weights in [0, 1]"),
    ("front --lams x", ["front", *RUN, "--lams", "0,x"], "--lams takes a comma-separated"),
    ("front --knee-epochs without path", ["front", *RUN, "--method", "dichotomic",
                                          "--knee-epochs", "12"],
     "knee_epochs is for the path method, not dichotomic"),
    ("front --explore-epochs with path", ["front", *RUN, "--method", "path",
                                          "--explore-epochs", "2"],
     "explore_epochs is for the bisection, dichotomic and grid methods, not path"),
    ("front --prox with smgd", ["front", *RUN, "--method", "smgd", "--prox"],
     "prox is for the weighted sum and the path"),
    ("front --knee-axes sideways", ["front", *RUN, "--knee-axes", "sideways"],
     "knee_axes must be one of"),
    # knee
    ("knee of a missing directory", ["knee", "nonexistent"], "RUN_DIR 'nonexistent' does not"),
    ("knee of a file", ["knee", "afile"], "RUN_DIR 'afile' is a file"),
    ("knee without a front", ["knee", "empty"], "no front in 'empty'"),
    ("knee of a truncated front.json", ["knee", "damaged"],
     "'damaged/front.json' is damaged (truncated or not JSON"),
    ("knee of a front.json of another kind", ["knee", "listfront"],
     "'listfront/front.json' is damaged: it holds a list"),
    ("knee --out a directory", ["knee", "damaged", "--out", "empty"],
     "--out 'empty' is a directory; give a file name"),
    ("knee --out under a file", ["knee", "damaged", "--out", "afile/k.pt"],
     "--out 'afile/k.pt' lies under 'afile', which is a file"),
    ("knee --selector bogus", ["knee", "damaged", "--selector", "bogus"],
     "unknown knee selector 'bogus'; known: angle, chord, slope"),
    ("knee --floor of 1", ["knee", "empty", "--floor", "1"],
     "--floor must be a number >= 0 and < 1"),
    ("knee --floor with --max-share", ["knee", "empty", "--floor", "0.05", "--max-share",
                                       "0.2"], "a floor bounds a knee from below"),
    ("knee --noise without --max-share", ["knee", "empty", "--noise", "auto"],
     "a noise breaks ties within a budget: it needs --max-share"),
    ("knee --noise of 1", ["knee", "empty", "--max-share", "0.2", "--noise", "1"],
     "--noise must be a number >= 0 and < 1"),
    ("knee --noise of a word", ["knee", "empty", "--max-share", "0.2", "--noise", "often"],
     "--noise takes a float, got 'often'"),
    # compact
    ("compact of a missing source", ["compact", "nonexistent"],
     "'nonexistent' is neither a run directory nor a model file"),
    ("compact of a damaged model file", ["compact", "bad.pt"],
     "'bad.pt' is not a moprune model file"),
    ("compact of a run without its knee", ["compact", "empty"], "no knee-chord.pt in 'empty'"),
    ("compact --out a directory", ["compact", "bad.pt", "--out", "empty"],
     "--out 'empty' is a directory"),
    ("compact --keep-flops 0", ["compact", "bad.pt", "--keep-flops", "0"],
     "--keep-flops must be a number > 0 and <= 1"),
    ("compact --keep-flops 1.5", ["compact", "bad.pt", "--keep-flops", "1.5"],
     "--keep-flops must be a number > 0 and <= 1"),
    ("compact --threshold -1", ["compact", "bad.pt", "--threshold", "-1"],
     "--threshold must be a number >= 0"),
    # hpo
    ("hpo --grace -5", [*HPO, "--grace", "-5"], "--grace must be an integer >= 1, got '-5'"),
    ("hpo --trials 0", [*HPO, "--trials", "0"], "--trials must be an integer >= 1"),
    ("hpo --top-k 0", [*HPO, "--top-k", "0"], "--top-k must be an integer >= 1"),
    ("hpo --workers 0", [*HPO, "--workers", "0"], "--workers must be an integer >= 1"),
    ("hpo --final-epochs -1", [*HPO, "--final-epochs", "-1"],
     "--final-epochs must be an integer >= 1"),
    ("hpo --objectives loss", [*HPO, "--objectives", "loss"],
     "objectives must start with 'accuracy'"),
    ("hpo --storage foo://bar", [*HPO, "--storage", "foo://bar"],
     "--storage must be a sqlite://, postgresql:// or mysql:// URL"),
    ("hpo --storage in a missing folder", [*HPO, "--storage", "nonexistent/dir/s.journal"],
     "its folder 'nonexistent/dir' does not exist"),
    ("hpo --proxy missing", ["hpo", "--proxy", "nonexistent", *RUN],
     "--proxy 'nonexistent' does not exist"),
    ("hpo --proxy uniform:abc", ["hpo", "--proxy", "uniform:abc", *RUN],
     "uniform:SHARE needs a share of the FLOPs in (0, 1]"),
    ("hpo --proxy uniform:2", ["hpo", "--proxy", "uniform:2", *RUN],
     "uniform:SHARE needs a share of the FLOPs in (0, 1]"),
    ("hpo --backend ray", [*HPO, "--backend", "ray"], "invalid choice: 'ray'"),
    ("hpo --sampler bogus", [*HPO, "--sampler", "bogus"], "samplers are"),
    ("hpo pymoo with a pruner", [*HPO, "--backend", "pymoo", "--pruner", "hyperband"],
     "use --pruner none with --backend pymoo"),
    ("hpo --space missing", [*HPO, "--space", "missing.yaml"], "missing.yaml"),
    ("hpo --proxy-flops-floor on uniform", [*HPO, "--proxy-flops-floor", "0.2"],
     "--proxy-flops-floor chooses the knee of a front run"),
    ("hpo --proxy-flops-floor 1", [*HPO, "--proxy-flops-floor", "1"],
     "--proxy-flops-floor must be a number >= 0 and < 1"),
    ("hpo --proxy-tolerance without a floor", [*HPO, "--proxy-tolerance", "0.02"],
     "--proxy-tolerance needs --proxy-flops-floor"),
    ("front --path-distance bad", ["front", "--method", "path", "--path-distance", "up", *RUN],
     "invalid choice: 'up'"),
    ("hpo --lr-transfer sp", [*HPO, "--lr-transfer", "sp"], "invalid choice: 'sp'"),
    # fidelity
    ("fidelity --proxy none", ["fidelity", "--proxy", "none", *RUN],
     "fidelity compares a proxy with the base network"),
    ("fidelity --configs 1", [*FID, "--configs", "1"], "--configs must be an integer >= 3"),
    ("fidelity --seeds 0", [*FID, "--seeds", "0"], "--seeds must be an integer >= 1"),
    ("fidelity --bootstrap 1", [*FID, "--bootstrap", "1"],
     "--bootstrap must be an integer >= 2"),
    # sensitivity
    ("sensitivity --temperature 0", [*SEN, "--temperature", "0"],
     "--temperature must be a number > 0"),
    ("sensitivity --quantile 1", [*SEN, "--quantile", "1"],
     "--quantile must be a number > 0 and < 1"),
    ("sensitivity --grid-size 1", [*SEN, "--grid-size", "1"],
     "--grid-size must be an integer >= 2"),
    ("sensitivity --span 0", [*SEN, "--span", "0"], "--span must be a number > 0"),
    ("sensitivity --hpo-trials 0", [*SEN, "--hpo-trials", "0"],
     "--hpo-trials must be an integer >= 1"),
    ("sensitivity --levels 0,1.5", [*SEN, "--levels", "0.5,1.5"],
     "levels are kept shares of FLOPs in (0, 1], got 1.5"),
    ("sensitivity --params not in the space", [*SEN, "--params", "lr,dropout"],
     "'dropout' must be a log-scaled float of the search space"),
    ("sensitivity --storage foo://bar", [*SEN, "--storage", "foo://bar"],
     "--storage must be a sqlite://"),
    # datasets and models
    ("datasets --data-root a file", ["datasets", "--data-root", "afile"],
     "--data-root 'afile' is a file"),
    ("datasets --data-root missing", ["datasets", "--data-root", "nonexistent"],
     "--data-root 'nonexistent' does not exist"),
    ("models --num-classes 0", ["models", "--num-classes", "0"],
     "--num-classes must be an integer >= 1, got '0'"),
    ("models --image-size -5", ["models", "--image-size", "-5"],
     "--image-size must be an integer >= 1, got '-5'"),
    ("models --image-size too small", ["models", "--image-size", "3"],
     "cannot take 1x3x3 images"),
    ("models --in-channels 0", ["models", "--in-channels", "0"],
     "--in-channels must be an integer >= 1"),
    ("unknown command", ["prune"], "invalid choice: 'prune'"),
]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The scratch directory of the cases (see the comment at the top)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.pt").write_bytes(b"\x80\x02not a model")
    RunDir(tmp_path / "front-l1", config_to_dict(FrontConfig(method="path"))).write()
    RunDir(tmp_path / "lenet-run", config_to_dict(RunConfig(
        data=FrontConfig().data.__class__(limit_train=2000)))).write()
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "front.json").write_text('{"meta": {"model": "lenet5"}, "poi')
    (tmp_path / "listfront").mkdir()
    (tmp_path / "listfront" / "front.json").write_text("[1, 2]\n")
    return tmp_path


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``root`` with its mtime and size."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(folder, name)
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_mtime_ns, st.st_size)
    return out


def test_the_table_is_large_enough():
    assert len(CASES) >= 80


@pytest.mark.parametrize("argv,text", [(argv, text) for _, argv, text in CASES],
                         ids=[name for name, _, _ in CASES])
def test_bad_input_is_one_line_and_changes_nothing(scratch, capsys, argv, text):
    before = _tree(scratch)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert text in lines[0], lines[0]
    assert "Traceback" not in err
    assert _tree(scratch) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("command", list(TRAINING))
def test_device_cuda_without_a_gpu(scratch, capsys, command):
    before = _tree(scratch)
    code = main([*TRAINING[command], "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--device cuda: this machine has no CUDA GPU" in err
    assert _tree(scratch) == before


def test_refused_resume_leaves_the_settings_untouched(scratch, capsys):
    saved = scratch / "front-l1" / "config.yaml"
    text, mtime = saved.read_text(), saved.stat().st_mtime_ns
    assert main(["front", "--out", "front-l1", "--method", "path", "--lr", "0.1"]) == 2
    assert saved.read_text() == text and saved.stat().st_mtime_ns == mtime


def test_an_out_that_is_not_writable(scratch, capsys, monkeypatch):
    # (root may write anywhere, so the permission is what os.access says)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == "empty"
                        else real(p, mode))
    before = _tree(scratch)
    assert main(["train", "--out", "empty"]) == 2
    assert "--out 'empty' is not writable" in capsys.readouterr().err
    assert main(["train", "--out", "empty/run"]) == 2
    assert "cannot create the directory there ('empty' is not writable)" in (
        capsys.readouterr().err)
    assert _tree(scratch) == before


def test_hpo_on_a_front_with_a_damaged_front_json(scratch, capsys, synthetic_root):
    (scratch / "damaged" / "knee-chord-compact.pt").write_bytes(b"whatever")
    before = _tree(scratch)
    code = main(["hpo", "--proxy", "damaged", "--data-root", str(synthetic_root), *RUN])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'damaged/front.json' is damaged (truncated or not JSON" in err
    assert _tree(scratch) == before


# Refusals that need the data loaded first (the checks a command makes after parsing):
# (bad flags, the error line's text, the corrected flags). Each must leave --out exactly as
# it was, and the corrected command must then run in the same --out.
TINY = ["--limit-train", "200", "--limit-eval", "50", "--epochs", "1", "--out", "newrun"]
SMALL_SENSITIVITY = ["sensitivity", "--hpo-trials", "1", "--grid-size", "2", "--levels",
                     "0.5", "--seeds", "1", "--bootstrap", "100"]
GRID2 = ["front", "--method", "grid", "--lams", "0,1", "--budget", "2"]
LATE_CASES = [
    ("front grid under its budget",
     ["front", "--method", "grid", "--lams", "0", "--budget", "1"],
     "budget of the grid method must be an integer >= 2, got 1",
     ["front", "--method", "grid", "--lams", "0,1", "--budget", "2"]),
    ("front explore epochs above epochs",
     ["front", "--method", "dichotomic", "--budget", "2", "--explore-epochs", "3"],
     "explore_epochs must be <= train.epochs (1), got 3",
     ["front", "--method", "dichotomic", "--budget", "2"]),
    ("hpo sqlite storage in a missing folder",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "1", "--top-k", "1", "--storage",
      "sqlite:////nonexistent/dir/s.db"],
     "--storage 'sqlite:////nonexistent/dir/s.db': its folder '/nonexistent/dir' does not",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "1", "--top-k", "1"]),
    ("hpo on a PostgreSQL server that does not answer",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "1", "--top-k", "1", "--storage",
      "postgresql://u:p@127.0.0.1:1/db"],
     "cannot open storage 'postgresql://u:p@127.0.0.1:1/db': OperationalError",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "1", "--top-k", "1"]),
    ("hpo single-objective sampler on two objectives",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "1", "--top-k", "1", "--objectives",
      "accuracy,params", "--sampler", "cmaes"],
     "sampler 'cmaes' is single-objective",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "1", "--top-k", "1", "--objectives",
      "accuracy,params", "--sampler", "tpe"]),
    ("front --path-distance with grid", [*GRID2, "--path-distance", "fall"],
     "path_distance is for the path method, not grid", GRID2),
    ("front of a missing torchvision model", [*GRID2, "--model", "torchvision:nosuchnet"],
     "unknown torchvision model 'nosuchnet'", [*GRID2, "--model", "lenet5"]),
    ("hpo pymoo ga on two objectives",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "2", "--top-k", "1", "--backend", "pymoo",
      "--sampler", "ga", "--objectives", "accuracy,params"],
     "pymoo's nsga2 is for several objectives, ga and de for one (this study has 2)",
     ["hpo", "--proxy", "uniform:0.5", "--trials", "2", "--top-k", "1", "--backend", "pymoo",
      "--sampler", "nsga2", "--objectives", "accuracy,params"]),
    ("sensitivity --pruner asha", [*SMALL_SENSITIVITY, "--pruner", "asha"],
     "pruner must be one of", SMALL_SENSITIVITY),
    ("sensitivity --sampler bayes", [*SMALL_SENSITIVITY, "--sampler", "bayes"],
     "samplers are", SMALL_SENSITIVITY),
    ("sensitivity of a missing torchvision model",
     [*SMALL_SENSITIVITY, "--model", "torchvision:nosuchnet"],
     "unknown torchvision model 'nosuchnet'", [*SMALL_SENSITIVITY, "--model", "lenet5"]),
]


@pytest.mark.parametrize("bad,text,good", [c[1:] for c in LATE_CASES],
                         ids=[c[0] for c in LATE_CASES])
def test_a_refusal_after_the_data_writes_nothing_and_the_corrected_rerun_runs(
        scratch, capsys, synthetic_root, bad, text, good):
    data = ["--data-root", str(synthetic_root), *TINY]
    before = _tree(scratch)
    code = main([*bad, *data])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert text in lines[0], lines[0]
    assert _tree(scratch) == before  # no newrun/, no config.yaml, no study.journal
    assert main([*good, *data]) == 0, capsys.readouterr().err
    assert (scratch / "newrun" / "config.yaml").is_file()


@pytest.mark.parametrize("content,text", [("{}\n", "(empty)"),
                                          ("foo: 1\nbar: [2]\n", "(a mapping of foo, bar)")])
def test_a_config_yaml_that_is_not_a_moprune_config_is_named_so(scratch, capsys, content,
                                                                 text):
    (scratch / "empty" / "config.yaml").write_text(content)
    before = _tree(scratch)
    assert main(["train", "--out", "empty"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"moprune: error: 'empty/config.yaml' is not a moprune config of this "
                   f"command {text}; delete it or use another --out")
    assert _tree(scratch) == before


def test_a_study_of_other_directions_in_a_given_storage_is_refused_before_any_write(
        scratch, capsys, synthetic_root):
    import optuna

    url = f"sqlite:///{scratch / 'studies.db'}"
    optuna.create_study(study_name="moprune", storage=url, directions=["maximize"])
    before = _tree(scratch)
    code = main(["hpo", "--proxy", "uniform:0.5", "--objectives", "accuracy,params",
                 "--storage", url, "--data-root", str(synthetic_root), *TINY])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.endswith("study 'moprune' in this storage optimises ['maximize'], not "
                        "['maximize', 'minimize']")
    assert _tree(scratch) == before
