"""Pruning: intra-training magnitude pruning (masks), compaction, size statistics."""

from moprune.pruning.compact import (
    CompactionReport,
    CompactResult,
    compact,
    prune_to_flops,
    rebuild_pruned,
)
from moprune.pruning.masks import (
    MASK_IMPORTANCES,
    MagnitudePruner,
    global_magnitude_masks,
    lamp_masks,
    mask_optimizer_state,
)
from moprune.pruning.stats import count_flops, flops_share, model_size, size_report, time_model

__all__ = [
    "MASK_IMPORTANCES",
    "CompactResult",
    "CompactionReport",
    "MagnitudePruner",
    "compact",
    "count_flops",
    "flops_share",
    "global_magnitude_masks",
    "lamp_masks",
    "mask_optimizer_state",
    "model_size",
    "prune_to_flops",
    "rebuild_pruned",
    "size_report",
    "time_model",
]
