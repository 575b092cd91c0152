"""A front's run directory through the library: its summary and its knee file."""

import json

import pytest

from moprune import export_knee, train_front
from moprune.config import TrainConfig
from moprune.errors import MopruneError
from moprune.front import Front, Grid
from moprune.models import load_model
from moprune.runs.front import finish_front


def test_finish_front_and_export_knee(synthetic_data, tmp_path):
    front = train_front("lenet5", synthetic_data, method=Grid(budget=3, lams=(0.0, 0.99, 1.0)),
                        train=TrainConfig(lr=0.05, batch_size=32, epochs=1), out=tmp_path)
    knee = finish_front(front, tmp_path, selector="chord", title="grid")
    saved = Front.load(tmp_path / "front.json")
    assert saved.meta["knee"] == {"selector": "chord", "point": knee.key,
                                  "axes": front.meta["knee_axes"]}
    assert saved.meta["hypervolume"] == pytest.approx(front.hypervolume(
        axes=front.meta["knee_axes"]))
    assert (tmp_path / "front.png").stat().st_size > 0

    exported = export_knee(tmp_path, selector="chord", out=tmp_path / "k.pt")
    assert exported.point.key == knee.key and exported.path == tmp_path / "k.pt"
    model = load_model(exported.path)
    assert exported.size["parameters"] == sum(p.numel() for p in model.parameters())
    assert json.loads((tmp_path / "k.json").read_text()) == exported.to_dict()
    # within a tolerance of the knee's accuracy, the smallest point (the synthetic data
    # is noise: which points are non-dominated depends on the CPU's floating point)
    kept = front.knee("chord", axes="kept")
    tolerant = export_knee(tmp_path, selector="chord", axes="kept", tolerance=0.5)
    assert tolerant.path == tmp_path / "knee-chord-tol0.5.pt"
    assert tolerant.point.key == front.knee("chord", axes="kept", tolerance=0.5).key
    assert tolerant.point.kept <= kept.kept
    assert tolerant.point.val_acc >= kept.val_acc - 0.5
    assert load_model(tolerant.path) is not None
    with pytest.raises(MopruneError, match="a tolerance chooses among knees"):
        export_knee(tmp_path, max_share=0.5, tolerance=0.02)
    # a budget with noise: the largest point within the noise of the most accurate one
    # (the empty network let in: on noise data it may dominate the others)
    tied = export_knee(tmp_path, axes="kept", max_share=1.0, noise="auto", include_empty=True)
    assert tied.path == tmp_path / "knee-max-kept1-noiseauto.pt"
    assert tied.point.key == front.best_within(1.0, axes="kept", noise="auto",
                                               include_empty=True).key
    best = front.best_within(1.0, axes="kept", include_empty=True)
    assert tied.to_dict()["noise"] == pytest.approx(front.accuracy_noise(best.val_acc))
    assert tied.point.kept >= best.kept
    assert tied.point.val_acc >= best.val_acc - tied.to_dict()["noise"]
    assert export_knee(tmp_path, axes="kept", max_share=1.0, noise=0.5,
                       include_empty=True).path.name == \
        "knee-max-kept1-noise0.5.pt"
    with pytest.raises(MopruneError, match="a noise breaks ties within a budget"):
        export_knee(tmp_path, noise=0.01)
    # a floor: the knee of the points keeping at least that share (the lam-0 point keeps
    # every weight, so some point is always above it)
    floored = export_knee(tmp_path, selector="chord", axes="kept", floor=0.5)
    assert floored.path == tmp_path / "knee-chord-floor0.5.pt"
    assert floored.point.key == front.knee("chord", axes="kept", floor=0.5).key
    assert floored.point.kept >= 0.5
    both = export_knee(tmp_path, selector="chord", axes="kept", floor=0.5, tolerance=0.5)
    assert both.path == tmp_path / "knee-chord-floor0.5-tol0.5.pt"
    assert both.point.kept >= 0.5 and both.point.kept <= floored.point.kept


def test_export_knee_without_a_front_says_so(tmp_path):
    with pytest.raises(MopruneError, match="no front in .*; run 'moprune front --out"):
        export_knee(tmp_path)
