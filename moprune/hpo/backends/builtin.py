"""The built-in backends: Optuna's samplers, and pymoo's algorithms by ask and tell."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from moprune.hpo.backends.base import HPOBackend

if TYPE_CHECKING:
    import optuna

    from moprune.hpo.objective import TrialObjective
    from moprune.hpo.space import SearchSpace
    from moprune.hpo.study import StudySettings

__all__ = ["OptunaBackend", "PymooBackend"]


class OptunaBackend(HPOBackend):
    """Optuna's sampler (the study's own) proposes every trial."""

    def check(self, settings: StudySettings, objectives: int) -> None:
        from moprune.hpo.study import make_sampler

        make_sampler(settings.sampler, seed=settings.seed, multi=objectives > 1)

    def run(self, study: optuna.Study, objective: TrialObjective, settings: StudySettings,
            space: SearchSpace, run_workers: Callable[..., None]) -> None:
        run_workers(settings.trials)


class PymooBackend(HPOBackend):
    """pymoo's GA, DE or NSGA-II by ask and tell (:func:`moprune.hpo.study.run_pymoo`)."""

    def check(self, settings: StudySettings, objectives: int) -> None:
        from moprune.hpo.backends.pymoo_driver import check_pymoo_sampler

        check_pymoo_sampler(settings.sampler, objectives)

    def run(self, study: optuna.Study, objective: TrialObjective, settings: StudySettings,
            space: SearchSpace, run_workers: Callable[..., None]) -> None:
        from moprune.hpo.backends.pymoo_driver import run_pymoo

        run_pymoo(study, objective, settings, space,
                  run_workers=lambda budget: run_workers(budget, only_enqueued=True))
