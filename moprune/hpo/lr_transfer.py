"""Width-aware learning rates for proxy trials (muP, Yang et al., arXiv 2203.03466).

Under the standard parameterisation a thinner network has another optimal learning rate
than the wide one (Dey et al., NeurIPS 2024, for sparse networks), so a proxy tuned as it
is hands the base network a shifted optimum. muP fixes the dynamics across width: with the
base network as muP's *base shape* (every width multiplier 1 there, so muP and the
standard parameterisation coincide on it), the proxy is the same network at width
multipliers ``m = proxy width / base width`` per dimension, and muP's per-layer factors
make its best learning rate the base network's.

The factors follow ``mup.MuSGD`` / ``mup.MuAdam`` and ``mup.MuReadout`` (microsoft/mup),
written without the readout's forward multiplier so that the proxy stays a plain module:

- a weight (a ``Linear`` or a convolution; ``m_out``, ``m_in`` from dims 0 and 1): SGD
  learning rate times ``m_out / m_in`` and weight decay times ``m_in / m_out``; Adam
  learning rate times ``1 / m_in`` and weight decay times ``m_in``. The input layer
  (``m_in = 1``) and layers kept at full width come out right by the same formula;
- a vector (bias, norm scale) of width multiplier ``m``: SGD learning rate times ``m``,
  weight decay times ``1 / m``; Adam unchanged;
- the readout (the last weight, whose outputs are the classes): learning rate times
  ``1 / m_in`` for SGD and Adam, weight decay unchanged, its initial weights times
  ``1 / sqrt(m_in)`` and its bias times ``sqrt(m_in)`` (muP's ``1 / fan_in`` readout).

The proxy must be a thinned copy of the base network: the same parameter names and
number of dimensions (what compaction and ``uniform:SHARE`` make).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from moprune.errors import ConfigError
from moprune.names import LR_TRANSFERS
from moprune.solvers.cross_entropy import CrossEntropySolver

__all__ = ["LR_TRANSFERS", "LayerScale", "ScaledSolver", "base_shapes", "mup_scales",
           "mup_solver", "scale_init"]


@dataclass(frozen=True)
class LayerScale:
    """Factors for one parameter of the proxy: on the learning rate, on the weight decay
    and on its initial values; and the width multipliers they come from."""

    lr: float = 1.0
    weight_decay: float = 1.0
    init: float = 1.0
    m_out: float = 1.0
    m_in: float = 1.0


def base_shapes(base: nn.Module) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape: muP's base shape, picklable (sent to HPO workers)."""
    return {name: tuple(p.shape) for name, p in base.named_parameters()}


def mup_scales(proxy: nn.Module, base: nn.Module | Mapping[str, Sequence[int]], *,
               optimizer: str = "sgd") -> dict[str, LayerScale]:
    """muP's per-parameter factors for training ``proxy`` at ``base``'s hyperparameters.

    Args:
        proxy: The thinned network (its parameter names those of ``base``).
        base: The base network, muP's base shape, or its :func:`base_shapes`.
        optimizer: ``sgd``, or ``adam`` / ``adamw`` (Adam's rules).

    Returns:
        Parameter name -> :class:`LayerScale` (every parameter of ``proxy``).

    Raises:
        ConfigError: when ``proxy`` is not a thinned copy of ``base``.
    """
    adam = optimizer in ("adam", "adamw")
    ref = {name: tuple(shape) for name, shape in (
        base_shapes(base) if isinstance(base, nn.Module) else base).items()}
    params = list(proxy.named_parameters())
    weights = [name for name, p in params if p.ndim >= 2]
    readout = weights[-1] if weights else None
    readout_bias = readout.rsplit(".", 1)[0] + ".bias" if readout and "." in readout else None
    scales: dict[str, LayerScale] = {}
    for name, p in params:
        b = ref.get(name)
        if b is None or len(b) != p.ndim:
            raise ConfigError(f"lr transfer mup needs the proxy to be a thinned copy of the "
                              f"base network: parameter {name!r} "
                              + ("is not in the base network" if b is None
                                 else f"has {len(b)} dimensions there, {p.ndim} here"))
        m_out = p.shape[0] / b[0]
        if p.ndim >= 2:
            m_in = p.shape[1] / b[1]
            if name == readout:
                scales[name] = LayerScale(lr=1 / m_in, init=1 / math.sqrt(m_in),
                                          m_out=m_out, m_in=m_in)
            elif adam:
                scales[name] = LayerScale(lr=1 / m_in, weight_decay=m_in, m_out=m_out,
                                          m_in=m_in)
            else:
                scales[name] = LayerScale(lr=m_out / m_in, weight_decay=m_in / m_out,
                                          m_out=m_out, m_in=m_in)
        elif name == readout_bias and readout is not None:
            m_in = dict(params)[readout].shape[1] / ref[readout][1]
            scales[name] = LayerScale(init=math.sqrt(m_in), m_out=m_out, m_in=m_in)
        elif adam:
            scales[name] = LayerScale(m_out=m_out)
        else:
            scales[name] = LayerScale(lr=m_out, weight_decay=1 / m_out, m_out=m_out)
    return scales


@torch.no_grad()
def scale_init(model: nn.Module, scales: Mapping[str, LayerScale]) -> None:
    """Multiply every parameter of ``model`` by its ``init`` factor (freshly drawn weights)."""
    for name, p in model.named_parameters():
        s = scales.get(name)
        if s is not None and s.init != 1.0:
            p.mul_(s.init)


def mup_solver(model: nn.Module, base: nn.Module | Mapping[str, Sequence[int]], *,
               optimizer: str = "sgd") -> ScaledSolver:
    """Prepare a freshly initialised ``model`` for training with muP's factors against
    ``base``: its initial values scaled (:func:`scale_init`), and the solver whose
    optimizer applies the learning-rate and weight-decay factors."""
    scales = mup_scales(model, base, optimizer=optimizer)
    scale_init(model, scales)
    return ScaledSolver(scales)


class ScaledSolver(CrossEntropySolver):
    """Cross-entropy training whose optimizer has one parameter group per factor pair:
    the config's learning rate and weight decay times each parameter's factors."""

    name = "ce-scaled"

    def __init__(self, scales: Mapping[str, LayerScale]) -> None:
        super().__init__()
        self.scales = dict(scales)

    def _make_optimizer(self, model: nn.Module, config) -> torch.optim.Optimizer | None:
        from moprune.training.loop import make_optimizer

        groups: dict[tuple[float, float], list[nn.Parameter]] = {}
        for name, p in model.named_parameters():
            s = self.scales.get(name, LayerScale())
            groups.setdefault((s.lr, s.weight_decay), []).append(p)
        return make_optimizer(
            [{"params": ps, "lr": config.lr * lr, "weight_decay": config.weight_decay * wd}
             for (lr, wd), ps in groups.items()], config)

    def describe(self) -> dict:
        factors = sorted({(round(s.lr, 6), round(s.weight_decay, 6))
                          for s in self.scales.values()})
        return {**super().describe(), "name": self.name, "lr_factors": factors}
