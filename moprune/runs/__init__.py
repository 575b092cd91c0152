"""The run layer: every command's work as one library call that owns its run directory
(its file names in :class:`moprune.layout.RunLayout`, the single resume guard
:class:`moprune.rundir.RunDir`, every check before any write). The command line parses,
makes one of these calls and prints; ``moprune run``'s pipeline is
:func:`moprune.pipeline.run_pipeline`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moprune.runs.front import (
        CompactFile,
        FrontRun,
        KneeFile,
        KneeRun,
        compact_run,
        export_knee,
        finish_front,
        front_run,
        knee_run,
    )
    from moprune.runs.hpo import FidelityRunSettings, HPORunSettings, fidelity_run, hpo_run
    from moprune.runs.sensitivity import sensitivity_run
    from moprune.runs.train import TrainRun, train_run

_WHERE = {
    "moprune.runs.front": ("CompactFile", "FrontRun", "KneeFile", "KneeRun", "compact_run",
                           "export_knee", "finish_front", "front_run", "knee_run"),
    "moprune.runs.hpo": ("FidelityRunSettings", "HPORunSettings", "fidelity_run", "hpo_run"),
    "moprune.runs.sensitivity": ("sensitivity_run",),
    "moprune.runs.train": ("TrainRun", "train_run"),
}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name: str) -> Any:  # each command imports only what it runs
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'moprune.runs' has no attribute {name!r}")


__all__ = [
    "CompactFile",
    "FidelityRunSettings",
    "FrontRun",
    "HPORunSettings",
    "KneeFile",
    "KneeRun",
    "TrainRun",
    "compact_run",
    "export_knee",
    "fidelity_run",
    "finish_front",
    "front_run",
    "hpo_run",
    "knee_run",
    "sensitivity_run",
    "train_run",
]
