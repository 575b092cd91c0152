"""Solvers of the biobjective training problem, by name."""

from moprune.registry import Registry
from moprune.solvers.base import Solver
from moprune.solvers.cross_entropy import CrossEntropySolver
from moprune.solvers.multi_gradient import MultiAdam, SMGDSolver, min_norm_coefficient
from moprune.solvers.weighted_sum import WeightedSumSolver

SOLVERS: Registry[type[Solver]] = Registry("solver")
SOLVERS.register("ce")(CrossEntropySolver)
SOLVERS.register("weighted-sum")(WeightedSumSolver)
SOLVERS.register("smgd")(SMGDSolver)

__all__ = [
    "SOLVERS",
    "CrossEntropySolver",
    "MultiAdam",
    "SMGDSolver",
    "Solver",
    "WeightedSumSolver",
    "min_norm_coefficient",
]
