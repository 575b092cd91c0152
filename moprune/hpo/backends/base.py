"""The base class of an HPO backend and its lookup by name."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moprune.errors import UnknownNameError
from moprune.names import HPO_BACKENDS

if TYPE_CHECKING:
    import optuna

    from moprune.hpo.objective import TrialObjective
    from moprune.hpo.space import SearchSpace
    from moprune.hpo.study import StudySettings

__all__ = ["HPOBackend", "get_backend"]


class HPOBackend(ABC):
    """Drives one study: decides which configurations are trained, in the Optuna trial
    store every backend shares (so storage, workers, resumption, the trial table and the
    transfer to the base network are the same for all).

    A backend either lets Optuna's samplers propose trials (``run_workers(budget)``), or
    asks its own algorithm for configurations and tells it the results: enqueue each as
    a trial with ``user_attrs={"eval_index": i}`` (numbered in the order asked, so that a
    resumed run finds the finished ones), call ``run_workers(budget, only_enqueued=True)``
    and read the values back.
    """

    #: The registered name (set by :func:`get_backend`).
    name: str = ""

    def check(self, settings: StudySettings, objectives: int) -> None:
        """Refuse ``settings`` this backend cannot run on a study of ``objectives``
        objectives (one line, :class:`~moprune.errors.ConfigError`), before anything is
        written; the default accepts all."""
        return None

    @abstractmethod
    def run(self, study: optuna.Study, objective: TrialObjective, settings: StudySettings,
            space: SearchSpace, run_workers: Callable[..., None]) -> None:
        """Run the study until ``settings.trials`` trials count.

        Args:
            run_workers: ``run_workers(budget, only_enqueued=False)`` runs the study's
                workers until ``budget`` trials count (or, ``only_enqueued``, until no
                enqueued trial waits).
        """


def get_backend(name: str) -> HPOBackend:
    """The backend registered as ``name`` in :data:`moprune.names.HPO_BACKENDS`.

    Raises:
        UnknownNameError: naming the known backends.
    """
    if name not in HPO_BACKENDS:
        raise UnknownNameError(f"unknown HPO backend {name!r}; known: "
                               f"{', '.join(HPO_BACKENDS)}")
    module, _, cls = HPO_BACKENDS[name][0].partition(":")
    backend: Any = getattr(importlib.import_module(module), cls)()
    if not isinstance(backend, HPOBackend):
        raise TypeError(f"{HPO_BACKENDS[name][0]} is not an HPOBackend")
    backend.name = name
    return backend
