"""HPO backends: each name resolves to its class; a new one is one file + one line."""

import numpy as np
import pytest

from moprune.config import TrainConfig
from moprune.errors import ConfigError, UnknownNameError
from moprune.hpo import DEFAULT_SPACE, StudySettings, tune
from moprune.hpo.backends import HPOBackend, get_backend
from moprune.names import BACKENDS, HPO_BACKENDS


def test_every_registered_backend_is_an_hpo_backend():
    assert set(BACKENDS) == set(HPO_BACKENDS) >= {"optuna", "pymoo", "random-search"}
    for name in HPO_BACKENDS:
        backend = get_backend(name)
        assert isinstance(backend, HPOBackend) and backend.name == name
    with pytest.raises(UnknownNameError, match="unknown HPO backend 'ray'; known: optuna"):
        get_backend("ray")
    with pytest.raises(ConfigError, match="the random-search backend's samplers are "
                       "\\['uniform'\\]"):
        StudySettings(backend="random-search", sampler="tpe")


def test_random_search_backend_asks_seeded_points_and_resumes(synthetic_data, tmp_path,
                                                              monkeypatch):
    kw = dict(trials=3, backend="random-search", sampler="uniform", top_k=1,
              train=TrainConfig(epochs=1, batch_size=32, seed=4), out=tmp_path)
    result = tune("mlp", synthetic_data, **kw)
    assert [t["state"] for t in result.trials] == ["complete"] * 3
    expected = [DEFAULT_SPACE.decode(u) for u in np.random.default_rng(4).random((3, 5))]
    for trial, params in zip(result.trials, expected, strict=True):
        assert trial["params"] == pytest.approx(params)
    # resumed: the same points are asked, none trained again
    monkeypatch.setattr("moprune.hpo.objective.train", lambda *a, **k: pytest.fail("retrained"))
    again = tune("mlp", synthetic_data, **kw)
    assert [t["params"] for t in again.trials] == [t["params"] for t in result.trials]


class FirstCorner(HPOBackend):
    """Every trial at the space's lower corner, then its centre: a backend written outside
    moprune (this file), registered by one call and used by name."""

    def run(self, study, objective, settings, space, run_workers):
        for i in range(settings.trials):
            u = np.full(len(space), 0.0 if i == 0 else 0.5)
            study.enqueue_trial(space.decode(u), user_attrs={"eval_index": i})
        run_workers(settings.trials, only_enqueued=True)


def test_a_backend_registered_from_outside_is_used_by_name(synthetic_data, tmp_path):
    from moprune.cli import build_parser
    from moprune.names import register_backend, unregister_backend

    register_backend("first-corner", "tests.hpo.test_backends:FirstCorner", ("corner",))
    try:
        result = tune("mlp", synthetic_data, trials=2, backend="first-corner",
                      sampler="corner", top_k=1, seed=0, proxy=None,
                      train=TrainConfig(epochs=1, batch_size=32), out=tmp_path)
        assert [t["params"] for t in result.trials] == pytest.approx(
            [DEFAULT_SPACE.decode(np.full(5, v)) for v in (0.0, 0.5)])
        args = build_parser().parse_args(["hpo", "--backend", "first-corner", "--sampler",
                                          "corner", "--out", str(tmp_path / "cli")])
        assert args.backend == "first-corner"
        with pytest.raises(ValueError, match="already registered"):
            register_backend("first-corner", "x:Y", ())
    finally:
        unregister_backend("first-corner")
    with pytest.raises(ConfigError, match="backend must be one of"):
        StudySettings(backend="first-corner", sampler="corner")
