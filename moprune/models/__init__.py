"""Registered model factories: mlp, lenet5, vgg, resnet20, resnet56, torchvision:<name>."""

from moprune.models import resnet_cifar, simple, vgg  # noqa: F401  (registers the models)
from moprune.models.registry import (
    MODELS,
    ModelFactory,
    build_model,
    model_recipe,
    model_rows,
    register_model,
)
from moprune.models.serialization import load_model, save_model

__all__ = [
    "MODELS",
    "ModelFactory",
    "build_model",
    "load_model",
    "model_recipe",
    "model_rows",
    "register_model",
    "save_model",
]
