"""The small VGG-style CIFAR network of Reiners, Klamroth and Stiglmayr (2020)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from moprune.models.registry import register_model

__all__ = ["SmallVGG"]


class SmallVGG(nn.Module):
    """Three blocks of two 3x3 conv + batch norm + ReLU, each followed by max pooling
    (and dropout), then one linear classifier: 2x conv32, 2x conv64, 2x conv128.
    """

    def __init__(self, *, in_channels: int = 3, num_classes: int = 10, image_size: int = 32,
                 widths: Sequence[int] = (32, 64, 128), dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            for _ in range(2):
                layers += [nn.Conv2d(c, int(w), 3, padding=1, bias=False),
                           nn.BatchNorm2d(int(w)), nn.ReLU(inplace=True)]
                c = int(w)
            layers.append(nn.MaxPool2d(2))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.features.eval()(torch.zeros(1, in_channels, image_size, image_size)).numel()
        self.features.train()
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


register_model("vgg")(SmallVGG)
