import itertools
import math
import re
from dataclasses import replace

import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.front import Front, debias, train_front, train_path
from moprune.front.train import model_factory
from moprune.models import load_model
from tests.front.flat import new_args

FAST = TrainConfig(lr=0.05, batch_size=32, epochs=6)
FAST4 = replace(FAST, epochs=4)  # a front's epochs are its train config's


def _path(data, out=None, **kw):
    args = dict(points=6, warmup_epochs=1.0, start_lam=0.5, out_dir=out)
    return train_path(model_factory("lenet5", data, {}), data, FAST, **{**args, **kw})


def _summary(points):
    return [(p.key, p.lam, p.f1, p.f2, p.zeros, p.val_acc) for p in points]


def test_path_points_rise_in_lam_and_are_written(synthetic_data, tmp_path):
    points = _path(synthetic_data, tmp_path)
    assert len(points) >= 3
    assert points[0].lam == 0.0 and points[0].kept == 1.0
    lams = [p.lam for p in points]
    assert all(a < b for a, b in itertools.pairwise(lams))  # monotone in lam
    steps = [p.extras["step"] for p in points]
    assert all(a < b for a, b in itertools.pairwise(steps))
    assert points[-1].extras["ends"] in ("accuracy", "empty", "epochs")
    assert points[-1].kept < points[0].kept  # the path went somewhere
    for p in points:  # every point is a model file that measures as recorded
        model = load_model(tmp_path / p.checkpoint)
        zeros = sum(int((m.weight == 0).sum()) for m in model.modules()
                    if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
        assert zeros == p.zeros
        assert 0.0 < p.flops_share <= 1.0


@pytest.mark.parametrize("kw", [{}, {"corrector": "magnitude", "prox": False},
                                {"corrector": "channel", "prox": False, "complexity": "flops",
                                 "start_lam": 0.3}],
                         ids=["l1", "magnitude", "channel"])
def test_path_resumes_after_a_kill_with_the_same_points(synthetic_data, tmp_path, monkeypatch,
                                                         kw):
    whole = _path(synthetic_data, tmp_path / "whole", **kw)
    import moprune.front.path as path_module

    save = path_module._save_state
    calls = {"n": 0}

    def killed_after_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the process dies before the third state is saved
        save(*args, **kwargs)

    monkeypatch.setattr(path_module, "_save_state", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        _path(synthetic_data, tmp_path / "killed", **kw)
    monkeypatch.setattr(path_module, "_save_state", save)
    resumed = _path(synthetic_data, tmp_path / "killed", **kw)
    assert _summary(resumed) == _summary(whole)


def test_path_refuses_a_state_made_with_other_settings(synthetic_data, tmp_path):
    _path(synthetic_data, tmp_path)
    with pytest.raises(ConfigError, match="other settings"):
        _path(synthetic_data, tmp_path, max_drop=0.2)
    with pytest.raises(ConfigError, match="other settings"):  # nor as a magnitude path
        _path(synthetic_data, tmp_path, corrector="magnitude", prox=False)
    _path(synthetic_data, tmp_path / "magnitude", corrector="magnitude", prox=False)
    with pytest.raises(ConfigError, match="other settings"):  # nor the other way round
        _path(synthetic_data, tmp_path / "magnitude", prox=False)


def test_path_with_prox_has_exact_zeros_without_a_threshold(synthetic_data):
    points = _path(synthetic_data, prox=True, tau=None, start_lam=0.999)
    assert points[-1].zeros > 0
    assert min(p.kept for p in points) < 0.9


def test_debias_keeps_the_mask_and_the_raw_objectives(synthetic_data, tmp_path):
    points = _path(synthetic_data, tmp_path)
    sparse = min(points, key=lambda p: p.kept)
    before = load_model(tmp_path / sparse.checkpoint)
    tuned = debias(sparse, model_factory("lenet5", synthetic_data, {}), synthetic_data, FAST,
                   epochs=1, out_dir=tmp_path)
    after = load_model(tmp_path / tuned.checkpoint)
    for (name, a), b in zip(before.named_parameters(), after.parameters(), strict=True):
        if name.endswith("weight"):
            assert torch.equal(a == 0, b == 0), name  # the same zeros, no regrowth
    assert not all(torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(),
                                                     strict=True))  # it did train
    assert tuned.zeros == sparse.zeros and tuned.finetune_epochs == 1
    assert tuned.raw["val_acc"] == sparse.val_acc and tuned.raw["f2"] == sparse.f2
    assert (tmp_path / "points" / sparse.key / "raw.pt").exists()
    # finished: read back, not trained again
    assert debias(tuned, model_factory("lenet5", synthetic_data, {}), synthetic_data, FAST,
                  epochs=1, out_dir=tmp_path) is tuned
    with pytest.raises(ConfigError, match="fine-tuned 1 epochs, not 2"):
        debias(tuned, model_factory("lenet5", synthetic_data, {}), synthetic_data, FAST,
               epochs=2, out_dir=tmp_path)


def test_train_front_path_with_finetune_resumes_and_refuses_other_settings(
        synthetic_data, tmp_path, monkeypatch):
    kw = dict(model="lenet5", data=synthetic_data, method="path", budget=5,
              prox=True, finetune=1, train_config=FAST4, out_dir=tmp_path)
    front = train_front(**new_args(**kw))
    assert front.meta["knee_axes"] == "kept" and front.meta["tau"] is None
    assert all(p.finetune_epochs == 1 and p.raw is not None for p in front)
    knee = front.knee("chord", axes="kept")
    assert knee in front.non_dominated(axes="kept")
    assert Front.load(tmp_path / "front.json").to_dict() == front.to_dict()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished front was trained again")

    monkeypatch.setattr("moprune.front.debiasing.train", no_training)
    monkeypatch.setattr("moprune.front.path.batch_stream", no_training)
    assert train_front(**new_args(**kw)).to_dict()["points"] == front.to_dict()["points"]
    with pytest.raises(ConfigError, match="complexity: 'l1' there, 'group-l1' now"):
        train_front(**new_args(**{**kw, "complexity": "group-l1"}))


def test_knee_epochs_debias_the_knee_to_the_full_epochs(synthetic_data, tmp_path):
    kw = dict(model="lenet5", data=synthetic_data, method="path", budget=5,
              prox=True, finetune=1, train_config=FAST4, out_dir=tmp_path)
    front = train_front(**new_args(**kw, knee_epochs=6))
    knee = front.knee("chord", axes="kept")
    final = front.final_version(knee)
    assert final is not knee and final.retrained and final.epochs == 6
    trained = math.ceil(knee.extras["epochs_trained"] - 1e-9)
    assert final.finetune_epochs == 6 - trained and final.zeros == knee.zeros
    assert final.raw["val_acc"] == knee.raw["val_acc"]  # from the same raw network
    assert final not in front.non_dominated(axes="kept")  # not a point of the search
    with pytest.raises(ConfigError, match="knee_epochs needs a knee selector"):
        train_front(**new_args(**{**kw, "knee": None}, knee_epochs=6))
    # without finetune: the knee of the raw points, debiased alone
    raw = train_front(**new_args(**{**kw, "finetune": 0, "out_dir": tmp_path / "raw"},
                                 knee_epochs=6))
    assert all(p.finetune_epochs == 0 for p in raw.search_points)
    final = raw.final_version(raw.knee("chord", axes="kept"))
    assert final.retrained and final.epochs == 6 and final.finetune_epochs >= 1


def test_train_front_path_rejects_explore_epochs(synthetic_data):
    with pytest.raises(ConfigError, match="explore_epochs is for the bisection, dichotomic "
                                          "and grid methods, not path"):
        train_front(**new_args(model="lenet5", data=synthetic_data, method="path",
                               explore_epochs=2, train_config=FAST4))


def _weights_in_scope(model):
    return [m.weight for m in model.modules()
            if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]


def test_magnitude_path_cuts_more_at_every_point_and_never_revives_a_weight(
        synthetic_data, tmp_path):
    points = _path(synthetic_data, tmp_path, corrector="magnitude", prox=False)
    assert len(points) >= 3 and points[0].kept == 1.0
    cuts = [p.extras["cut"] for p in points]
    assert cuts[0] == 0.0 and cuts[1] == pytest.approx(0.5)  # start_lam: the first cut
    assert all(a < b for a, b in itertools.pairwise(cuts))
    assert all(p.lam is None and p.extras["corrector"] == "magnitude" for p in points)
    zeros = []
    for p in points:
        model = load_model(tmp_path / p.checkpoint)
        zeros.append([w == 0 for w in _weights_in_scope(model)])
        # exactly the share cut is zero: the corrector moved no cut weight off zero
        assert p.zeros == round(p.extras["cut"] * p.scope_size)
    for before, after in itertools.pairwise(zeros):
        assert all(bool((a <= b).all()) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize(("kw", "message"), [
    ({"prox": True}, "no prox step and no threshold; got prox=True, tau=None"),
    ({"prox": False, "tau": 1e-3}, "got prox=False, tau=0.001"),
    ({"corrector": "lasso"},
     "unknown path corrector 'lasso'; known: channel, l1, magnitude"),
])
def test_magnitude_corrector_refuses_prox_and_thresholds(synthetic_data, kw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _path(synthetic_data, **{"corrector": "magnitude", **kw})


def _channel_path(data, out=None, **kw):
    return _path(data, out, **{"corrector": "channel", "prox": False, "complexity": "flops",
                               "start_lam": 0.3, **kw})


def test_channel_path_cuts_whole_channels_along_the_flops_and_never_revives_one(
        synthetic_data, tmp_path):
    points = _channel_path(synthetic_data, tmp_path)
    assert len(points) >= 3 and points[0].extras["cut"] == 0.0
    cuts = [p.extras["cut"] for p in points]
    assert cuts[1] == pytest.approx(0.3) and all(a < b for a, b in itertools.pairwise(cuts))
    assert all(p.lam is None and p.extras["corrector"] == "channel" for p in points)
    flops = [p.flops_share for p in points]
    assert all(a >= b for a, b in itertools.pairwise(flops))
    for p in points[1:]:  # each cut leaves at most 1 - cut of the FLOPs (or the floor)
        assert p.flops_share <= 1 - p.extras["cut"] + 1e-9 or p.extras.get("ends") == "floor"
    assert flops[-1] < 0.7  # the path went somewhere
    dead = []
    for p in points:
        model = load_model(tmp_path / p.checkpoint)
        weights = _weights_in_scope(model)
        rows = []
        for i, w in enumerate(weights):
            zero = (w == 0).flatten(1) if i < len(weights) - 1 else (w == 0).T
            # a channel is cut whole or not at all: no scattered zeros
            assert bool((zero.all(1) | ~zero.any(1)).all()), (p.key, i)
            rows.append(zero.all(1))
            assert int((~zero.all(1)).sum()) >= max(1, math.ceil(0.1 * len(zero)) - 1)
        dead.append(rows)
    for before, after in itertools.pairwise(dead):
        assert all(bool((a <= b).all()) for a, b in zip(before, after, strict=True))


def test_channel_corrector_needs_groups(synthetic_data):
    with pytest.raises(ConfigError, match="needs complexity group-l1 or flops, not l1"):
        _channel_path(synthetic_data, complexity="l1")
    with pytest.raises(ConfigError, match="no prox step"):
        _channel_path(synthetic_data, prox=True)


def test_path_distance_counts_a_recovery_of_accuracy_only_when_asked():
    from moprune.front.path import _distance
    from moprune.front.points import Point

    def pt(acc, share):
        return Point(method="path", f1=1.0, f2=1.0, val_acc=acc, zeros=0, scope_size=10,
                     flops_share=share)

    prev, ref = pt(0.70, 0.1), [0.2, 1.0]
    recovered, fell = pt(0.80, 0.1), pt(0.60, 0.1)  # same FLOPs, +-10 points
    assert _distance(recovered, prev, ref, 0.3, "channel") == pytest.approx(1 / 3)
    assert _distance(recovered, prev, ref, 0.3, "channel", fall_only=True) == 0.0
    assert _distance(fell, prev, ref, 0.3, "channel", fall_only=True) == pytest.approx(1 / 3)
    cut = pt(0.80, 0.01)  # one decade less FLOPs: half a unit, whatever the recovery
    assert _distance(cut, prev, ref, 0.3, "channel", fall_only=True) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="distance must be one of"):
        _path(None, distance="both")


def test_channel_path_state_records_its_distance(synthetic_data, tmp_path):
    _channel_path(synthetic_data, tmp_path, distance="fall")
    with pytest.raises(ConfigError):  # a path that counted only falls does not resume
        _channel_path(synthetic_data, tmp_path)  # as one that counts any change
