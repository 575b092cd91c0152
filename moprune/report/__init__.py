"""Plots and tables of results."""

from moprune.report.plots import plot_front, plot_history
from moprune.report.tables import format_table, front_table

__all__ = ["format_table", "front_table", "plot_front", "plot_history"]
