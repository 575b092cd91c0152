"""Model files that load without unpickling code: a recipe plus a state_dict.

A file holds ``{"format": "moprune-model", "version": 1, "recipe": {...},
"state_dict": {...}, "meta": {...}}`` and loads with ``torch.load(weights_only=True)``.
A user's module has no recipe moprune can rebuild it from: its file says so (``"model":
null``, its class name, and the pruning history of a compacted one), and loads with the
user's ``factory``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.errors import MopruneError
from moprune.io import atomic_write
from moprune.models.registry import build_model, extend_recipe, model_recipe, user_history

__all__ = ["build_from_recipe", "load_model", "plain", "read_model_file", "save_model"]

FORMAT = "moprune-model"
VERSION = 1


def save_model(model: nn.Module, path: str | os.PathLike[str], *,
               meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (its recipe and weights) to ``path`` atomically.

    Args:
        model: A model made by :func:`moprune.models.build_model`, or a user's module
            (then the file holds its weights, its class name and, when it was compacted,
            the pruning history; :func:`load_model` needs the user's factory).
        path: The file to write (conventionally ``*.pt``).
        meta: JSON-like facts to keep beside it (accuracy, sparsity, ...).
    """
    recipe = model_recipe(model)
    if recipe is None:
        recipe = {"model": None, "module": type(model).__name__, **user_history(model)}
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


def load_model(path: str | os.PathLike[str], *, device: torch.device | str = "cpu",
               factory: Callable[[], nn.Module] | None = None) -> nn.Module:
    """Rebuild a model that moprune wrote, with its weights.

    Args:
        factory: For a user's module: a callable returning a fresh module of the
            architecture the file was saved from (before compaction; a compacted one is
            shrunk by the recorded pruning history). Not needed for moprune's models.

    Raises:
        MopruneError: for a file moprune did not write, a user's module without
            ``factory``, or weights that do not fit the factory's module.

    Example:
        >>> model = load_model("runs/knee/knee.pt")  # doctest: +SKIP
    """
    payload = read_model_file(path)
    recipe = payload["recipe"]
    if recipe.get("model") is None:
        model = _user_module(recipe, factory, path)
    else:
        model = build_from_recipe(recipe)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as e:
        raise MopruneError(f"{str(path)!r}: its weights do not fit the module built for them "
                           f"({str(e).splitlines()[0]})") from None
    return model.to(device)


def _user_module(recipe: dict[str, Any], factory: Callable[[], nn.Module] | None,
                 path: str | os.PathLike[str]) -> nn.Module:
    """A fresh module from the user's factory, shrunk as the file's was."""
    name = recipe.get("module", "module")
    if factory is None:
        raise MopruneError(f"{str(path)!r} holds the weights of a user's {name}; give "
                           "factory= (a callable returning a fresh one) to load it")
    model = factory()
    if not isinstance(model, nn.Module):
        raise MopruneError(f"the factory returned {type(model).__name__}, not an nn.Module")
    if recipe.get("pruning_history"):
        from moprune.pruning.compact import rebuild_pruned

        shape = recipe.get("input_shape")
        if shape is None:
            raise MopruneError(f"{str(path)!r} was compacted without its input shape; "
                               "it cannot be rebuilt")
        model = rebuild_pruned(model, recipe["pruning_history"], torch.zeros(1, *shape))
        extend_recipe(model, recipe["pruning_history"], tuple(shape))
    return model


def build_from_recipe(recipe: dict[str, Any], *, seed: int | None = None) -> nn.Module:
    """The module a recipe describes, with initial weights (seeded when ``seed`` is given);
    a compacted recipe is built whole and shrunk by replaying its pruning history.

    Raises:
        MopruneError: for the recipe of a user's module (only its factory can build it).
    """
    if recipe.get("model") is None:
        raise MopruneError(f"a user's {recipe.get('module', 'module')} has no recipe to "
                           "build it from; build it with its factory")
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
