"""Small networks: a multilayer perceptron and LeNet-5."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from moprune.models.registry import register_model

__all__ = ["LeNet5", "mlp"]


@register_model("mlp")
def mlp(*, in_channels: int, num_classes: int, image_size: int,
        hidden: Sequence[int] = (300, 100)) -> nn.Module:
    """LeNet-300-100 style perceptron: Flatten, then Linear+ReLU per hidden width.

    With the defaults on 28x28 grey images it has 266,610 parameters.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_channels * image_size * image_size
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU(inplace=True)]
        width = int(h)
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling.

    28x28 inputs are padded by 2 so the feature map before the classifier is 16x5x5,
    as for the original 32x32 inputs.
    """

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        pad = 2 if image_size == 28 else 0
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, image_size, image_size)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


register_model("lenet5")(LeNet5)
