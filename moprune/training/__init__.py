"""Training one network: the loop, callbacks and checkpoints."""

from moprune.pruning.masks import global_magnitude_masks
from moprune.training.callbacks import Callback
from moprune.training.checkpoint import load_checkpoint, save_checkpoint
from moprune.training.gradual import GradualMagnitudePruning, cubic_sparsity
from moprune.training.loop import (
    EpochRecord,
    TrainResult,
    evaluate,
    input_shape,
    make_optimizer,
    make_scheduler,
    resolve_device,
    train,
)

__all__ = [
    "Callback",
    "EpochRecord",
    "GradualMagnitudePruning",
    "TrainResult",
    "cubic_sparsity",
    "evaluate",
    "global_magnitude_masks",
    "input_shape",
    "load_checkpoint",
    "make_optimizer",
    "make_scheduler",
    "resolve_device",
    "save_checkpoint",
    "train",
]
