"""The two objectives: data fit (f1, cross-entropy) and complexity (f2).

f2 is normalised by the number of weights in scope, so that values do not grow with
the network:

- ``l1``: ``f2 = sum |w| / n`` (the mean absolute weight);
- ``group-l1``: ``f2 = sum_g sqrt(m_g) * ||w_g||_2 / n`` over groups ``g`` of ``m_g``
  weights (Yuan & Lin's group lasso weighting), which equals the l1 value when every
  weight of a group has the same magnitude. Groups are output channels (Conv) or output
  neurons (Linear); the network's output layer is grouped by its inputs instead, so
  that no class output is driven to zero. A Conv/Linear whose outputs go straight into a
  batch norm (the next module registered, with as many features as the layer has
  outputs) takes that norm's scale and shift of each channel into the channel's group:
  a channel whose weights are zero but whose shift is not still feeds the next layer a
  constant, so the group only dies when all three are zero. f2 is still divided by the
  number of Conv/Linear weights.
- ``flops``: group-l1 where each group is weighted by the FLOPs its channel costs per
  image (``2 x`` its weights ``x`` the layer's output positions, as
  ``torch.utils.flop_counter`` counts a convolution or matrix product), divided by the
  FLOPs of all layers in scope: ``f2 = sum_g (F_g / m_g) sqrt(m_g) ||w_g||_2 / F``. It
  equals the FLOPs-weighted mean absolute weight when a group's weights share one
  magnitude, so f2 measures compute and a knee of this front is a compute knee. It needs
  the input shape (the solvers get it from the data).

The proximal operator of ``t f2`` (:meth:`Complexity.prox_`) is soft-thresholding:
``sign(w) max(|w| - t / n, 0)`` for l1, ``w_g max(1 - t c_g / ||w_g||, 0)`` per group
otherwise: exact zeros with no threshold.

The gradients are computed analytically (``sign(w) / n`` and
``sqrt(m_g) * w_g / ||w_g|| / n``, zero at zero): no second backward pass.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from moprune.errors import ConfigError
from moprune.registry import Registry

__all__ = ["COMPLEXITIES", "KINDS", "SCOPES", "Complexity", "ComplexityKind", "FlopsKind",
           "GroupL1Kind", "L1Kind", "cross_entropy", "scope_parameters"]

SCOPES = ("all", "dense", "conv")
_LAYERS = {"all": (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d), "dense": (nn.Linear,),
           "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d)}


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, *,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """f1: mean cross-entropy of a batch."""
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing)


def scope_parameters(model: nn.Module, scope: str = "all") -> list[tuple[str, torch.Tensor]]:
    """The weight tensors (not biases) of the Conv/Linear layers in ``scope``, in module order.

    Raises:
        ConfigError: for an unknown scope, or a scope that holds no weights in ``model``.
    """
    if scope not in SCOPES:
        raise ConfigError(f"scope must be one of {SCOPES}, got {scope!r}")
    found = [(f"{name}.weight" if name else "weight", m.weight)
             for name, m in model.named_modules()
             if isinstance(m, _LAYERS[scope]) and m.weight is not None]
    if not found:
        raise ConfigError(f"scope {scope!r} holds no weights in {type(model).__name__}")
    return found


_BatchNorm = nn.modules.batchnorm._BatchNorm


def _following_batch_norms(model: nn.Module, names: list[str]) -> dict[str, _BatchNorm]:
    """Layer weight name -> the batch norm registered right after that layer, where it has
    as many features as the layer has outputs (conv-bn-relu as torchvision and most
    codebases write it)."""
    found: dict[str, _BatchNorm] = {}
    modules = list(model.named_modules())
    wanted = {n.removesuffix("weight").removesuffix(".") for n in names}
    for (name, m), (_, nxt) in itertools.pairwise(modules):
        if (name in wanted and isinstance(nxt, _BatchNorm)
                and nxt.affine and nxt.num_features == m.weight.shape[0]):
            found[f"{name}.weight" if name else "weight"] = nxt
    return found


def layer_positions(model: nn.Module, names: list[str], input_shape: tuple[int, ...]
                    ) -> list[int]:
    """Output positions per image of the layers whose weights are ``names`` (H x W of a
    convolution's output, 1 for a Linear on flat inputs), from one forward pass of zeros
    in eval mode."""
    modules = dict(model.named_modules())
    layers = [modules[n.removesuffix("weight").removesuffix(".")] for n in names]
    found: dict[int, int] = {}

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        channels = output.shape[1] if output.ndim > 2 else output.shape[-1]
        found[id(module)] = output.numel() // (output.shape[0] * channels)

    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    missing = [n for n, m in zip(names, layers, strict=True) if id(m) not in found]
    if missing:
        raise ConfigError(f"complexity 'flops': layer {missing[0]!r} is not used by the "
                          f"forward pass")
    return [found[id(m)] for m in layers]


class ComplexityKind:
    """What a complexity kind decides, found by name in :data:`COMPLEXITIES`: whether f2
    is an l1 norm of the weights or a group norm of their channels (``grouped``), and how
    much each layer's groups weigh (:meth:`layer_weights`: 1 each for ``group-l1``, the
    output positions per image for ``flops``, so that f2 counts compute). A new kind is
    one subclass and one registration::

        @COMPLEXITIES.register("late-heavy")
        class LateHeavy(ComplexityKind):
            def layer_weights(self, model, names, input_shape):
                return [1] * (len(names) - 1) + [10]

    Attributes:
        grouped: f2 is a group norm over channels (so channels can be cut whole).
        needs_input_shape: :meth:`layer_weights` needs one input's shape.
        knee_axes: The plane its front's knee is read in by default (None: the method's).
    """

    grouped: ClassVar[bool] = True
    needs_input_shape: ClassVar[bool] = False
    knee_axes: ClassVar[str | None] = None

    def layer_weights(self, model: nn.Module, names: list[str],
                      input_shape: tuple[int, ...] | None) -> list[int]:
        """How much each layer's groups weigh in f2 (and in its normaliser)."""
        return [1] * len(names)


COMPLEXITIES: Registry[type[ComplexityKind]] = Registry("complexity")


@COMPLEXITIES.register("l1")
class L1Kind(ComplexityKind):
    """The mean absolute weight."""

    grouped = False


@COMPLEXITIES.register("group-l1")
class GroupL1Kind(ComplexityKind):
    """Yuan & Lin's group lasso over output channels (batch-norm scale and shift joined)."""


@COMPLEXITIES.register("flops")
class FlopsKind(ComplexityKind):
    """The group lasso with each channel weighted by the FLOPs it costs per image."""

    needs_input_shape = True
    knee_axes = "flops"

    def layer_weights(self, model: nn.Module, names: list[str],
                      input_shape: tuple[int, ...] | None) -> list[int]:
        assert input_shape is not None
        return layer_positions(model, names, tuple(input_shape))


#: The built-in kinds (registered ones: ``COMPLEXITIES.names()``).
KINDS = ("l1", "group-l1", "flops")


def complexity_kind(name: str) -> ComplexityKind:
    """The registered complexity kind ``name``.

    Raises:
        UnknownNameError: one line listing the known kinds.
    """
    return COMPLEXITIES.get(name)()


class Complexity:
    """f2 over the weights of ``model`` in ``scope``, with its analytic gradient and l0.

    Args:
        model: The network.
        kind: A registered :class:`ComplexityKind`: ``l1``, ``group-l1`` or ``flops``.
        scope: ``all`` (every Conv/Linear weight), ``dense`` (Linear) or ``conv``.
        input_shape: One input's shape, ``(C, H, W)``; needed by ``flops``.

    Example:
        >>> f2 = Complexity(model, kind="l1", scope="all")  # doctest: +SKIP
        >>> f2.value(), f2.sparsity()  # doctest: +SKIP
    """

    def __init__(self, model: nn.Module, *, kind: str = "l1", scope: str = "all",
                 input_shape: tuple[int, ...] | None = None) -> None:
        strategy = complexity_kind(kind)
        if strategy.needs_input_shape and input_shape is None:
            raise ConfigError(f"complexity {kind!r} needs the input shape (C, H, W)")
        named = scope_parameters(model, scope)
        self.kind = kind
        #: f2 is a group norm over channels (``group-l1``, ``flops``), not ``l1``.
        self.grouped = strategy.grouped
        self.scope = scope
        self.names = [n for n, _ in named]
        self.params: list[torch.Tensor] = [p for _, p in named]
        self.n = sum(p.numel() for p in self.params)
        # Group dimension per tensor: outputs (dim 0), inputs (dim 1) for the output layer.
        output_layer = len(self.params) - 1 if self.params[-1].ndim == 2 else None
        self.group_dims = [1 if i == output_layer else 0 for i in range(len(self.params))]
        # Batch-norm scale and shift joined to their layer's output groups (group-l1 only).
        norms = _following_batch_norms(model, self.names) if self.grouped else {}
        self.attached: list[list[torch.Tensor]] = [
            [t for t in (norms[name].weight, norms[name].bias) if isinstance(t, torch.Tensor)]
            if name in norms and d == 0 else [] for name, d in zip(self.names, self.group_dims,
                                                                   strict=True)]
        #: Every tensor f2 depends on: the weights, then the attached batch-norm tensors.
        #: Solvers add f2's gradient to these and the pruner prunes them.
        self.penalized: list[torch.Tensor] = self.params + [t for a in self.attached for t in a]
        self._group_scale = [math.sqrt(p.numel() / p.shape[d] + len(a)) for p, d, a in
                             zip(self.params, self.group_dims, self.attached, strict=True)]
        #: How much each layer's groups weigh (:meth:`ComplexityKind.layer_weights`: 1
        #: each, or for ``flops`` the layer's output positions per image).
        self.positions = strategy.layer_weights(
            model, self.names, None if input_shape is None else tuple(input_shape))
        #: What f2 is divided by: the weights in scope, or (``flops``) the FLOPs / 2 of
        #: their layers per image.
        self.norm = sum(p.numel() * k for p, k in zip(self.params, self.positions, strict=True))

    def group_flops(self) -> list[torch.Tensor]:
        """FLOPs per image of each group (channel) of each weight tensor, as
        ``torch.utils.flop_counter`` counts its layer's, shared equally by its groups."""
        return [torch.full((p.shape[d],), 2.0 * p.numel() * k / p.shape[d])
                for p, d, k in zip(self.params, self.group_dims, self.positions, strict=True)]

    def _group_norms(self, i: int) -> torch.Tensor:
        """L2 norm of each group of weight tensor ``i`` (attached tensors included), shaped
        to broadcast against it."""
        p, dim = self.params[i], self.group_dims[i]
        other = [d for d in range(p.ndim) if d != dim]
        sq = p.pow(2).sum(dim=other, keepdim=True)
        for t in self.attached[i]:
            sq = sq + t.pow(2).view(sq.shape)
        return sq.sqrt()

    def differentiable(self) -> torch.Tensor:
        """f2 as an autograd tensor (for checks; training uses :meth:`gradient`)."""
        if not self.grouped:
            return sum(p.abs().sum() for p in self.params) / self.n  # type: ignore[return-value]
        total = sum(s * k * self._group_norms(i).sum() for i, (s, k) in
                    enumerate(zip(self._group_scale, self.positions, strict=True)))
        return total / self.norm  # type: ignore[return-value]

    @torch.no_grad()
    def value(self) -> float:
        """f2 of the current weights."""
        return float(self.differentiable())

    @torch.no_grad()
    def gradient(self, scale: float | None = None) -> list[torch.Tensor]:
        """The analytic gradient of f2, one tensor per tensor of :attr:`penalized` (0 at
        w = 0).

        Args:
            scale: Multiply f2 by this first; None is f2 as defined (``1 / n`` built in),
                ``n`` gives the gradient of the unnormalised sum.
        """
        factor = (1.0 if scale is None else scale) / self.norm
        if not self.grouped:
            grads = list(torch._foreach_sign(self.params))
            if factor != 1.0:
                torch._foreach_mul_(grads, factor)
            return grads
        out, extra = [], []
        for i, (p, s) in enumerate(zip(self.params, self._group_scale, strict=True)):
            # s k factor / ||g|| per group, 0 for a dead group; times each tensor of the group.
            norms = self._group_norms(i)
            coef = torch.where(norms > 0, (s * self.positions[i] * factor) / norms.clamp_min(1e-30),
                               torch.zeros((), dtype=p.dtype, device=p.device))
            out.append(p * coef)
            extra += [t * coef.view(-1) for t in self.attached[i]]
        return out + extra

    @torch.no_grad()
    def prox_(self, step: float) -> None:
        """Replace the weights by the proximal point of ``step * f2`` (in place): soft-
        thresholding by ``step / n`` for l1, group soft-thresholding otherwise. Weights
        (groups) below the threshold become exactly 0."""
        if step < 0:
            raise ConfigError(f"the proximal step must be >= 0, got {step}")
        if step == 0:
            return
        if not self.grouped:
            for p in self.params:
                p.copy_(F.softshrink(p, step / self.n))
            return
        for i, (p, s) in enumerate(zip(self.params, self._group_scale, strict=True)):
            norms = self._group_norms(i)
            shrink = (1.0 - (step * s * self.positions[i] / self.norm)
                      / norms.clamp_min(1e-30)).clamp_min(0.0)
            p.mul_(shrink)
            for t in self.attached[i]:
                t.mul_(shrink.view(-1))

    def channel_order(self, *, max_cut: float = 0.9,
                      coupled: list[list[tuple[int, int]]] | None = None
                      ) -> list[tuple[int, int]]:
        """:meth:`channel_units` as one flat list of ``(tensor, group)`` pairs."""
        return [pair for unit in self.channel_units(max_cut=max_cut, coupled=coupled)
                for pair in unit]

    @torch.no_grad()
    def channel_units(self, *, max_cut: float = 0.9,
                      coupled: list[list[tuple[int, int]]] | None = None
                      ) -> list[list[tuple[int, int]]]:
        """The groups (channels, neurons) in the order a structured magnitude cut takes
        them, as ``(tensor, group)`` pairs: by their L2 norm (attached batch-norm tensors
        included) over the mean of their tensor's, smallest first, one ranking over all
        tensors (the layer normalisation of global channel pruning). At most ``max_cut``
        of a tensor's groups are listed, and at least one is left out. Dead groups (norm
        0) come first, so a longer prefix of the order only cuts more.

        ``coupled``: groups of different tensors that only go together (a residual
        stage's channel, in every convolution added to its shortcut): each is one unit,
        ranked by its members' mean score, taken only while each member's tensor has
        room; every other group is a unit of its own. A cut takes whole units.

        Raises:
            ConfigError: for complexity ``l1``, which has no groups.
        """
        if not self.grouped:
            raise ConfigError(f"a channel cut needs groups: complexity group-l1 or flops, "
                              f"not {self.kind}")
        norms = [self._group_norms(i).flatten() for i in range(len(self.params))]
        scores = torch.cat([n / n.mean().clamp_min(1e-30) for n in norms]).cpu()
        owner = [(i, j) for i, n in enumerate(norms) for j in range(len(n))]
        room = [min(int(max_cut * len(n)), len(n) - 1) for n in norms]
        order: list[list[tuple[int, int]]] = []
        if not coupled:
            for g in torch.argsort(scores, stable=True).tolist():
                i = owner[g][0]
                if room[i] > 0:
                    order.append([owner[g]])
                    room[i] -= 1
            return order
        index = {pair: g for g, pair in enumerate(owner)}
        in_unit = {pair for unit in coupled for pair in unit}
        units = [(float(scores[g]), g, [pair]) for g, pair in enumerate(owner)
                 if pair not in in_unit]
        for unit in coupled:
            flat = [index[pair] for pair in unit]
            units.append((float(scores[flat].mean()), min(flat), list(unit)))
        for _, _, pairs in sorted(units, key=lambda u: (u[0], u[1])):
            if all(room[i] > 0 for i, _ in pairs):
                order.append(pairs)
                for i, _ in pairs:
                    room[i] -= 1
        return order

    def group_masks(self, groups: list[tuple[int, int]]) -> list[torch.Tensor]:
        """Boolean masks, one per tensor of :attr:`penalized`, that cut the given
        ``(tensor, group)`` pairs (their attached batch-norm entries too)."""
        keeps = [torch.ones(p.shape[d], dtype=torch.bool, device=p.device)
                 for p, d in zip(self.params, self.group_dims, strict=True)]
        for i, j in groups:
            keeps[i][j] = False
        masks, extra = [], []
        for i, (p, keep) in enumerate(zip(self.params, keeps, strict=True)):
            shape = [1] * p.ndim
            shape[self.group_dims[i]] = -1
            masks.append(keep.view(shape).expand_as(p))
            extra += [keep.clone() for _ in self.attached[i]]
        return masks + extra

    @torch.no_grad()
    def zeros(self) -> int:
        """l0 complement: how many weights in scope are exactly zero."""
        return int(sum(int((p == 0).sum()) for p in self.params))

    def sparsity(self) -> float:
        """Fraction of weights in scope that are exactly zero."""
        return self.zeros() / self.n

    @torch.no_grad()
    def dead_groups(self) -> int:
        """Groups (channels / neurons) whose weights in scope are all zero."""
        return int(sum(int((self._group_norms(i) == 0).sum()) for i in range(len(self.params))))

    @property
    def num_groups(self) -> int:
        return sum(p.shape[d] for p, d in zip(self.params, self.group_dims, strict=True))
