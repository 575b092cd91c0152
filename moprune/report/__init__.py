"""Plots and tables of results."""

from moprune.report.plots import plot_front, plot_history
from moprune.report.stats import Band, band_differences
from moprune.report.tables import format_table, front_table

__all__ = ["Band", "band_differences", "format_table", "front_table", "plot_front",
           "plot_history"]
