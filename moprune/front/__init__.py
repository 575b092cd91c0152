"""Fronts: points, weight searches, knee selectors, and ``train_front``."""

from moprune.front.knee import KNEE_SELECTORS, AngleKnee, ChordKnee, KneeSelector, SlopeKnee
from moprune.front.methods import FRONT_METHODS, FrontJob, FrontMethod
from moprune.front.path import debias, train_path
from moprune.front.points import AXES, Front, Point
from moprune.front.search import (
    WEIGHT_SEARCHES,
    BisectionSearch,
    DichotomicSearch,
    GridSearch,
    WeightSearch,
    default_grid,
)
from moprune.front.train import METHODS, measure_point, train_front, train_point

__all__ = [
    "AXES",
    "FRONT_METHODS",
    "KNEE_SELECTORS",
    "METHODS",
    "WEIGHT_SEARCHES",
    "AngleKnee",
    "BisectionSearch",
    "ChordKnee",
    "DichotomicSearch",
    "Front",
    "FrontJob",
    "FrontMethod",
    "GridSearch",
    "KneeSelector",
    "Point",
    "SlopeKnee",
    "WeightSearch",
    "debias",
    "default_grid",
    "measure_point",
    "train_front",
    "train_path",
    "train_point",
]
