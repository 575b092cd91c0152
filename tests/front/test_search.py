import math

import pytest

from moprune.errors import ConfigError
from moprune.front import WEIGHT_SEARCHES, Front, GridSearch, Point, default_grid


def analytic(lam: float) -> Point:
    """The exact weighted-sum minimiser on the convex front f1 = x, f2 = (1 - x)^2."""
    x = 0.0 if lam == 0 else min(1.0, max(0.0, 1 - (1 - lam) / (2 * lam)))
    return Point(method="ws", f1=x, f2=(1 - x) ** 2, val_acc=0, zeros=0, scope_size=1, lam=lam)


def on_front(p: Point) -> bool:
    return math.isclose(p.f2, (1 - p.f1) ** 2, abs_tol=1e-12) and 0 <= p.f1 <= 1


def test_dichotomic_on_a_convex_analytic_front():
    points = WEIGHT_SEARCHES.get("dichotomic")().run(analytic, budget=9)
    assert len(points) == 9
    assert [p.lam for p in points[:3]] == pytest.approx([0.0, 1.0, 0.5])  # normal of (0,1)-(1,0)
    assert all(on_front(p) for p in points)
    front = Front(points)
    assert len(front.non_dominated()) == 9  # every run found a new supported point
    # level 2 splits both halves with their segment normals
    a, c, b = analytic(0.0), analytic(0.5), analytic(1.0)
    expected = sorted([(c.f1 - a.f1) / (a.f2 - c.f2 + c.f1 - a.f1),
                       (b.f1 - c.f1) / (c.f2 - b.f2 + b.f1 - c.f1)])
    assert sorted(p.lam for p in points[3:5]) == pytest.approx(expected)


def test_dichotomic_uses_the_budget_when_pairs_are_final():
    """On a front of two points only (a step), the search falls back to bisection."""
    def step(lam: float) -> Point:
        x = 0.0 if lam < 0.5 else 1.0
        return Point(method="ws", f1=x, f2=1 - x, val_acc=0, zeros=0, scope_size=1, lam=lam)

    points = WEIGHT_SEARCHES.get("dichotomic")().run(step, budget=6)
    assert len(points) == 6
    assert len({p.lam for p in points}) == 6


def test_bisection_takes_means_of_neighbouring_weights():
    points = WEIGHT_SEARCHES.get("bisection")().run(analytic, budget=5)
    lams = [p.lam for p in points]
    assert lams[:3] == [0.0, 1.0, 0.5]
    assert all(lam in (0.25, 0.75, 0.125, 0.375, 0.625, 0.875) for lam in lams[3:])


def test_grid_and_default_grid():
    assert [p.lam for p in GridSearch([0.0, 0.3, 1.0]).run(analytic, budget=10)] == [0, 0.3, 1]
    assert [p.lam for p in GridSearch([0.0, 0.3, 1.0]).run(analytic, budget=2)] == [0, 0.3]
    grid = default_grid(6)
    assert grid[0] == 0 and grid[-1] == 1 and grid == sorted(grid) and len(grid) == 6
    with pytest.raises(ConfigError, match="grid weights must be in \\[0, 1\\], got 2"):
        GridSearch([0.0, 2.0])


@pytest.mark.parametrize("name", WEIGHT_SEARCHES.names())
def test_same_input_same_search_and_budget_check(name):
    a = [p.lam for p in WEIGHT_SEARCHES.get(name)().run(analytic, budget=7)]
    b = [p.lam for p in WEIGHT_SEARCHES.get(name)().run(analytic, budget=7)]
    assert a == b and len(a) == 7
    with pytest.raises(ConfigError, match="budget must be >= 2 runs, got 1"):
        WEIGHT_SEARCHES.get(name)().run(analytic, budget=1)


def test_dichotomic_does_not_spend_its_budget_on_the_collapse_cliff():
    """Past lam = 0.9 every run ends at the empty network (with slightly different biases,
    so different f1): an empty run below 1 closes the gap above it."""
    def cliff(lam: float) -> Point:
        if lam > 0.9:
            # the lam = 1 run trains its biases best: its empty network dominates
            return Point(method="ws", f1=2.31 - 0.01 * lam, f2=0.0, val_acc=0.1, zeros=100,
                         scope_size=100, lam=lam)
        x = lam / 0.9
        return Point(method="ws", f1=0.3 + 0.2 * x ** 3, f2=0.05 * (1 - x) ** 2 + 1e-3,
                     val_acc=0.9, zeros=round(90 * x), scope_size=100, lam=lam)

    points = WEIGHT_SEARCHES.get("dichotomic")().run(cliff, budget=10)
    assert len(points) == 10
    for i, p in enumerate(points):
        if p.zeros == 100 and p.lam < 1:  # nothing trained above an empty run afterwards
            assert all(q.lam < p.lam for q in points[i + 1:])
    # two empty runs below 1 send the cliff's gap last: the budget went to the front
    assert sum(p.zeros == 100 and p.lam < 1 for p in points) <= 2
    assert sum(p.zeros < 100 for p in points) >= 7
    # with one, the cliff's gap is still split when it is the only one: the budget is spent
    one = WEIGHT_SEARCHES.get("dichotomic")(cliff_runs=1).run(cliff, budget=10)
    assert len(one) == 10 and sum(p.zeros < 100 for p in one) >= 7
    # more cliff runs find the edge more closely (the dominated empty runs do not pull
    # the bisection towards lam = 1: the sparsest network found is past lam 0.89)
    edge = WEIGHT_SEARCHES.get("dichotomic")(cliff_runs=3).run(cliff, budget=10)
    assert max(p.lam for p in edge if p.zeros < 100) > 0.89
    with pytest.raises(ConfigError, match="cliff_runs must be >= 1, got 0"):
        WEIGHT_SEARCHES.get("dichotomic")(cliff_runs=0)
