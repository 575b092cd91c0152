"""Model files that load without unpickling code: a recipe plus a state_dict.

A file holds ``{"format": "moprune-model", "version": 1, "recipe": {...},
"state_dict": {...}, "meta": {...}}`` and loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.errors import ConfigError, MopruneError
from moprune.io import atomic_write
from moprune.models.registry import build_model, extend_recipe, model_recipe

__all__ = ["build_from_recipe", "load_model", "plain", "read_model_file", "save_model"]

FORMAT = "moprune-model"
VERSION = 1


def save_model(model: nn.Module, path: str | os.PathLike[str], *,
               meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (its recipe and weights) to ``path`` atomically.

    Args:
        model: A model made by :func:`moprune.models.build_model`.
        path: The file to write (conventionally ``*.pt``).
        meta: JSON-like facts to keep beside it (accuracy, sparsity, ...).

    Raises:
        ConfigError: for a module that moprune did not build (it has no recipe); save its
            ``state_dict`` yourself and load it into your own module.
    """
    recipe = model_recipe(model)
    if recipe is None:
        raise ConfigError(
            f"cannot save a {type(model).__name__} that moprune did not build: it has no "
            "recipe; save model.state_dict() and rebuild the module yourself")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "recipe": plain(recipe),
               "state_dict": state, "meta": plain(meta or {})}
    return atomic_write(path, lambda f: torch.save(payload, f))


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw payload of a model file, checked to be one moprune wrote.

    Raises:
        MopruneError: if the file is missing or is not a moprune model file.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise MopruneError(f"model file {str(path)!r} does not exist") from None
    except Exception as e:  # any unpickling failure means: not our format
        raise MopruneError(f"{str(path)!r} is not a moprune model file "
                           f"({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise MopruneError(f"{str(path)!r} is not a moprune model file")
    if payload.get("version", 0) > VERSION:
        raise MopruneError(f"{str(path)!r} was written by a newer moprune "
                           f"(format version {payload['version']})")
    return payload


def load_model(path: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild a model that moprune wrote, with its weights.

    Example:
        >>> model = load_model("runs/knee/knee.pt")  # doctest: +SKIP
    """
    payload = read_model_file(path)
    model = build_from_recipe(payload["recipe"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device)


def build_from_recipe(recipe: dict[str, Any], *, seed: int | None = None) -> nn.Module:
    """The module a recipe describes, with initial weights (seeded when ``seed`` is given);
    a compacted recipe is built whole and shrunk by replaying its pruning history."""
    model = build_model(recipe["model"], in_channels=recipe["in_channels"],
                        num_classes=recipe["num_classes"], image_size=recipe["image_size"],
                        seed=seed, **recipe.get("args", {}))
    if recipe.get("pruning_history"):  # a compacted network: shrink the fresh one the same way
        from moprune.pruning.compact import rebuild_pruned

        example = torch.zeros(1, recipe["in_channels"], recipe["image_size"],
                              recipe["image_size"])
        model = rebuild_pruned(model, recipe["pruning_history"], example)
        extend_recipe(model, recipe["pruning_history"])
    return model


def plain(obj: Any) -> Any:
    """Tuples to lists, recursively, so a recipe is plain JSON-like data."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
