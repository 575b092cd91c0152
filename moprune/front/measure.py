"""One way to measure a trained network as a front :class:`~moprune.front.points.Point`."""

from __future__ import annotations

from typing import Any

from torch import nn

from moprune.data import DataSplits
from moprune.front.points import Point
from moprune.objectives import Complexity
from moprune.pruning import flops_share
from moprune.training import evaluate, input_shape

__all__ = ["measure_point"]


def measure_point(model: nn.Module, splits: DataSplits, *, method: str,
                  complexity: str = "l1", scope: str = "all", test: bool = True,
                  **fields: Any) -> Point:
    """Measure a trained network as a :class:`Point`: f1 and accuracy on validation, f2 and
    zeros over ``scope``, the FLOPs share (:func:`moprune.pruning.flops_share`, whatever
    the complexity, so that every front can choose its knee in FLOPs), and test loss and
    accuracy when ``test`` and the data has a test split. ``fields`` fill the rest (lam,
    epochs, seed, ...)."""
    device = next(model.parameters()).device
    f1, val_acc = evaluate(model, splits.loader("val", device=device))
    test_loss, test_acc = (evaluate(model, splits.loader("test", device=device))
                           if test and splits.test_idx is not None else (None, None))
    shape = input_shape(splits)
    f2 = Complexity(model, kind=complexity, scope=scope, input_shape=shape)
    return Point(method=method, f1=f1, f2=f2.value(), val_acc=val_acc, zeros=f2.zeros(),
                 scope_size=f2.n, test_acc=test_acc, test_loss=test_loss,
                 flops_share=flops_share(model, shape), **fields)
