"""Fronts: problems, methods with their options, points, knee selectors, ``train_front``.

Names load on first use, so that the method classes and ``FrontConfig`` (which the
command line reads to build its flags) import without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moprune.front.config import FrontConfig
    from moprune.front.correctors import CORRECTORS, PathCorrector
    from moprune.front.debiasing import debias, debias_knee
    from moprune.front.job import FrontJob
    from moprune.front.knee import (
        KNEE_SELECTORS,
        AngleKnee,
        ChordKnee,
        KneeSelector,
        SlopeKnee,
    )
    from moprune.front.measure import measure_point, train_point
    from moprune.front.methods import (
        FRONT_METHODS,
        SMGD,
        Bisection,
        Dichotomic,
        FrontMethod,
        Grid,
        Path,
        WeightSearchMethod,
        method_from_config,
        option,
    )
    from moprune.front.path import train_path
    from moprune.front.points import AXES, Front, Point
    from moprune.front.search import (
        WEIGHT_SEARCHES,
        BisectionSearch,
        DichotomicSearch,
        GridSearch,
        WeightSearch,
        default_grid,
    )
    from moprune.front.train import METHODS, FrontProblem, front_from_config, train_front

_WHERE = {
    "moprune.front.config": ("FrontConfig",),
    "moprune.front.knee": ("KNEE_SELECTORS", "AngleKnee", "ChordKnee", "KneeSelector",
                           "SlopeKnee"),
    "moprune.front.measure": ("measure_point", "train_point"),
    "moprune.front.job": ("FrontJob",),
    "moprune.front.methods": ("FRONT_METHODS", "SMGD", "Bisection", "Dichotomic",
                              "FrontMethod", "Grid", "Path", "WeightSearchMethod",
                              "method_from_config", "option"),
    "moprune.front.correctors": ("CORRECTORS", "PathCorrector"),
    "moprune.front.debiasing": ("debias", "debias_knee"),
    "moprune.front.path": ("train_path",),
    "moprune.front.points": ("AXES", "Front", "Point"),
    "moprune.front.search": ("WEIGHT_SEARCHES", "BisectionSearch", "DichotomicSearch",
                             "GridSearch", "WeightSearch", "default_grid"),
    "moprune.front.train": ("METHODS", "FrontProblem", "front_from_config", "train_front"),
}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'moprune.front' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "AXES",
    "CORRECTORS",
    "FRONT_METHODS",
    "KNEE_SELECTORS",
    "METHODS",
    "SMGD",
    "WEIGHT_SEARCHES",
    "AngleKnee",
    "Bisection",
    "BisectionSearch",
    "ChordKnee",
    "Dichotomic",
    "DichotomicSearch",
    "Front",
    "FrontConfig",
    "FrontJob",
    "FrontMethod",
    "FrontProblem",
    "Grid",
    "GridSearch",
    "KneeSelector",
    "Path",
    "PathCorrector",
    "Point",
    "SlopeKnee",
    "WeightSearch",
    "WeightSearchMethod",
    "debias",
    "debias_knee",
    "default_grid",
    "front_from_config",
    "measure_point",
    "method_from_config",
    "option",
    "train_front",
    "train_path",
    "train_point",
]
