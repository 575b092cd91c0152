"""Sensitivity analysis: how pruning moves the best hyperparameters."""

from moprune.sensitivity.landscape import (
    DISTRIBUTIONS,
    Grid,
    compare_landscapes,
    log_grid,
    to_distribution,
)
from moprune.sensitivity.pipeline import (
    SensitivitySettings,
    check_sensitivity,
    levels_from_text,
    run_sensitivity,
)
from moprune.sensitivity.report import plot_distances, plot_heatmaps, sensitivity_table

__all__ = [
    "DISTRIBUTIONS",
    "Grid",
    "SensitivitySettings",
    "check_sensitivity",
    "compare_landscapes",
    "levels_from_text",
    "log_grid",
    "plot_distances",
    "plot_heatmaps",
    "run_sensitivity",
    "sensitivity_table",
    "to_distribution",
]
