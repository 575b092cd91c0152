"""Any torchvision classification model, adapted to the dataset's channels and classes."""

from __future__ import annotations

from torch import nn

from moprune.errors import UnknownNameError

__all__ = ["torchvision_model", "torchvision_model_names"]


def torchvision_model_names() -> list[str]:
    """Names of torchvision's classification models."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def torchvision_model(*, name: str, in_channels: int, num_classes: int, image_size: int,
                      **kwargs) -> nn.Module:
    """``torchvision.models.get_model(name, weights=None, num_classes=...)``, with the first
    convolution rebuilt when the data does not have 3 channels. No weights are downloaded.
    """
    import torchvision.models as tvm

    del image_size  # torchvision classifiers pool adaptively
    names = torchvision_model_names()
    if name not in names:
        raise UnknownNameError(
            f"unknown torchvision model {name!r}; known: {', '.join(names)}")
    model = tvm.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    if in_channels != 3:
        _replace_first_conv(model, in_channels)
    return model


def _replace_first_conv(model: nn.Module, in_channels: int) -> None:
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                conv = nn.Conv2d(in_channels, child.out_channels,
                                 child.kernel_size,  # type: ignore[arg-type]
                                 child.stride,  # type: ignore[arg-type]
                                 child.padding,  # type: ignore[arg-type]
                                 child.dilation,  # type: ignore[arg-type]
                                 child.groups, bias=child.bias is not None,
                                 padding_mode=child.padding_mode)
                setattr(parent, child_name, conv)
                return
