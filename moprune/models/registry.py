"""The model registry and :func:`build_model`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from moprune.errors import ConfigError
from moprune.registry import Registry
from moprune.validation import Range, check_range

__all__ = [
    "MODELS",
    "ModelFactory",
    "build_model",
    "extend_recipe",
    "model_recipe",
    "register_model",
    "user_history",
]

#: A factory takes keyword-only ``in_channels``, ``num_classes``, ``image_size`` and its
#: own options, and returns a freshly initialised module.
ModelFactory = Callable[..., nn.Module]
MODELS: Registry[ModelFactory] = Registry("model")
_RECIPE_ATTR = "_moprune_recipe"
_USER_HISTORY_ATTR = "_moprune_pruning_history"


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Register a model factory under ``name`` (a decorator).

    Example:
        >>> @register_model("tiny-mlp")
        ... def tiny(*, in_channels, num_classes, image_size):
        ...     return nn.Sequential(nn.Flatten(),
        ...                          nn.Linear(in_channels * image_size**2, num_classes))
    """
    return MODELS.register(name)


def build_model(
    model: str | nn.Module,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    seed: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a model by registered name, ``torchvision:<name>``, or pass a module through.

    Args:
        model: A registered name (see ``moprune models``), ``torchvision:<name>`` for any
            torchvision classification model, or an ``nn.Module`` (returned unchanged).
        in_channels, num_classes, image_size: What the dataset gives.
        seed: Seeds the weight initialisation when given.
        **kwargs: The factory's own options (e.g. ``hidden=(300, 100)`` for ``mlp``).

    Raises:
        UnknownNameError: for a name that is not registered.
        ConfigError: for options the factory does not take.
    """
    if isinstance(model, nn.Module):
        return model
    if not isinstance(model, str):
        raise ConfigError(f"model must be a name or an nn.Module, got {model!r}")
    for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                        ("image_size", image_size)):
        check_range(name, value, Range(ge=1, integer=True))
    options = dict(kwargs)  # what the recipe records: the user's options only
    if model.lower().startswith("torchvision:"):
        from moprune.models.torchvision_models import torchvision_model

        factory: ModelFactory = torchvision_model
        kwargs = {"name": model.split(":", 1)[1], **kwargs}
    else:
        factory = MODELS.get(model)
    if seed is not None:
        torch.manual_seed(seed)
    try:
        module = factory(in_channels=in_channels, num_classes=num_classes, image_size=image_size,
                         **kwargs)
    except TypeError as e:
        raise ConfigError(f"bad options for model {model!r}: {e}") from None
    except RuntimeError as e:  # e.g. a kernel larger than the image
        raise ConfigError(f"model {model!r} cannot take {in_channels}x{image_size}x{image_size} "
                          f"images: {str(e).splitlines()[0]}") from None
    recipe = {"model": model.lower(), "in_channels": in_channels, "num_classes": num_classes,
              "image_size": image_size, "args": options}
    setattr(module, _RECIPE_ATTR, recipe)
    return module


def model_rows(*, in_channels: int = 1, num_classes: int = 10, image_size: int = 28
               ) -> list[dict[str, Any]]:
    """Every registered model with its parameter count for these inputs and its
    description (``moprune models``), and the torchvision form."""
    from moprune.models.torchvision_models import torchvision_model_names

    rows: list[dict[str, Any]] = []
    for name in MODELS.names():
        model = build_model(name, in_channels=in_channels, num_classes=num_classes,
                            image_size=image_size)
        doc = (MODELS.get(name).__doc__ or "").strip().splitlines()[0]
        rows.append({"name": name, "parameters": sum(p.numel() for p in model.parameters()),
                     "description": doc})
    tv = torchvision_model_names()
    rows.append({"name": "torchvision:<name>", "parameters": None,
                 "description": f"any of {len(tv)} torchvision classifiers, e.g. "
                                "torchvision:resnet18, torchvision:mobilenet_v2"})
    return rows


def model_recipe(model: nn.Module) -> dict[str, Any] | None:
    """How ``build_model`` made ``model`` (name and arguments), or None for a user's module."""
    return getattr(model, _RECIPE_ATTR, None)


def extend_recipe(model: nn.Module, history: list,
                  input_shape: tuple[int, ...] | None = None) -> None:
    """Record a Torch-Pruning history ``[(module, is_out_channels, idxs), ...]`` in the
    recipe of a model moprune built; on a user's module (no recipe), beside it, with the
    ``input_shape`` (C, H, W) it was traced with, so that :func:`moprune.load_model` can
    shrink a fresh module from the user's factory the same way."""
    plain = [[str(n), bool(out), [int(i) for i in idxs]] for n, out, idxs in history]
    recipe = model_recipe(model)
    if recipe is not None:
        setattr(model, _RECIPE_ATTR, {
            **recipe, "pruning_history": [*recipe.get("pruning_history", []), *plain]})
        return
    old = user_history(model)
    shape = list(input_shape) if input_shape is not None else old.get("input_shape")
    setattr(model, _USER_HISTORY_ATTR, {
        "pruning_history": [*old.get("pruning_history", []), *plain],
        **({"input_shape": [int(v) for v in shape]} if shape is not None else {})})


def user_history(model: nn.Module) -> dict[str, Any]:
    """The pruning history recorded on a user's module (empty if it was never compacted)."""
    return dict(getattr(model, _USER_HISTORY_ATTR, {}))
