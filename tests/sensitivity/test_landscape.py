import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from moprune.errors import ConfigError
from moprune.sensitivity import compare_landscapes, log_grid, to_distribution


def _grid(size=7):
    return log_grid({"lr": 0.01, "weight_decay": 1e-4}, ["lr", "weight_decay"], size=size,
                    span=1.0)


def test_log_grid_is_centered_on_the_optimum_one_decade_each_side():
    grid = _grid()
    assert grid.shape == (7, 7)
    assert grid.values[0][3] == pytest.approx(0.01)
    assert grid.values[0][0] == pytest.approx(0.001) and grid.values[0][-1] == pytest.approx(0.1)
    assert np.allclose(np.diff(grid.log10(1)), 1 / 3)  # log-spaced: 1/3 decade steps
    cells = grid.cells()
    assert len(cells) == 49 and cells[0] == {"lr": pytest.approx(1e-3),
                                             "weight_decay": pytest.approx(1e-5)}
    assert cells[1]["weight_decay"] > cells[0]["weight_decay"]  # last axis fastest (C order)
    assert grid.index({"lr": 0.01, "weight_decay": 1e-4}) == (3, 3)
    assert log_grid({"lr": 1.0}, ["lr"], size=3, span=2).values == ((0.01, 1.0, 100.0),)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 1}, "grid size must be an integer >= 2"),
    ({"size": 2.5}, "grid size must be an integer >= 2"),
    ({"span": 0}, "span must be > 0"),
])
def test_bad_grids(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        log_grid({"lr": 0.01}, ["lr"], **kwargs)
    with pytest.raises(ConfigError, match="no optimum value for 'momentum'"):
        log_grid({"lr": 0.01}, ["momentum"])
    with pytest.raises(ConfigError, match="positive center"):
        log_grid({"lr": 0.0}, ["lr"])


def _peak(grid, at, width=1.0):
    """A smooth landscape peaking at cell ``at``."""
    i, j = np.meshgrid(np.arange(grid.shape[0]), np.arange(grid.shape[1]), indexing="ij")
    return 0.9 - 0.02 * ((i - at[0]) ** 2 + (j - at[1]) ** 2) / width


def test_identical_landscapes_are_at_distance_zero():
    grid = _grid()
    land = _peak(grid, (3, 3))
    c = compare_landscapes(grid, land, land.copy())
    assert c["wasserstein_decades"] == {"lr": pytest.approx(0, abs=1e-12),
                                        "weight_decay": pytest.approx(0, abs=1e-12)}
    assert c["jensen_shannon"] == pytest.approx(0, abs=1e-12)
    assert c["best_shift_decades"] == {"lr": 0.0, "weight_decay": 0.0}
    assert c["retune_gain_points"] == {"lr": 0.0, "weight_decay": 0.0}
    assert c["spearman_rho"] == pytest.approx(1.0) and c["regret_points"] == 0.0


def test_a_landscape_shifted_by_one_cell():
    """Moved by one cell along lr: every distance says one third of a decade along lr, none
    along weight decay; the regret is the drop one cell away from the peak."""
    grid = _grid()
    base = _peak(grid, (3, 3))
    # the same shape, one cell higher in lr; a 9-cell axis keeps the mass inside the grid
    wide = log_grid({"lr": 0.01, "weight_decay": 1e-4}, ["lr", "weight_decay"], size=13,
                    span=2.0)
    b, o = _peak(wide, (6, 6)), _peak(wide, (7, 6))
    c = compare_landscapes(wide, b, o, temperature=0.01)
    assert c["best_shift_decades"]["lr"] == pytest.approx(1 / 3)
    assert c["best_shift_decades"]["weight_decay"] == 0.0
    # W1 between a distribution and its translate by one cell is exactly one cell (1/3
    # decade), up to the mass that the translation pushes over the grid's edge.
    assert c["wasserstein_decades"]["lr"] == pytest.approx(1 / 3, abs=2e-3)
    assert c["wasserstein_decades"]["weight_decay"] == pytest.approx(0, abs=1e-9)
    assert c["regret_points"] == pytest.approx(2.0)  # 0.02 lower one cell off the peak
    assert c["retune_gain_points"] == {"lr": pytest.approx(2.0), "weight_decay": 0.0}
    assert c["best_cell"] == {"base": [6, 6], "other": [7, 6]}
    p, q = to_distribution(b), to_distribution(o)
    assert c["jensen_shannon"] == pytest.approx(jensenshannon(p.ravel(), q.ravel(), base=2) ** 2)
    assert 0 < c["jensen_shannon"] < 1
    assert grid.shape == base.shape


def test_distributions():
    acc = np.array([[0.5, 0.6], [0.7, 0.8]])
    p = to_distribution(acc, temperature=0.1)
    assert p.sum() == pytest.approx(1) and p[1, 1] / p[1, 0] == pytest.approx(np.e)
    q = to_distribution(acc, method="quantile", quantile=0.5)
    assert q.tolist() == [[0, 0], [0.5, 0.5]]
    assert to_distribution(np.array([np.nan, 0.5]))[0] < 1e-10  # a failed cell has no mass
    with pytest.raises(ConfigError, match="distribution must be one of"):
        to_distribution(acc, method="argmax")
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        to_distribution(acc, temperature=0)


def test_landscapes_of_another_shape_are_refused():
    grid = _grid()
    with pytest.raises(ConfigError, match="must have the grid's shape"):
        compare_landscapes(grid, np.zeros((7, 7)), np.zeros((5, 5)))
