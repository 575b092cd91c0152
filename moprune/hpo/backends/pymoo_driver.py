"""The pymoo backend's driver: a pymoo algorithm asked and told by evaluation index over
Optuna's trial store, so that a resumed study asks the same points."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from moprune.errors import ConfigError
from moprune.hpo.objective import TrialObjective
from moprune.hpo.recovery import counted
from moprune.hpo.space import SearchSpace
from moprune.hpo.study import StudySettings

__all__ = ["check_pymoo_sampler", "run_pymoo"]

_POP_SIZE = 8


def check_pymoo_sampler(sampler: str, objectives: int) -> None:
    """pymoo's nsga2 needs several objectives, ga and de one.

    Raises:
        ConfigError: naming the sampler and the number of objectives.
    """
    if (sampler == "nsga2") != (objectives > 1):
        raise ConfigError("pymoo's nsga2 is for several objectives, ga and de for one "
                          f"(this study has {objectives})")


def run_pymoo(study: optuna.Study, objective: TrialObjective, settings: StudySettings,
              space: SearchSpace, *, run_workers: Callable[[int], None]) -> None:
    """Drive pymoo's GA, DE or NSGA-II by ask and tell; every evaluation is an Optuna trial.

    Each population is enqueued as trials (``eval_index`` = evaluation number) and run by
    ``run_workers(budget)``; the values go back to pymoo. pymoo is seeded, so a resumed
    run asks the same points again and takes finished trials' values instead of
    training them again.
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.soo.nonconvex.de import DE
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import Problem

    n_obj = len(objective.objectives)
    check_pymoo_sampler(settings.sampler, n_obj)
    pop = _POP_SIZE  # fixed, so that a resumed run with a larger budget asks the same points
    algorithm = {"ga": lambda: GA(pop_size=pop, eliminate_duplicates=True),
                 "de": lambda: DE(pop_size=pop),
                 "nsga2": lambda: NSGA2(pop_size=pop)}[settings.sampler]()
    problem = Problem(n_var=len(space), n_obj=n_obj, xl=0.0, xu=1.0)
    algorithm.setup(problem, termination=("n_eval", settings.trials), seed=settings.seed,
                    verbose=False)
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in objective.directions])
    evaluated = 0
    while algorithm.has_next():
        population = algorithm.ask()
        xs = population.get("X")
        xs = xs[: settings.trials - evaluated]
        if len(xs) == 0:
            break
        done = _by_eval_index(study)
        for k, x in enumerate(xs):
            if evaluated + k in done:
                _check_same(done[evaluated + k], space.decode(x))
            else:
                study.enqueue_trial(space.decode(x), user_attrs={"eval_index": evaluated + k},
                                    skip_if_exists=False)
        run_workers(evaluated + len(xs))
        done = _by_eval_index(study)
        f = np.array([_values(done.get(evaluated + k), objective.directions)
                      for k in range(len(xs))])
        evaluated += len(xs)
        population = population[: len(xs)]
        population.set("F", f * signs)
        algorithm.tell(infills=population)


def _check_same(trial: FrozenTrial, params: dict[str, Any]) -> None:
    """A resumed pymoo run must ask what it asked before (same seed, algorithm, space)."""
    same = all(np.isclose(trial.params[k], v) if isinstance(v, float) else trial.params[k] == v
               for k, v in params.items() if k in trial.params)
    if not same or set(trial.params) != set(params):
        raise ConfigError(f"trial {trial.number} of this study was asked with other "
                          "parameters: resume a pymoo study with the same seed, algorithm "
                          "and space")


def _by_eval_index(study: optuna.Study) -> dict[int, FrozenTrial]:
    """Finished trials of pymoo's evaluations, by evaluation number (retries included)."""
    out = {}
    for t in study.get_trials(deepcopy=False):
        if "eval_index" in t.user_attrs and (t.state == TrialState.COMPLETE or (counted(t)
                                             and t.state == TrialState.FAIL)):
            out[int(t.user_attrs["eval_index"])] = t
    return out


def _values(trial: FrozenTrial | None, directions: Sequence[str]) -> list[float]:
    """A trial's objective values for pymoo; a failed trial gets the worst values (accuracy
    0, an enormous time or size)."""
    if trial is None or trial.state != TrialState.COMPLETE:
        return [0.0 if d == "maximize" else 1e12 for d in directions]
    return list(trial.values)
