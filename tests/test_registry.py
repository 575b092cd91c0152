import pytest

from moprune.errors import UnknownNameError
from moprune.registry import Registry


def test_lookup_is_case_insensitive_and_lists_names():
    reg: Registry[int] = Registry("thing")
    reg.register("Alpha")(1)
    reg.register("beta")(2)
    assert reg.get("ALPHA") == 1
    assert reg.names() == ["alpha", "beta"]
    assert "beta" in reg and "gamma" not in reg
    assert len(reg) == 2


def test_duplicate_name_raises():
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        reg.register("A")(2)


def test_unknown_name_lists_known_names():
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(UnknownNameError, match=r"unknown thing 'zz'; known: a"):
        reg.get("zz")


def test_the_command_lines_names_are_the_registries():
    """moprune.names lists what the CLI offers without importing torch; it must match the
    registries that implement them."""
    from moprune.front import KNEE_SELECTORS, METHODS
    from moprune.front.methods import FRONT_METHODS as REGISTERED
    from moprune.names import FRONT_METHODS, KNEES

    assert sorted(KNEE_SELECTORS.names()) == sorted(KNEES)
    assert sorted(REGISTERED.names()) == sorted(FRONT_METHODS) == sorted(METHODS)


def test_the_samplers_and_pruners_offered_are_the_ones_built():
    from moprune.hpo.study import PRUNER_FACTORIES, SAMPLER_FACTORIES, make_pruner, make_sampler
    from moprune.names import PRUNERS, SAMPLERS

    assert sorted(SAMPLER_FACTORIES) == sorted(SAMPLERS)
    assert sorted(PRUNER_FACTORIES) == sorted(PRUNERS)
    for name in SAMPLERS:
        assert make_sampler(name, seed=0) is not None
    for name in PRUNERS:
        assert make_pruner(name, max_epochs=4) is not None
