"""Names the command line offers as choices, importable without torch or Optuna (so that
``moprune --help`` and ``--version`` answer at once). The modules that implement them
import these tuples, so a name is declared once."""

from __future__ import annotations

__all__ = ["BACKENDS", "PRUNERS", "SAMPLERS"]

#: Optuna samplers by name (:func:`moprune.hpo.make_sampler`).
SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc", "nsga2")
#: Optuna pruners by name (:func:`moprune.hpo.make_pruner`).
PRUNERS = ("hyperband", "successive-halving", "median", "none")
#: HPO backends and their samplers.
BACKENDS = {"optuna": SAMPLERS, "pymoo": ("ga", "de", "nsga2")}
