"""Plots and tables of results."""

from moprune.report.plots import plot_history
from moprune.report.tables import format_table

__all__ = ["format_table", "plot_history"]
