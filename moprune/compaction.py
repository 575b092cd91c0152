"""Compaction of a model file: the library's one place for what ``moprune compact``, ``moprune
knee --compact`` and ``moprune run`` write."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.errors import ConfigError
from moprune.io import write_json
from moprune.layout import compacted_file
from moprune.models import load_model, model_recipe, save_model
from moprune.models.registry import user_history
from moprune.pruning.compact import compact, prune_to_flops
from moprune.pruning.stats import size_report
from moprune.training import evaluate

__all__ = ["compact_file"]


def compact_file(model_file: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 *, threshold: float | None = None, keep_flops: float | None = None,
                 mode: str = "global", splits: Any = None,
                 factory: Callable[[], nn.Module] | None = None,
                 example_inputs: torch.Tensor | None = None) -> dict[str, Any]:
    """Compact the network of ``model_file`` and write it with its report.

    Removes its dead channels (:func:`moprune.pruning.compact`; with ``threshold``, the
    channels under it), or with ``keep_flops`` prunes it by group magnitude to that share
    of its FLOPs (:func:`moprune.pruning.prune_to_flops`). Writes ``out`` (default
    ``*-compact.pt`` beside the source) and its ``.json``: sizes, FLOPs and timings before
    and after, test accuracy before and after when ``splits`` are given, what was removed,
    and the seconds it took (a proxy's creation time).

    Args:
        factory: For a user's module (see :func:`moprune.load_model`).
        example_inputs: A batch of the input shape (default: 128 seeded random images of
            the model's recipe, or of ``splits``).

    Returns:
        The report written to the ``.json``, with ``out`` (the compacted file).
    """

    model_file = Path(model_file)
    model = load_model(model_file, factory=factory).eval()
    x = example_inputs if example_inputs is not None else _example(model, splits)
    start = time.perf_counter()
    if keep_flops is not None:
        small, details = prune_to_flops(model, example_inputs=x, keep_flops=keep_flops,
                                        mode=mode)
    else:
        small, report = compact(model, example_inputs=x, threshold=threshold)
        details = report.to_dict()
    seconds = time.perf_counter() - start
    before, after = size_report(model, x), size_report(small, x)
    if splits is not None:
        test = splits.loader("test")
        before["test_acc"] = evaluate(model, test)[1]
        after["test_acc"] = evaluate(small, test)[1]
    target = Path(out) if out is not None else compacted_file(model_file)
    save_model(small, target, meta={"source": str(model_file),
                                    "test_acc": after.get("test_acc")})
    summary = {"source": str(model_file), "before": before, "after": after,
               "details": details, "seconds": seconds}
    write_json(target.with_suffix(".json"), summary)
    return {**summary, "out": str(target)}


def _example(model: nn.Module, splits: Any) -> torch.Tensor:
    """128 seeded random images of the model's input shape."""
    recipe = model_recipe(model)
    if recipe is not None:
        shape = (recipe["in_channels"], recipe["image_size"], recipe["image_size"])
    elif splits is not None:
        shape = (splits.in_channels, splits.image_size, splits.image_size)
    elif user_history(model).get("input_shape"):
        shape = tuple(user_history(model)["input_shape"])
    else:

        raise ConfigError("give example_inputs (or splits) to compact a user's module")
    return torch.randn(128, *shape, generator=torch.Generator().manual_seed(0))
