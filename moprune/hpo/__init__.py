"""Hyperparameter optimisation on a proxy network (Optuna and pymoo, one study format)."""

from moprune.hpo.fidelity import (
    FidelityResult,
    fidelity,
    fidelity_intervals,
    rank_agreement,
    regret_points,
)
from moprune.hpo.job import HPOJob
from moprune.hpo.lr_transfer import LR_TRANSFERS, LayerScale, mup_scales
from moprune.hpo.objective import OBJECTIVES, TrialObjective, architecture, fresh_model
from moprune.hpo.pipeline import check_hpo, run_hpo, trial_table
from moprune.hpo.recovery import counted
from moprune.hpo.sources import proxy_source, uniform_proxy
from moprune.hpo.space import DEFAULT_SPACE, Param, SearchSpace, load_space
from moprune.hpo.study import (
    BACKENDS,
    PRUNERS,
    SAMPLERS,
    StudySettings,
    make_pruner,
    make_sampler,
    open_study,
    work,
)
from moprune.hpo.tune import HPOResult, tune

__all__ = [
    "BACKENDS",
    "DEFAULT_SPACE",
    "LR_TRANSFERS",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "FidelityResult",
    "HPOJob",
    "HPOResult",
    "LayerScale",
    "Param",
    "SearchSpace",
    "StudySettings",
    "TrialObjective",
    "architecture",
    "check_hpo",
    "counted",
    "fidelity",
    "fidelity_intervals",
    "fresh_model",
    "load_space",
    "make_pruner",
    "make_sampler",
    "mup_scales",
    "open_study",
    "proxy_source",
    "rank_agreement",
    "regret_points",
    "run_hpo",
    "trial_table",
    "tune",
    "uniform_proxy",
    "work",
]
