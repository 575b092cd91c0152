"""Pruning: intra-training magnitude pruning (masks), compaction, size statistics."""

from moprune.pruning.compact import CompactionReport, compact, rebuild_pruned
from moprune.pruning.masks import MagnitudePruner
from moprune.pruning.stats import model_size

__all__ = ["CompactionReport", "MagnitudePruner", "compact", "model_size", "rebuild_pruned"]
