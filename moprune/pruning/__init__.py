"""Pruning: intra-training magnitude pruning (masks) and size statistics."""

from moprune.pruning.masks import MagnitudePruner
from moprune.pruning.stats import model_size

__all__ = ["MagnitudePruner", "model_size"]
