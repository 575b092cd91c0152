"""HPO backends: who proposes the configurations of a study (see :class:`HPOBackend`).

A backend is one file with an :class:`HPOBackend` subclass and one line in
:data:`moprune.names.HPO_BACKENDS` (its name, where the class lives, its samplers), so
that the command line lists it without importing it.
"""

from moprune.hpo.backends.base import HPOBackend, get_backend

__all__ = ["HPOBackend", "get_backend"]
