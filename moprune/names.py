"""Names the command line offers as choices, importable without torch or Optuna (so that
``moprune --help`` and ``--version`` answer at once). The modules that implement them
import these tuples, so a name is declared once."""

from __future__ import annotations

__all__ = ["BACKENDS", "FRONT_METHODS", "HPO_BACKENDS", "KNEES", "KNEE_AXES", "LR_TRANSFERS",
           "PATH_CORRECTORS", "PATH_DISTANCES", "PRUNERS", "SAMPLERS", "SMGD_NORMALIZATIONS",
           "SMGD_VARIANTS", "register_backend", "unregister_backend"]

#: Optuna samplers by name (:func:`moprune.hpo.make_sampler`).
SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc", "nsga2")
#: Optuna pruners by name (:func:`moprune.hpo.make_pruner`).
PRUNERS = ("hyperband", "successive-halving", "median", "none")
#: HPO backends: name -> (where its :class:`~moprune.hpo.backends.HPOBackend` lives, its
#: samplers). Registering a backend is one line here.
HPO_BACKENDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "optuna": ("moprune.hpo.backends.builtin:OptunaBackend", SAMPLERS),
    "pymoo": ("moprune.hpo.backends.builtin:PymooBackend", ("ga", "de", "nsga2")),
    "random-search": ("moprune.hpo.backends.random_search:RandomSearchBackend", ("uniform",)),
}
#: HPO backends and their samplers.
BACKENDS = {name: samplers for name, (_, samplers) in HPO_BACKENDS.items()}


def register_backend(name: str, where: str, samplers: tuple[str, ...]) -> None:
    """Register an HPO backend from outside moprune: ``where`` is ``"module:Class"`` (an
    :class:`~moprune.hpo.backends.HPOBackend`, imported on first use), ``samplers`` the
    sampler names it takes; ``moprune hpo --backend NAME`` and ``tune(backend=NAME)`` then
    find it (register before the command line's parser is built).

    Raises:
        ValueError: when ``name`` is registered already.
    """
    if name in HPO_BACKENDS:
        raise ValueError(f"HPO backend {name!r} is already registered")
    HPO_BACKENDS[name] = (where, tuple(samplers))
    BACKENDS[name] = tuple(samplers)


def unregister_backend(name: str) -> None:
    """Remove a backend registered by :func:`register_backend` (a plug-in's tests)."""
    HPO_BACKENDS.pop(name, None)
    BACKENDS.pop(name, None)
#: Ways to train a front (:data:`moprune.front.methods.FRONT_METHODS`; a test keeps the two
#: alike).
FRONT_METHODS = ("dichotomic", "grid", "bisection", "smgd", "path")
#: How the continuation path corrects (:func:`moprune.front.path.train_path`): l1 raises
#: the weight of f2, magnitude cuts the smallest weights (epsilon-constraint on l0).
PATH_CORRECTORS = ("l1", "magnitude", "channel")
# what of the validation accuracy counts in a path step's length: any change, or a fall
PATH_DISTANCES = ("change", "fall")
#: SMGD's optimizer variants and how it normalises g1 and g2 before the min-norm step
#: (:class:`moprune.solvers.SMGDSolver`).
SMGD_VARIANTS = ("sgd", "adam")
SMGD_NORMALIZATIONS = ("none", "l2", "loss")
#: The planes a knee is chosen in (:meth:`moprune.front.Front.knee`).
KNEE_AXES = ("objectives", "kept", "flops")
#: Knee selectors (:data:`moprune.front.KNEE_SELECTORS`; a test keeps the two alike).
KNEES = ("chord", "angle", "slope")
#: Learning-rate transfer of proxy trials (:mod:`moprune.hpo.lr_transfer`): none, or muP's
#: per-layer width factors.
LR_TRANSFERS = ("none", "mup")
