"""CIFAR-style ResNets (He et al. 2016, section 4.2): 6n+2 layers, widths 16/32/64.

Downsampling shortcuts are 1x1 convolutions with batch norm (option B), which
Torch-Pruning's dependency graph can follow, unlike option A's zero padding.
"""

from __future__ import annotations

import torch
from torch import nn

from moprune.models.registry import register_model

__all__ = ["BasicBlock", "CifarResNet"]


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet of depth ``6 * blocks + 2`` for small images."""

    def __init__(self, *, blocks: int, in_channels: int = 3, num_classes: int = 10,
                 image_size: int = 32, widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        del image_size  # global average pooling makes the head size-independent
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages: list[nn.Module] = []
        c = widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks):
                stride = 2 if i > 0 and j == 0 else 1
                stages.append(BasicBlock(c, w, stride))
                c = w
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(self.layers(x))
        return self.fc(torch.flatten(x, 1))


@register_model("resnet20")
def resnet20(*, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    """ResNet-20 for CIFAR (0.27M parameters)."""
    return CifarResNet(blocks=3, in_channels=in_channels, num_classes=num_classes,
                       image_size=image_size)


@register_model("resnet56")
def resnet56(*, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    """ResNet-56 for CIFAR (0.86M parameters)."""
    return CifarResNet(blocks=9, in_channels=in_channels, num_classes=num_classes,
                       image_size=image_size)
