"""Sensitivity analysis: how pruning moves the best hyperparameters."""

from moprune.sensitivity.bootstrap import (
    bootstrap_intervals,
    resample,
    seed_noise,
    significant_cells,
)
from moprune.sensitivity.landscape import (
    DISTRIBUTIONS,
    Grid,
    compare_landscapes,
    log_grid,
    to_distribution,
)
from moprune.sensitivity.pipeline import (
    RERUN_MAY_CHANGE,
    SensitivityResult,
    SensitivitySettings,
    check_sensitivity,
    grid_seeds,
    levels_from_text,
    run_sensitivity,
    verdicts,
)
from moprune.sensitivity.report import plot_distances, plot_heatmaps, sensitivity_table

__all__ = [
    "DISTRIBUTIONS",
    "RERUN_MAY_CHANGE",
    "Grid",
    "SensitivityResult",
    "SensitivitySettings",
    "bootstrap_intervals",
    "check_sensitivity",
    "compare_landscapes",
    "grid_seeds",
    "levels_from_text",
    "log_grid",
    "plot_distances",
    "plot_heatmaps",
    "resample",
    "run_sensitivity",
    "seed_noise",
    "sensitivity_table",
    "significant_cells",
    "to_distribution",
    "verdicts",
]
