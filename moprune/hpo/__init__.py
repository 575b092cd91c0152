"""Hyperparameter optimisation on a proxy network (Optuna and pymoo, one study format)."""

from moprune.hpo.objective import OBJECTIVES, TrialObjective, architecture, fresh_model
from moprune.hpo.pipeline import (
    HPOJob,
    fidelity,
    proxy_source,
    rank_agreement,
    run_hpo,
    trial_table,
    uniform_proxy,
)
from moprune.hpo.space import DEFAULT_SPACE, Param, SearchSpace, load_space
from moprune.hpo.study import (
    BACKENDS,
    PRUNERS,
    SAMPLERS,
    StudySettings,
    counted,
    make_pruner,
    make_sampler,
    open_study,
    work,
)
from moprune.hpo.tune import HPOResult, tune

__all__ = [
    "BACKENDS",
    "DEFAULT_SPACE",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "HPOJob",
    "HPOResult",
    "Param",
    "SearchSpace",
    "StudySettings",
    "TrialObjective",
    "architecture",
    "counted",
    "fidelity",
    "fresh_model",
    "load_space",
    "make_pruner",
    "make_sampler",
    "open_study",
    "proxy_source",
    "rank_agreement",
    "run_hpo",
    "trial_table",
    "tune",
    "uniform_proxy",
    "work",
]
