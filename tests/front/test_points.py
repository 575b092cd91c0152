import numpy as np
import pytest

from moprune.errors import MopruneError
from moprune.front import Front, Point


def _p(f1, f2, lam=None, **kw):
    return Point(method="ws", f1=f1, f2=f2, val_acc=1 - f1, zeros=int(100 * (1 - f2)),
                 scope_size=100, lam=lam, **kw)


def test_non_dominated_filtering():
    a, b, c = _p(0.1, 0.9, 0.0), _p(0.5, 0.5, 0.5), _p(0.9, 0.1, 1.0)
    dominated = _p(0.6, 0.6, 0.6)
    duplicate = _p(0.5, 0.5, 0.55)
    front = Front([c, dominated, a, b, duplicate])
    assert front.non_dominated() == [a, b, c]


def test_hypervolume_of_known_fronts():
    # normalised to [0, 1] by its own bounds; reference (1.1, 1.1)
    front = Front([_p(0.0, 1.0, 0.0), _p(1.0, 0.0, 1.0)])
    assert front.hypervolume() == pytest.approx(1.1 * 0.1 + 0.1 * 1.0)
    front.add(_p(0.5, 0.5, 0.5))
    assert front.hypervolume() == pytest.approx(0.21 + 0.5 * 0.5)
    # on wider bounds the points map to (0, .5), (.25, .25), (.5, 0): a staircase
    wide = (np.array([0.0, 0.0]), np.array([2.0, 2.0]))
    assert front.hypervolume(bounds=wide) == pytest.approx(0.25 * 0.6 + 0.25 * 0.85 + 0.6 * 1.1)


def test_retrained_points_stay_out_of_the_front():
    a, b, c = _p(0.1, 0.9, 0.0), _p(0.5, 0.5, 0.5), _p(0.9, 0.1, 1.0)
    better = _p(0.05, 0.05, 0.5, retrained=True, epochs=10)
    front = Front([a, b, c, better])
    assert front.non_dominated() == [a, b, c]
    assert front.final_version(b) is better
    assert front.final_version(a) is a


def test_save_and_load_roundtrip(tmp_path):
    front = Front([_p(0.1, 0.9, 0.0, test_acc=0.8), _p(0.9, 0.1, 1.0)], meta={"model": "x"})
    front.save(tmp_path / "front.json")
    again = Front.load(tmp_path / "front.json")
    assert [p.to_dict() for p in again] == [p.to_dict() for p in front]
    assert again.meta == {"model": "x"}


def test_add_replaces_same_key_and_bad_files(tmp_path):
    front = Front([_p(0.1, 0.9, 0.5)])
    front.add(_p(0.2, 0.8, 0.5))
    assert len(front) == 1 and front.points[0].f1 == 0.2
    with pytest.raises(MopruneError, match="no front at"):
        Front.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"x": 1}')
    with pytest.raises(MopruneError, match="is not a moprune front"):
        Front.load(tmp_path / "bad.json")
