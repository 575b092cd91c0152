"""A backend of its own in one file: plain random search by ask and tell.

Every configuration is a uniform point of the unit cube (log-uniform for log-scaled
parameters, :meth:`moprune.hpo.SearchSpace.decode`) drawn from a generator seeded by the
study's seed, so a resumed study asks the same configurations and trains only the
missing ones. Registered in :data:`moprune.names.HPO_BACKENDS` as ``random-search``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from moprune.hpo.backends.base import HPOBackend

if TYPE_CHECKING:
    import optuna

    from moprune.hpo.objective import TrialObjective
    from moprune.hpo.space import SearchSpace
    from moprune.hpo.study import StudySettings

__all__ = ["RandomSearchBackend"]


class RandomSearchBackend(HPOBackend):
    """Uniform random configurations, enqueued all at once (workers share them)."""

    def run(self, study: optuna.Study, objective: TrialObjective, settings: StudySettings,
            space: SearchSpace, run_workers: Callable[..., None]) -> None:
        points = np.random.default_rng(settings.seed).random((settings.trials, len(space)))
        asked = {int(t.user_attrs["eval_index"]) for t in study.get_trials(deepcopy=False)
                 if "eval_index" in t.user_attrs}
        for i, u in enumerate(points):
            if i not in asked:
                study.enqueue_trial(space.decode(u), user_attrs={"eval_index": i})
        run_workers(settings.trials, only_enqueued=True)
