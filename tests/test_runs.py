"""The run layer: each command's work as one library call on a run directory whose files
RunLayout names; resumes, refuses other settings before any write, returns typed results."""

import pytest

from moprune.config import DataConfig, RunConfig, TrainConfig
from moprune.errors import MopruneError
from moprune.front import FrontConfig
from moprune.front import Path as PathMethod
from moprune.layout import RunLayout
from moprune.runs import CompactFile, compact_run, front_run, knee_run, train_run


def _data(root):
    return DataConfig(data_root=str(root), val_fraction=0.2)


def test_train_run_writes_the_layouts_files_and_refuses_other_settings(synthetic_root,
                                                                        tmp_path):
    config = RunConfig(model="mlp", data=_data(synthetic_root),
                       train=TrainConfig(epochs=1, batch_size=32))
    made = train_run(config, tmp_path / "run")
    layout = RunLayout(tmp_path / "run")
    assert made.out == layout.root and made.parameters > 0
    assert all(f.is_file() for f in (layout.config, layout.model, layout.results,
                                     layout.history_plot))
    assert made.to_dict()["val_acc"] == made.val_acc
    with pytest.raises(MopruneError, match="train.lr is 0.05 there, 0.1 now"):
        train_run(RunConfig(model="mlp", data=_data(synthetic_root),
                            train=TrainConfig(epochs=1, batch_size=32, lr=0.1)),
                  tmp_path / "run")


def test_front_knee_and_compact_runs(synthetic_root, tmp_path):
    config = FrontConfig(model="lenet5", method=PathMethod(points=3, corrector="channel"),
                         complexity="flops", data=_data(synthetic_root),
                         train=TrainConfig(epochs=2, batch_size=32))
    made = front_run(config, tmp_path / "front")
    layout = RunLayout(made.out)
    assert layout.front.is_file() and layout.front_plot.is_file()
    assert made.knee.key == made.front.meta["knee"]["point"]
    again = front_run(config, tmp_path / "front")  # resumed: the same front
    assert [p.key for p in again.front] == [p.key for p in made.front]
    knee = knee_run(made.out, compact=True)
    assert knee.knee.path == layout.knee("chord") and layout.knee("chord").is_file()
    assert isinstance(knee.compacted, CompactFile)
    assert knee.compacted.out == layout.knee_compact("chord")
    assert knee.compacted.after["flops_per_image"] <= knee.compacted.before["flops_per_image"]
    direct = compact_run(made.out, tmp_path / "again.pt")
    assert direct.source == layout.knee("chord") and direct.to_dict()["before"]
    with pytest.raises(MopruneError, match="unknown knee selector 'elbow'"):
        knee_run(made.out, selector="elbow")
    with pytest.raises(MopruneError, match="neither a run directory nor a model file"):
        compact_run(tmp_path / "nothing")


def test_the_evaluation_batch_is_a_speed_setting(synthetic_root, tmp_path):
    """None (the default): 128 images on the CPU; an older run directory that recorded
    1024 resumes (the results are the same, only the speed differs)."""
    import yaml

    from moprune.data import prepare_data

    splits = prepare_data(_data(synthetic_root))
    assert splits.loader("val").batch_size == 128
    assert splits.loader("val", device="cpu", batch_size=64).batch_size == 64
    config = RunConfig(model="mlp", data=_data(synthetic_root),
                       train=TrainConfig(epochs=1, batch_size=32))
    first = train_run(config, tmp_path / "run")
    saved = RunLayout(tmp_path / "run").config
    old = yaml.safe_load(saved.read_text())
    old["data"]["eval_batch_size"] = 1024  # as written before the default changed
    saved.write_text(yaml.safe_dump(old))
    again = train_run(config, tmp_path / "run")
    assert again.val_acc == first.val_acc
