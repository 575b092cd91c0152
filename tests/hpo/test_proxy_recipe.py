"""The default proxy recipe: its front settings, its pay check and the auto decision."""

import pytest

import moprune.hpo.proxy as proxy_module
from moprune.config import DataConfig, TrainConfig
from moprune.data import prepare_data
from moprune.errors import ConfigError
from moprune.front import FrontConfig
from moprune.hpo.proxy import DEFAULT_RECIPE, ProxyRecipe, auto_proxy, pay_check, recipe_front


def test_the_recipe_front_is_a_channel_path_on_the_flops():
    front = recipe_front(FrontConfig(model="vgg", train=TrainConfig(epochs=12, seed=3)))
    assert (front.method.name, front.complexity, front.method.corrector) == ("path", "flops",
                                                                      "channel")
    assert front.method.points == 20 and front.train.epochs == 5 and front.train.seed == 3
    assert front.method.warmup == 1.0 and front.method.start_lam == 0.2
    assert front.knee_axes == "flops" and front.model == "vgg"
    with pytest.raises(ConfigError, match="recipe noise must be 'auto' or an accuracy"):
        ProxyRecipe(noise="often")


def _timed(base, small):
    """time_trial stand-in: the base network's pieces (its recipe is its name alone), or
    the proxy's."""
    def fake(recipe, splits, train, *, steps=8):
        return base if dict(recipe) == {"model": "lenet5"} else small
    return fake


def test_the_pay_check_predicts_both_pipelines_and_the_break_even(synthetic_root,
                                                                    monkeypatch):
    splits = prepare_data(DataConfig(data_root=str(synthetic_root), val_fraction=0.2))
    base = {"build_s": 0.1, "step_s": 0.01, "eval_s": 0.2}
    small = {"build_s": 0.1, "step_s": 0.002, "eval_s": 0.05}
    monkeypatch.setattr(proxy_module, "time_trial", _timed(base, small))
    train = TrainConfig(epochs=2, batch_size=16)
    check = pay_check("lenet5", {"model": "small"}, splits, train, trials=32, top_k=3,
                      final_epochs=5, creation_s=10.0)
    steps = -(-len(splits.train_idx) // 16)
    assert check.base_trial_s == pytest.approx(0.1 + 2 * (steps * 0.01 + 0.2))
    assert check.proxy_trial_s == pytest.approx(0.1 + 2 * (steps * 0.002 + 0.05))
    assert check.full_s == pytest.approx(32 * check.base_trial_s + check.transfer_s)
    assert check.proxy_s == pytest.approx(10.0 + 32 * check.proxy_trial_s + check.transfer_s)
    assert check.saving == pytest.approx(1 - check.proxy_s / check.full_s)
    # break-even: the trials whose savings pay the creation
    assert check.break_even_trials == pytest.approx(
        10.0 / (check.base_trial_s - check.proxy_trial_s))
    assert "a predicted saving of" in check.line() and "it pays from" in check.line()
    # a full pipeline whose transfer is a trial again reads it: only evaluations
    same = pay_check("lenet5", {"model": "small"}, splits, train, trials=32, top_k=3,
                     final_epochs=2, creation_s=10.0)
    assert same.full_transfer_s == pytest.approx(3 * 0.2)
    assert same.full_transfer_s < same.transfer_s


def test_auto_makes_no_proxy_when_even_free_trials_cannot_pay(synthetic_root, tmp_path,
                                                              monkeypatch):
    splits = prepare_data(DataConfig(data_root=str(synthetic_root), val_fraction=0.2))
    cheap = {"build_s": 0.0, "step_s": 1e-5, "eval_s": 1e-4}  # trials cost next to nothing
    monkeypatch.setattr(proxy_module, "time_trial", _timed(cheap, cheap))

    def never(*args, **kwargs):
        raise AssertionError("a proxy was made that could not pay")

    monkeypatch.setattr(proxy_module, "make_proxy", never)
    shape, creation, decision = auto_proxy("lenet5", splits, TrainConfig(epochs=1), tmp_path,
                                           trials=4, top_k=1, final_epochs=1)
    assert shape is None and creation == {} and not decision.use_proxy
    assert decision.reason.startswith("no proxy: even with free trials")
    assert decision.bound.saving < DEFAULT_RECIPE.min_saving
    assert decision.to_dict()["check"] is None


def test_auto_makes_the_recipes_proxy_and_keeps_it_when_it_pays(synthetic_root, tmp_path,
                                                                 monkeypatch):
    splits = prepare_data(DataConfig(data_root=str(synthetic_root), val_fraction=0.2))
    slow = {"build_s": 0.0, "step_s": 1.0, "eval_s": 1.0}  # a base network worth a proxy
    fast = {"build_s": 0.0, "step_s": 0.01, "eval_s": 0.01}
    timed = []
    fake = _timed(slow, fast)

    def counting(recipe, *args, **kwargs):
        timed.append(dict(recipe) == {"model": "lenet5"})
        return fake(recipe, *args, **kwargs)

    monkeypatch.setattr(proxy_module, "time_trial", counting)
    recipe = ProxyRecipe(points=4, epochs=2, warmup=0.5, eval_images=None)
    shape, creation, decision = auto_proxy(
        "lenet5", splits, TrainConfig(epochs=1, batch_size=32), tmp_path, trials=8, top_k=1,
        final_epochs=1, recipe=recipe)
    assert decision.use_proxy and shape is not None and creation["front"] > 0
    assert decision.check.creation_s == pytest.approx(sum(creation.values()))
    assert decision.info["flops_share"] is not None
    assert (tmp_path / "front.json").is_file()  # the path, where a rerun resumes
    assert timed == [True, False]  # the base network timed once for both pay checks


def test_a_resumed_auto_keeps_its_decision_without_timing_again(synthetic_root, tmp_path,
                                                                monkeypatch):
    """The pay check's timings vary between runs: a killed run resumed must not decide
    otherwise (its study would mix proxy and base trials)."""
    splits = prepare_data(DataConfig(data_root=str(synthetic_root), val_fraction=0.2))
    cheap = {"build_s": 0.0, "step_s": 1e-5, "eval_s": 1e-4}
    monkeypatch.setattr(proxy_module, "time_trial", _timed(cheap, cheap))
    args = ("lenet5", splits, TrainConfig(epochs=1), tmp_path)
    first = auto_proxy(*args, trials=4, top_k=1, final_epochs=1)[2]

    def no_timing(*a, **k):
        raise AssertionError("the decision was taken again")

    monkeypatch.setattr(proxy_module, "time_trial", no_timing)
    shape, _, again = auto_proxy(*args, trials=4, top_k=1, final_epochs=1)
    assert shape is None and again.to_dict() == first.to_dict()
    assert (tmp_path / "decision.json").is_file()
