"""How the continuation path moves along its parameter: corrector strategies by name.

:func:`moprune.front.path.train_path` raises one parameter step by step (its predictor)
and trains at each value (its corrector). What that parameter is, and what the path
spreads its points along, is the corrector's:

- ``l1``: the weight lam of f2 in the weighted sum (points spread along f2);
- ``magnitude``: the share of the weights cut, the smallest by magnitude over all layers
  in scope, then held at zero (points spread along the kept share);
- ``channel``: the share of the FLOPs cut, whole channels in the order of
  :meth:`~moprune.objectives.Complexity.channel_order` (points spread along the FLOPs
  share; complexity ``group-l1`` or ``flops``).

A new corrector is one subclass and one registration in :data:`CORRECTORS`; the path's
``corrector`` option then takes its name::

    @CORRECTORS.register("half-magnitude")
    class HalfMagnitude(MagnitudeCorrector):
        def move(self, model, solver, optimizer, value, shape):
            return super().move(model, solver, optimizer, value / 2, shape)
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from moprune.front.points import Point
from moprune.objectives import Complexity
from moprune.pruning import flops_share, global_magnitude_masks, mask_optimizer_state
from moprune.pruning.stats import coupled_rows
from moprune.registry import Registry
from moprune.solvers import WeightedSumSolver

__all__ = ["CORRECTORS", "ChannelCorrector", "L1Corrector", "MagnitudeCorrector",
           "PathCorrector", "corrector"]


class PathCorrector:
    """What a path's parameter is (:meth:`move`) and what its points spread along
    (:meth:`size`).

    Attributes:
        ranked: It cuts by rank, not by a weight of f2: no prox step, no threshold, and
            its cuts held at zero (the solver's masks frozen).
        needs_groups: It cuts whole channels: the complexity must be a group norm.
    """

    ranked: ClassVar[bool] = True
    needs_groups: ClassVar[bool] = False

    def move(self, model: nn.Module, solver: WeightedSumSolver,
             optimizer: torch.optim.Optimizer, value: float, shape: tuple[int, ...]) -> bool:
        """Set the path's parameter to ``value`` in (0, 1) before a corrector's steps.
        Returns whether the path is at its floor (no further move is possible)."""
        raise NotImplementedError

    def resume(self, solver: WeightedSumSolver, value: float) -> None:
        """Restore the parameter on a resumed path (a cut is in the saved weights)."""

    def size(self, point: Point) -> float:
        """What the path spreads its points along (in decades)."""
        raise NotImplementedError


CORRECTORS: Registry[type[PathCorrector]] = Registry("path corrector")


@CORRECTORS.register("l1")
class L1Corrector(PathCorrector):
    """lam of the weighted sum ``(1 - lam) f1 + lam f2``, raised along the path."""

    ranked = False

    def move(self, model: nn.Module, solver: WeightedSumSolver,
             optimizer: torch.optim.Optimizer, value: float, shape: tuple[int, ...]) -> bool:
        solver.set_lam(value)
        return False

    def resume(self, solver: WeightedSumSolver, value: float) -> None:
        solver.set_lam(value)

    def size(self, point: Point) -> float:
        return point.f2


@CORRECTORS.register("magnitude")
class MagnitudeCorrector(PathCorrector):
    """The share of the weights cut, the smallest by magnitude (epsilon-constraint on l0,
    iterative hard thresholding)."""

    @torch.no_grad()
    def move(self, model: nn.Module, solver: WeightedSumSolver,
             optimizer: torch.optim.Optimizer, value: float, shape: tuple[int, ...]) -> bool:
        """Set the ``value`` share of the weights in scope that are smallest in magnitude
        to zero, with their optimizer state, and hold them there."""
        assert solver.f2 is not None
        params = solver.f2.penalized
        masks = global_magnitude_masks(params, value)
        for p, m in zip(params, masks, strict=True):
            p.mul_(m)
        mask_optimizer_state(optimizer, params, masks)
        solver.on_resume()  # the frozen masks rebuilt from the new zeros
        return False

    def size(self, point: Point) -> float:
        return point.kept


@CORRECTORS.register("channel")
class ChannelCorrector(PathCorrector):
    """The share of the FLOPs cut, whole channels at a time; a channel coupled across
    layers (a residual stage's, added to its shortcut) is cut in all of them at once, as
    compaction can only remove it so."""

    needs_groups = True

    def __init__(self) -> None:
        # the network's coupled channels: its structure, found once per path
        self._rows: list[list[tuple[nn.Module, int]]] | None = None
        self._coupled: list[list[tuple[int, int]]] = []

    @torch.no_grad()
    def move(self, model: nn.Module, solver: WeightedSumSolver,
             optimizer: torch.optim.Optimizer, value: float, shape: tuple[int, ...]) -> bool:
        """Cut the fewest whole channels, in the order of
        :meth:`~moprune.objectives.Complexity.channel_order`, that leave at most
        ``1 - value`` of the FLOPs (:func:`moprune.pruning.flops_share`; all the order
        allows when that is not enough), with their optimizer state, and hold them at
        zero. Returns whether the order was used up (the path's floor)."""
        f2 = solver.f2
        assert f2 is not None
        if self._rows is None:
            self._rows = coupled_rows(model, shape)
            self._coupled = coupled_groups(model, f2, self._rows)
        units = f2.channel_units(coupled=self._coupled)
        order = [pair for unit in units for pair in unit]
        ends = [0]  # a cut takes whole units: its length is one of these
        for unit in units:
            ends.append(ends[-1] + len(unit))
        params = f2.penalized
        weights = [p.detach().clone() for p in params]

        def apply(u: int) -> list[torch.Tensor]:
            masks = f2.group_masks(order[:ends[u]])
            for p, w, m in zip(params, weights, masks, strict=True):
                p.copy_(w * m)
            return masks

        lo, hi = 0, len(units)  # flops_share falls as u rises: the least u under the target
        while lo < hi:
            mid = (lo + hi) // 2
            apply(mid)
            if flops_share(model, shape, coupled=self._rows) <= 1.0 - value:
                hi = mid
            else:
                lo = mid + 1
        mask_optimizer_state(optimizer, params, apply(lo))
        solver.on_resume()  # the frozen masks rebuilt from the new zeros
        return lo == len(units) and flops_share(model, shape, coupled=self._rows) > 1.0 - value

    def size(self, point: Point) -> float:
        return float(point.flops_share if point.flops_share is not None else 1.0)


def coupled_groups(model: nn.Module, f2: Complexity,
                   rows: list[list[tuple[nn.Module, int]]]) -> list[list[tuple[int, int]]]:
    """The channels of ``model`` coupled across layers (``rows``, from
    :func:`moprune.pruning.stats.coupled_rows`) as ``(tensor, group)`` pairs of ``f2`` (its
    output groups in scope)."""
    tensor_of = {f"{name}.weight" if name else "weight": module
                 for name, module in model.named_modules()}
    index = {id(tensor_of[n]): i for i, n in enumerate(f2.names) if n in tensor_of
             and f2.group_dims[i] == 0}
    units = []
    for channel in rows:
        unit = [(index[id(m)], r) for m, r in channel if id(m) in index]
        if len(unit) > 1:
            units.append(unit)
    return units


def corrector(name: str) -> PathCorrector:
    """The registered corrector ``name``.

    Raises:
        UnknownNameError: one line listing the known correctors.
    """
    return CORRECTORS.get(name)()
