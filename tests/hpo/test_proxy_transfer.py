"""The knee proxy's machinery: muP's per-layer lr factors, reuse of a transfer identical
to a trial, fidelity with seeds and bootstrap intervals, the FLOPs floor of the knee."""

import json
import math

import numpy as np
import pytest
import torch

from moprune.config import DataConfig, TrainConfig
from moprune.errors import ConfigError, MopruneError
from moprune.front import Front, Point
from moprune.hpo import (
    HPOJob,
    SearchSpace,
    StudySettings,
    fidelity,
    fidelity_intervals,
    fresh_model,
    mup_scales,
    regret_points,
    run_hpo,
    uniform_proxy,
)
from moprune.hpo.lr_transfer import ScaledSolver, base_shapes, scale_init

LR_ONLY = {"lr": {"type": "float", "low": 0.01, "high": 0.2, "log": True}}


def _resnet20_pair(share=0.25):
    base_recipe = {"model": "resnet20", "in_channels": 3, "num_classes": 10, "image_size": 32}
    proxy_recipe = uniform_proxy(base_recipe, share)
    make = dict(in_channels=3, num_classes=10, image_size=32, seed=0)
    return fresh_model({"model": "resnet20"}, **make), fresh_model(proxy_recipe, **make)


def test_mup_factors_per_layer_on_a_thinned_resnet20():
    base, proxy = _resnet20_pair(0.25)
    scales = mup_scales(proxy, base)
    shapes = dict(base.named_parameters())
    weights = [n for n, p in proxy.named_parameters() if p.ndim >= 2]
    first, readout = weights[0], weights[-1]
    assert readout == "fc.weight"  # the classifier: classes out, thinned features in
    checked = 0
    for name, p in proxy.named_parameters():
        b = shapes[name]
        s = scales[name]
        m_out = p.shape[0] / b.shape[0]
        if name == readout:
            m_in = p.shape[1] / b.shape[1]
            assert m_in < 1 and s.lr == pytest.approx(1 / m_in)
            assert s.init == pytest.approx(1 / math.sqrt(m_in)) and s.weight_decay == 1.0
        elif name == "fc.bias":
            assert s.lr == 1.0 and s.init == pytest.approx(math.sqrt(scales[readout].m_in))
        elif p.ndim >= 2:
            m_in = p.shape[1] / b.shape[1]
            assert s.lr == pytest.approx(m_out / m_in)
            assert s.weight_decay == pytest.approx(m_in / m_out)
            if name == first:  # the image's 3 channels are not a width: lr times m_out
                assert m_in == 1 and s.lr == pytest.approx(m_out) and m_out < 1
            checked += 1
        else:  # batch-norm scales and shifts: vectors of the layer's width
            assert s.lr == pytest.approx(m_out) and s.weight_decay == pytest.approx(1 / m_out)
    assert checked == 21  # 19 convolutions and 2 projection shortcuts
    # vectors of thinned layers learn slower (lr times m < 1)
    assert max(s.lr for n, s in scales.items() if n.endswith("bn1.weight")) < 1
    # Adam: weights 1/m_in, vectors unchanged
    adam = mup_scales(proxy, base_shapes(base), optimizer="adam")
    assert adam[first].lr == 1.0 and adam["bn1.weight"].lr == 1.0
    conv = weights[1]
    assert adam[conv].lr == pytest.approx(shapes[conv].shape[1] / dict(
        proxy.named_parameters())[conv].shape[1])
    # the base network against itself: every factor 1 (muP = SP at the base shape)
    same = mup_scales(base, base)
    assert {(s.lr, s.weight_decay, s.init) for s in same.values()} == {(1.0, 1.0, 1.0)}


def test_mup_solver_groups_and_init(synthetic_data):
    base, proxy = _resnet20_pair(0.25)
    scales = mup_scales(proxy, base)
    before = proxy.fc.weight.detach().clone()
    scale_init(proxy, scales)
    assert torch.allclose(proxy.fc.weight, before * scales["fc.weight"].init)
    config = TrainConfig(lr=0.1, weight_decay=1e-4)
    solver = ScaledSolver(scales)
    opt = solver._make_optimizer(proxy, config)
    by_param = {id(p): g for g in opt.param_groups for p in g["params"]}
    for name, p in proxy.named_parameters():
        g = by_param[id(p)]
        assert g["lr"] == pytest.approx(0.1 * scales[name].lr)
        assert g["weight_decay"] == pytest.approx(1e-4 * scales[name].weight_decay)
    with pytest.raises(ConfigError, match="thinned copy of the base network"):
        mup_scales(fresh_model({"model": "lenet5"}, in_channels=3, num_classes=10,
                               image_size=32, seed=0), base)


def _job(root, out, **kw):
    settings = StudySettings(sampler="random", trials=kw.pop("trials", 3))
    return HPOJob(model="mlp", data=DataConfig(data_root=str(root), val_fraction=0.2),
                  train=TrainConfig(epochs=2, batch_size=64), space=LR_ONLY,
                  settings=settings, out=str(out), **kw)


def test_a_transfer_identical_to_a_trial_is_read_not_trained(synthetic_root, tmp_path,
                                                             monkeypatch):
    import moprune.hpo.transfer as transfer
    from moprune.data import prepare_data

    def no_training(*args, **kwargs):
        raise AssertionError("the transfer trained a configuration a trial had trained")

    monkeypatch.setattr(transfer, "train", no_training)  # trials train in the objective
    r = run_hpo(_job(synthetic_root, tmp_path / "full"), top_k=2, reference=False)
    monkeypatch.undo()
    trials = {t["number"]: t for t in r["trials"]}
    assert len(r["reused"]["transfer"]) == 2
    for row, reused in zip(r["transfer"], r["reused"]["transfer"], strict=True):
        trial = trials[row["reused_trial"]]
        assert reused["trial"] == trial["number"] and row["params"] == trial["params"]
        assert row["val_acc"] == pytest.approx(trial["val_acc"])  # the trial's weights
    assert r["best"]["val_acc"] > 0.3  # learnt something: the comparisons below mean it
    # only the weights a later transfer may need are kept
    assert len(list((tmp_path / "full" / "weights").glob("trial-*.pt"))) <= 3
    # what was read is what training again gives
    job = _job(synthetic_root, tmp_path / "full")
    splits = prepare_data(job.data)
    space = SearchSpace.from_dict(LR_ONLY)
    best = r["best"]
    again = transfer.train_cached(tmp_path / "again.json", {"model": "mlp"}, best["params"],
                                  space.apply(job.train, best["params"]), splits,
                                  evaluate_test=True)
    assert (again["val_acc"], again["test_acc"]) == pytest.approx(
        (best["val_acc"], best["test_acc"]))
    # other epochs: trained, nothing kept
    other = run_hpo(_job(synthetic_root, tmp_path / "other"), top_k=1, final_epochs=1)
    assert other["reused"]["transfer"] == []
    assert not (tmp_path / "other" / "weights").exists()
    # a proxy study's transfers train the base network
    proxy = run_hpo(_job(synthetic_root, tmp_path / "proxy", proxy={"model": "lenet5"}),
                    top_k=1)
    assert proxy["reused"]["transfer"] == [] and "reused_trial" not in proxy["transfer"][0]


def test_fidelity_bootstrap_on_known_rankings():
    rng = np.random.default_rng(0)
    truth = np.linspace(0.5, 0.9, 12)
    same = np.stack([truth, truth], axis=1)  # (configs, seeds), no seed noise
    ci = fidelity_intervals(same, same + 0.01, n=200)
    assert ci["spearman_rho"] == pytest.approx([1.0, 1.0])
    assert ci["regret_top1_points"] == pytest.approx([0.0, 0.0])
    reverse = fidelity_intervals(same[::-1].copy(), same, n=200)
    assert reverse["spearman_rho"][1] == pytest.approx(-1.0)
    assert regret_points(truth[::-1], truth)["regret_top1_points"] == pytest.approx(40.0)
    assert regret_points(truth[::-1], truth)["regret_top3_points"] == pytest.approx(
        100 * (truth[-1] - truth[2]))
    # seed noise widens the interval, and it holds the estimate
    noisy = truth[:, None] + rng.normal(0, 0.05, (12, 3))
    wide = fidelity_intervals(noisy, same, n=500)
    from scipy.stats import spearmanr

    rho = spearmanr(noisy.mean(1), truth).statistic
    assert wide["spearman_rho"][0] < rho <= wide["spearman_rho"][1] <= 1.0
    assert wide["spearman_rho"][1] - wide["spearman_rho"][0] > 0.05
    with pytest.raises(ConfigError, match="same configurations"):
        fidelity_intervals(noisy, same[:5], n=10)


def test_fidelity_with_seeds_extends_and_uses_mup(synthetic_root, tmp_path):
    from moprune.data import prepare_data

    data = DataConfig(data_root=str(synthetic_root), val_fraction=0.2)
    splits = prepare_data(data)
    base = {"model": "lenet5", "in_channels": 1, "num_classes": 10, "image_size": 28}
    proxy = uniform_proxy(base, 0.3)
    kw = dict(configs=3, bootstrap=50, out=tmp_path, splits=splits)
    one = fidelity("lenet5", data, proxy=proxy, train=TrainConfig(epochs=1, batch_size=64),
                   space=SearchSpace.from_dict(LR_ONLY), seeds=1, **kw)
    assert one.seeds == 1 and set(one.intervals) >= {"spearman_rho", "regret_top3_points"}
    assert one.to_dict()["spearman_rho"] == one.spearman_rho and one.out == tmp_path
    two = fidelity("lenet5", data, proxy=proxy, train=TrainConfig(epochs=1, batch_size=64),
                   space=SearchSpace.from_dict(LR_ONLY), seeds=2, **kw)
    assert [len(r["proxy"]) for r in two.configs] == [2, 2, 2]
    assert [r["base"][0] for r in two.configs] == [r["base"][0] for r in one.configs]
    assert {r["seed"] for row in two.configs for r in row["base"]} == {0, 1}
    mup = fidelity("lenet5", data, proxy=proxy, train=TrainConfig(epochs=1, batch_size=64),
                   space=SearchSpace.from_dict(LR_ONLY), seeds=1, lr_transfer="mup",
                   **{**kw, "out": tmp_path / "mup"})
    assert mup.lr_transfer == "mup"
    assert all(r["proxy"][0]["lr_transfer"] == "mup" for r in mup.configs)
    assert [r["proxy"][0]["val_acc"] for r in mup.configs] != [
        r["proxy"][0]["val_acc"] for r in one.configs]
    assert json.loads((tmp_path / "fidelity.json").read_text())["seeds"] == 2


def _pt(acc, share, key):
    return Point(method="path", f1=1 - acc, f2=share, val_acc=acc, zeros=0, scope_size=100,
                 lam=0.0, flops_share=share, tag=key)


def test_flops_floor_in_knee_choice():
    pts = [_pt(0.91, 1.0, "a"), _pt(0.905, 0.5, "b"), _pt(0.90, 0.3, "c"),
           _pt(0.895, 0.12, "d"), _pt(0.89, 0.06, "e"), _pt(0.60, 0.01, "f")]
    front = Front(pts)
    free = front.knee("chord", axes="flops")
    floored = front.knee("chord", axes="flops", floor=0.2)
    assert free.flops_share < 0.2 <= floored.flops_share
    assert front.knee("chord", axes="flops", floor=0.0) is free
    with pytest.raises(MopruneError, match="no point keeps 99% or more"):
        Front(pts[1:]).knee("chord", axes="flops", floor=0.99)
    with pytest.raises(ConfigError, match="a floor needs axes"):
        front.knee("chord", floor=0.2)


def test_flops_floor_knee_is_on_the_front_of_the_points_above_it():
    # a path's later points have trained longer: the sparse "x" dominates every point but
    # the dense one, yet under a floor of 20% "b" and "c" are optimal
    pts = [_pt(0.91, 1.0, "a"), _pt(0.88, 0.5, "b"), _pt(0.87, 0.25, "c"),
           _pt(0.86, 0.22, "d"), _pt(0.95, 0.07, "x")]
    front = Front(pts)
    assert [p.tag for p in front.non_dominated(axes="flops")] == ["x"]
    above = front.non_dominated(axes="flops", floor=0.2)
    assert [p.tag for p in above] == ["a", "b", "c", "d"]
    assert front.knee("chord", axes="flops", floor=0.2).tag in ("b", "c")


def test_proxy_from_a_flops_path_with_a_floor(synthetic_data, tmp_path, monkeypatch):
    from moprune.front import Path, train_front
    from moprune.hpo import proxy_source

    # the synthetic path's knee keeps about 98% of the FLOPs, more than a proxy may
    # (see the next test); lifted here to test the making of the proxy
    monkeypatch.setattr("moprune.hpo.sources._MAX_PROXY_FLOPS", 1.0)

    front = train_front("lenet5", synthetic_data, method=Path(points=5), complexity="flops",
                        prox=True, train=TrainConfig(epochs=4, batch_size=64), out=tmp_path)
    shares = sorted(p.flops_share for p in front.non_dominated(axes="flops"))
    floor = shares[len(shares) // 2]  # half of the front's points are below it
    recipe, seconds = proxy_source(tmp_path, flops_floor=floor)
    knee = front.knee("chord", axes="flops", floor=floor)
    assert knee.flops_share >= floor
    made = json.loads((tmp_path / f"knee-chord-flops{floor:g}-compact.json").read_text())
    assert made["point"] == knee.key and not any(p.retrained for p in front.points)
    # the creation time is the whole path, and the compaction
    assert seconds["front"] == pytest.approx(sum(p.seconds for p in front.points))
    assert seconds["compaction"] >= 0 and recipe["model"] == "lenet5"
    assert recipe.get("pruning_history") is not None or knee.flops_share == 1.0
    with pytest.raises(ConfigError, match="FLOPs floor needs a front run directory"):
        proxy_source("uniform:0.5", flops_floor=0.2, base={"model": "lenet5"})


def test_a_knee_that_keeps_the_flops_is_refused_as_a_proxy(tmp_path):
    from moprune.hpo import proxy_source

    # the VGG's flops path at lam 0.99 (runs/knee_proxy/vgg/path): accuracy fell while
    # almost no channel went, so its knee in FLOPs terms kept nearly all of them
    pts = [_pt(0.8435, 1.0, "p000"), _pt(0.7862, 0.9903, "p005"),
           _pt(0.5515, 0.9592, "p006"), _pt(0.2508, 0.9184, "p008")]
    Front(pts).save(tmp_path / "front.json")
    assert Front(pts).knee("chord", axes="flops", floor=0.2).flops_share > 0.95
    with pytest.raises(ConfigError, match=r"keeps 9\d\.\d% of the FLOPs: no smaller network"):
        proxy_source(tmp_path, flops_floor=0.2)
    assert not list(tmp_path.glob("knee-*"))  # nothing compacted, nothing half-written
    # a front with a smaller network at its knee is accepted as far as the model file
    Front([_pt(0.91, 1.0, "a"), _pt(0.905, 0.5, "b"), _pt(0.90, 0.3, "c"),
           _pt(0.895, 0.12, "d"), _pt(0.60, 0.01, "f")]).save(tmp_path / "front.json")
    with pytest.raises(ConfigError, match="has no model file"):
        proxy_source(tmp_path, flops_floor=0.2)


def test_knee_tolerance_takes_accuracy_noise_as_ties():
    # the VGG channel path of seed 0 on one machine (runs/pathvar/change-s0): flat within
    # its noise from 37% to 1.3% of the FLOPs; the one point the noise lifted highest
    # (p003) dominates all above the floor, and the knee is that 37% network
    accs = [0.788, 0.777, 0.749, 0.805, 0.795, 0.786, 0.768, 0.780, 0.780, 0.787, 0.764]
    shares = [1.0, 0.80, 0.585, 0.367, 0.274, 0.213, 0.145, 0.098, 0.079, 0.054, 0.037]
    front = Front([_pt(a, s, f"p{i:03d}")
                   for i, (a, s) in enumerate(zip(accs, shares, strict=True))])
    assert front.knee("chord", axes="flops", floor=0.05).tag == "p003"
    # within 2 points of that knee, the smallest network above the floor is as good
    assert front.knee("chord", axes="flops", floor=0.05, tolerance=0.02).tag == "p009"
    assert front.knee("chord", axes="flops", floor=0.05, tolerance=0.01).tag == "p004"
    assert front.knee("chord", axes="flops", floor=0.05, tolerance=0.005).tag == "p003"
    # a real bend is kept: drops larger than the tolerance are not noise
    bent = Front([_pt(0.91, 1.0, "a"), _pt(0.905, 0.5, "b"), _pt(0.90, 0.3, "c"),
                  _pt(0.895, 0.12, "d"), _pt(0.80, 0.06, "e"), _pt(0.60, 0.01, "f")])
    assert bent.knee("chord", axes="flops", tolerance=0.02).tag == bent.knee(
        "chord", axes="flops").tag
    assert bent.knee("chord", axes="flops", tolerance=0.1).tag == "e"  # 9.5 points: noise
    with pytest.raises(ConfigError, match="knee tolerance needs axes"):
        front.knee("chord", tolerance=0.02)
    with pytest.raises(ConfigError, match="tolerance chooses the knee in FLOPs terms"):
        from moprune.hpo import proxy_source

        proxy_source("uniform:0.5", tolerance=0.02, base={"model": "lenet5"})
