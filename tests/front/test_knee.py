import numpy as np
import pytest

from moprune.errors import ConfigError
from moprune.front import KNEE_SELECTORS, Front, Point

# An L-shaped front: steep drop in f2 until f1 = 0.1, then flat. The corner is index 2.
L_SHAPE = np.array([[0.0, 1.0], [0.05, 0.5], [0.1, 0.05], [0.5, 0.02], [1.0, 0.0]])


@pytest.mark.parametrize("name", KNEE_SELECTORS.names())
def test_every_selector_finds_the_corner_of_an_l_shaped_front(name):
    assert KNEE_SELECTORS.get(name)().select(L_SHAPE) == 2


@pytest.mark.parametrize("name", KNEE_SELECTORS.names())
def test_fewer_than_three_points_gives_the_most_accurate(name):
    selector = KNEE_SELECTORS.get(name)()
    assert selector.select(np.array([[0.3, 0.2]])) == 0
    assert selector.select(np.array([[0.0, 1.0], [1.0, 0.0]])) == 0


@pytest.mark.parametrize("name", KNEE_SELECTORS.names())
def test_bad_input(name):
    with pytest.raises(ConfigError, match="needs an \\(n, 2\\) array"):
        KNEE_SELECTORS.get(name)().select(np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="finite"):
        KNEE_SELECTORS.get(name)().select(np.array([[0, 1], [np.nan, 0.5], [1, 0]]))


def test_chord_takes_the_point_farthest_below_the_chord():
    # on the circle x^2 + y^2 = 1 (convex towards the origin is 1 - circle)
    t = np.linspace(0, np.pi / 2, 7)
    F = np.stack([1 - np.sin(t), 1 - np.cos(t)], axis=1)[::-1]
    F = F[np.argsort(F[:, 0])]
    assert KNEE_SELECTORS.get("chord")().select(F) == 3  # the middle of a symmetric front


def test_selectors_agree_on_a_clear_bend():
    F = np.array([[0.0, 1.0], [0.2, 0.6], [0.4, 0.3], [0.45, 0.02], [1.0, 0.0]])
    assert [KNEE_SELECTORS.get(n)().select(F) for n in ("chord", "angle", "slope")] == [3] * 3


def test_angle_disagrees_with_chord_on_a_late_sharp_bend():
    # point 1 lies farthest below the chord (and its slope changes most), but the
    # sharpest corner (154 degrees against 156) is point 3
    H = np.array([[0.0, 1.0], [0.3, 0.4], [0.6, 0.15], [0.98, 0.02], [1.0, 0.0]])
    assert KNEE_SELECTORS.get("chord")().select(H) == 1
    assert KNEE_SELECTORS.get("slope")().select(H) == 1
    assert KNEE_SELECTORS.get("angle")().select(H) == 3


def test_front_knee_uses_normalised_non_dominated_points():
    pts = [Point(method="ws", f1=f1 * 3 + 1, f2=f2 / 100, val_acc=0.0, zeros=0, scope_size=1,
                 lam=i / 10) for i, (f1, f2) in enumerate(L_SHAPE)]
    dominated = Point(method="ws", f1=2.0, f2=0.9, val_acc=0.0, zeros=0, scope_size=1, lam=0.9)
    front = Front([*pts, dominated])
    assert front.knee("chord") is pts[2]
    with pytest.raises(ConfigError, match="unknown knee selector 'elbow'"):
        front.knee("elbow")


def test_the_empty_network_is_left_out_of_the_knee_by_default():
    # a front like the real ones: the empty network's f1 (ln 10) dwarfs the rest
    objs = [(0.29, 0.030, 0.7), (0.30, 0.011, 0.2), (0.31, 0.0075, 0.1), (0.36, 0.0035, 0.03),
            (0.40, 0.0022, 0.015), (0.48, 0.0015, 0.007), (2.303, 0.0, 0.0)]
    pts = [Point(method="ws", f1=f1, f2=f2, val_acc=0.0, zeros=round(1000 * (1 - kept)),
                 scope_size=1000, lam=i / 10) for i, (f1, f2, kept) in enumerate(objs)]
    front = Front(pts)
    assert front.knee("chord", include_empty=True) is pts[4]  # ~1.5% of the weights
    assert front.knee("chord") is pts[2]  # without it: 10% of the weights
    only_empty = Front([pts[-1]])
    assert only_empty.knee("chord") is pts[-1]


def test_lower_hull_keeps_the_supported_points_only():
    from moprune.front.knee import lower_hull

    # (0.2, 0.25) is non-dominated but lies above the segment (0.1, 0.3)-(0.3, 0.1)
    F = np.array([[0.0, 1.0], [0.1, 0.3], [0.2, 0.25], [0.3, 0.1], [1.0, 0.0]])
    assert lower_hull(F) == [0, 1, 3, 4]
    assert lower_hull(L_SHAPE) == [0, 1, 2, 3, 4]


def test_front_knee_ignores_unsupported_points():
    # without the hull, the dent at (0.2, 0.25) makes (0.1, 0.3) look like a sharp corner
    F = [(0.0, 1.0), (0.05, 0.6), (0.1, 0.3), (0.2, 0.25), (0.3, 0.1), (0.65, 0.05),
         (1.0, 0.0)]
    pts = [Point(method="ws", f1=f1, f2=f2, val_acc=0.0, zeros=0, scope_size=1, lam=i / 10)
           for i, (f1, f2) in enumerate(F)]
    front = Front(pts)
    assert front.knee("angle", supported=False) is pts[2]
    assert front.knee("angle") is pts[4]
    assert pts[3] not in [front.knee(n) for n in KNEE_SELECTORS.names()]


def test_a_one_point_kink_at_the_dense_end_is_not_a_knee():
    # many points near the dense end, one of them a sharp but tiny kink; the bend of the
    # front is at (0.3, 0.1)
    F = np.array([[0.0, 1.0], [0.001, 0.9], [0.03, 0.897], [0.1, 0.5], [0.3, 0.1],
                  [0.6, 0.05], [1.0, 0.0]])
    from moprune.front.knee import AngleKnee

    assert AngleKnee(window=0.0).select(F) == 1  # the kink, as before
    assert AngleKnee().select(F) == 4
    assert KNEE_SELECTORS.get("chord")().select(F) == 4


def test_knee_in_kept_and_flops_axes():
    # (f1, f2) say one thing, (validation error, kept share) another
    pts = [Point(method="path", f1=0.30, f2=0.050, val_acc=0.91, zeros=0, scope_size=100,
                 lam=0.0, flops_share=1.0),
           Point(method="path", f1=0.31, f2=0.020, val_acc=0.905, zeros=80, scope_size=100,
                 lam=0.5, flops_share=0.3),
           Point(method="path", f1=0.33, f2=0.010, val_acc=0.90, zeros=97, scope_size=100,
                 lam=0.9, flops_share=0.35),  # dominated in (error, FLOPs)
           Point(method="path", f1=0.60, f2=0.002, val_acc=0.70, zeros=99, scope_size=100,
                 lam=0.99, flops_share=0.05)]
    front = Front(pts)
    assert front.knee("chord", axes="kept") is pts[2]
    assert front.knee("chord", axes="flops") is pts[1]
    assert front.objectives(axes="kept")[2] == pytest.approx([0.10, 0.03])
    with pytest.raises(ConfigError, match="axes must be one of"):
        front.knee("chord", axes="params")
    old = Front([Point(method="ws", f1=0.3, f2=0.1, val_acc=0.9, zeros=0, scope_size=1)])
    from moprune.errors import MopruneError

    with pytest.raises(MopruneError, match="has no FLOPs share"):
        old.knee("chord", axes="flops")


def test_best_within_a_budget_is_the_most_accurate_point_under_it():
    pts = [Point(method="path", f1=0.3, f2=0.05, val_acc=acc, zeros=zeros, scope_size=100,
                 lam=lam, flops_share=share)
           for acc, zeros, share, lam in [(0.91, 0, 1.0, 0.0), (0.90, 60, 0.4, 0.5),
                                          (0.885, 80, 0.15, 0.6), (0.89, 85, 0.18, 0.7),
                                          (0.87, 95, 0.05, 0.8), (0.1, 100, 0.0, 0.9)]]
    front = Front(pts)
    assert front.best_within(0.2) is pts[3]  # pts[2] is dominated by pts[3]
    assert front.best_within(0.1) is pts[4]  # the empty network stays out ...
    assert front.best_within(0.01, include_empty=True) is pts[5]  # ... unless asked in
    assert front.best_within(1.0) is pts[0]
    assert front.best_within(0.2, axes="kept") is pts[3]  # kept 15%
    from moprune.errors import MopruneError

    with pytest.raises(MopruneError, match="no non-dominated point keeps at most 1% of the "
                                           r"FLOPs \(the smallest keeps 5.0%\)"):
        front.best_within(0.01)
    with pytest.raises(ConfigError, match="a budget needs axes"):
        front.best_within(0.2, axes="objectives")
    with pytest.raises(ConfigError, match="max_share must be in"):
        front.best_within(0.0)


def test_best_within_with_noise_takes_the_largest_point_tied_with_the_best():
    # raw path points: the later, smaller ones trained longer and read a little higher
    pts = [Point(method="path", f1=0.3, f2=0.05, val_acc=acc, zeros=zeros, scope_size=100,
                 flops_share=share)
           for acc, zeros, share in [(0.88, 0, 1.0), (0.869, 50, 0.19), (0.874, 60, 0.12),
                                     (0.878, 70, 0.06), (0.850, 80, 0.03)]]
    front = Front(pts, meta={"splits": {"val": 6000}})
    assert front.best_within(0.2) is pts[3]  # the most accurate: 6% of the FLOPs
    # within 0.01 of it, the largest: 19%, though pts[3] dominates it
    assert pts[1] not in front.non_dominated(axes="flops")
    assert front.best_within(0.2, noise=0.01) is pts[1]
    assert front.best_within(0.2, noise=0.005) is pts[2]  # 0.869 is more than 0.005 below
    assert front.best_within(0.2, noise=0.0) is pts[3]
    assert front.best_within(0.1, noise=0.01) is pts[3]  # the budget still binds
    # auto: two standard errors of 0.878 on 6,000 images
    two_se = 2 * (0.878 * 0.122 / 6000) ** 0.5
    assert front.accuracy_noise(0.878) == pytest.approx(two_se)
    assert two_se == pytest.approx(0.00845, abs=1e-5)
    assert front.best_within(0.2, noise="auto") is pts[2]
    from moprune.errors import MopruneError

    with pytest.raises(ConfigError, match="noise must be 'auto' or an accuracy"):
        front.best_within(0.2, noise=1.5)
    with pytest.raises(MopruneError, match="does not record its validation split"):
        Front(pts).best_within(0.2, noise="auto")
