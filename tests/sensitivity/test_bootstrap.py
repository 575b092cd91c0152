"""Intervals on synthetic landscapes whose truth and noise are known."""

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from moprune.sensitivity import (
    SensitivitySettings,
    bootstrap_intervals,
    compare_landscapes,
    log_grid,
    resample,
    seed_noise,
    significant_cells,
    verdicts,
)
from moprune.sensitivity.landscape import _w1

GRID = log_grid({"lr": 0.01, "weight_decay": 1e-4}, ["lr", "weight_decay"], size=13, span=2)


def _peak(at, height=0.9):
    i, j = np.meshgrid(np.arange(13), np.arange(13), indexing="ij")
    return height - 0.02 * ((i - at[0]) ** 2 + (j - at[1]) ** 2)


def _runs(truth, noise, seeds, rng):
    return truth[None] + rng.normal(0, noise, size=(seeds, *truth.shape))


def _analyse(base, other, temperature):
    settings = SensitivitySettings(temperature=temperature)
    c = {"level": 0.5, **compare_landscapes(GRID, base, other, temperature=temperature),
         "interval": bootstrap_intervals(GRID, base, other, n=300, seed=0,
                                         temperature=temperature)}
    return c, verdicts({"keep-0.5": c}, settings)


def test_a_true_shift_of_one_cell_is_detected_at_three_seeds_with_low_noise():
    rng = np.random.default_rng(0)
    noise = 0.002
    base, other = _runs(_peak((6, 6)), noise, 3, rng), _runs(_peak((7, 6)), noise, 3, rng)
    temperature = seed_noise({"b": base, "o": other},
                             {"b": np.zeros((13, 13)), "o": np.zeros((13, 13))})["median_std"]
    assert temperature == pytest.approx(noise, rel=0.3)  # the measured noise
    c, answer = _analyse(base, other, temperature)
    assert c["interval"]["best_shift_decades"]["lr"] == pytest.approx([1 / 3, 1 / 3])
    assert c["interval"]["wasserstein_decades"]["lr"][0] > 0.25
    assert c["interval"]["regret_points"][0] > 0.5  # one cell off the peak costs 2 points
    assert answer["hyperparameters"]["lr"] == {"moves": True, "at_levels": [0.5]}
    assert answer["hyperparameters"]["weight_decay"]["moves"] is False
    assert answer["retune_from_level"] == 0.5
    assert "lr moves at keep 0.5" in answer["summary"]
    sig = significant_cells(base, other)
    # every cell moved by 0.02 * |2 i - 13| points (> 5 standard errors)
    assert sig.mean() > 0.9


def test_no_shift_is_claimed_at_high_noise():
    rng = np.random.default_rng(1)
    truth = _peak((6, 6))
    for _ in range(3):
        base, other = _runs(truth, 0.05, 3, rng), _runs(truth, 0.05, 3, rng)
        c, answer = _analyse(base, other, 0.05)
        assert not answer["hyperparameters"]["lr"]["moves"]
        assert not answer["hyperparameters"]["weight_decay"]["moves"]
        assert answer["retune_from_level"] is None
        assert "no significant move" in answer["summary"]
        assert "no significant gain" in answer["summary"]
        low, high = c["interval"]["wasserstein_decades"]["lr"]
        assert low < 0.25  # the interval reaches under the threshold
        assert high > low
        # equal truth: about 5% of the cells flagged by chance, not one in five
        assert significant_cells(base, other).mean() < 0.12


def test_one_seed_gives_no_interval_and_no_verdict():
    base, other = _peak((6, 6)), _peak((9, 6))
    c, answer = _analyse(base, other, 0.01)
    assert c["interval"] is None
    assert not answer["hyperparameters"]["lr"]["moves"]
    assert "one seed per cell: no intervals" in answer["summary"]
    assert not significant_cells(base[None], other[None]).any()


def test_held_out_regret_has_no_winners_curse():
    """On two equal flat landscapes the true regret is 0. Choosing the best cell on the
    same noisy values that score it inflates it; holding one seed out does not."""
    rng = np.random.default_rng(2)
    flat = np.full((13, 13), 0.8)
    plug_in, held_out = [], []
    for _ in range(40):
        base, other = _runs(flat, 0.01, 3, rng), _runs(flat, 0.01, 3, rng)
        held_out.append(compare_landscapes(GRID, base, other)["regret_points"])
        plug_in.append(compare_landscapes(GRID, base.mean(0), other.mean(0))["regret_points"])
    assert np.mean(plug_in) > 1.0  # about 2.5 standard errors of a 3-seed mean
    assert abs(np.mean(held_out)) < 0.25


def test_resample_draws_each_cell_from_its_own_seeds():
    runs = np.arange(3 * 4, dtype=float).reshape(3, 2, 2)  # every value unique
    draws = resample(runs, 50, np.random.default_rng(0))
    assert draws.shape == (50, 3, 2, 2)
    for i, j in np.ndindex(2, 2):
        assert set(np.unique(draws[:, :, i, j])) <= set(runs[:, i, j])
    # cells are drawn independently: some replicate mixes seeds across cells
    assert any(len({int(d[0, i, j]) // 4 for i, j in np.ndindex(2, 2)}) > 1 for d in draws)


def test_w1_is_scipys_wasserstein_distance():
    rng = np.random.default_rng(3)
    x = GRID.log10(0)
    for _ in range(5):
        p, q = rng.random(13), rng.random(13)
        p, q = p / p.sum(), q / q.sum()
        assert _w1(x, p, q) == pytest.approx(wasserstein_distance(x, x, p, q))


def test_seed_noise_leaves_out_cells_with_a_diverged_seed():
    runs = np.array([[0.8, 0.1], [0.82, 0.9]])[:, None, :]  # 2 seeds, 1 x 2 cells
    diverged = np.array([[0, 1]])
    noise = seed_noise({"n": runs}, {"n": diverged})
    assert noise["median_std"] == pytest.approx(np.std([0.8, 0.82], ddof=1))
    assert noise["cells_left_out"] == 1
    assert seed_noise({"n": runs[:1]}, {"n": diverged}) is None


def test_a_verdict_needs_the_estimate_and_the_lower_end_above_the_threshold():
    """A bootstrap of a distance can sit wholly above the distance of the means; then the
    estimate decides."""
    def comparison(w1, interval):
        return {"level": 0.5, "wasserstein_decades": {"lr": w1},
                "retune_gain_points": {"lr": 0.0}, "regret_points": 0.0,
                "interval": {"wasserstein_decades": {"lr": interval},
                             "retune_gain_points": {"lr": [0.0, 0.0]},
                             "regret_points": [0.0, 0.0]}}

    settings = SensitivitySettings(params=("lr",))
    assert not verdicts({"k": comparison(0.1, [0.3, 0.5])}, settings)[
        "hyperparameters"]["lr"]["moves"]
    assert verdicts({"k": comparison(0.35, [0.3, 0.5])}, settings)[
        "hyperparameters"]["lr"]["moves"]
