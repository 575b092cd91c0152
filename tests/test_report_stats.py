"""band_differences: paired differences by sparsity band, the seed as the unit."""

from __future__ import annotations

import math

import pytest

from moprune.errors import ConfigError
from moprune.report import band_differences


def test_seed_is_the_unit_and_interval_is_students_t() -> None:
    # seed 0 has two points in the band (mean 1.0), seed 1 one (3.0), seed 2 one (-1.0)
    diffs = {0: [(0.5, 0.0), (0.7, 2.0)], 1: [(0.6, 3.0)], 2: [(0.79, -1.0)]}
    (band,) = band_differences(diffs, [(0.5, 0.8)])
    assert band.per_seed == {0: 1.0, 1: 3.0, 2: -1.0}
    assert band.mean == pytest.approx(1.0)
    sd = math.sqrt(((1 - 1) ** 2 + (3 - 1) ** 2 + (-1 - 1) ** 2) / 2)  # 2.0
    half = 4.302652729749462 * sd / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert band.interval == pytest.approx((1.0 - half, 1.0 + half))
    assert band.row() == ["50.0%-80.0%", "+1.00 +3.00 -1.00", "+1.00",
                          f"[{1.0 - half:+.2f}, {1.0 + half:+.2f}]"]


def test_bands_split_at_their_bounds_and_empty_ones_are_left_out() -> None:
    diffs = {0: [(0.8, 1.0), (0.9, 5.0), (0.95, 7.0)], 1: [(0.85, 3.0)]}
    bands = band_differences(diffs, [(0.5, 0.8), (0.8, 0.9), (0.9, 1.0)])
    assert [(b.low, b.high) for b in bands] == [(0.8, 0.9), (0.9, 1.0)]
    assert bands[0].per_seed == {0: 1.0, 1: 3.0}  # 0.9 is in the next band, not this one
    assert bands[1].per_seed == {0: 6.0} and bands[1].interval is None  # one seed: no interval
    assert bands[1].row()[-1] == ""


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    diffs = {s: [(0.6, float(s))] for s in range(5)}
    (b90,) = band_differences(diffs, [(0.5, 0.8)], confidence=0.9)
    (b99,) = band_differences(diffs, [(0.5, 0.8)], confidence=0.99)
    assert b99.interval[0] < b90.interval[0] < b90.mean < b90.interval[1] < b99.interval[1]


@pytest.mark.parametrize(("bands", "confidence"), [([(0.8, 0.8)], 0.95), ([(0.5, 0.8)], 1.0)])
def test_bad_settings_are_refused(bands: list[tuple[float, float]], confidence: float) -> None:
    with pytest.raises(ConfigError):
        band_differences({0: [(0.6, 1.0)]}, bands, confidence=confidence)
