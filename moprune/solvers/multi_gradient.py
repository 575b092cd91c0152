"""Stochastic multi-gradient descent (Liu & Vicente) for (f1, f2), as in Reiners et al.

Per mini-batch: g1 = grad f1 by backpropagation, g2 = grad f2 analytically; the
min-norm point of the segment [g1, g2] is ``d = a g1 + (1 - a) g2`` with the closed form
``a = clip(((g2 - g1) . g2) / ||g1 - g2||^2, 0, 1)`` (``a = 1`` if g1 == g2), the dot
products taken over all parameters at once. ``d`` is a common descent direction of both
objectives (or 0 at a Pareto-stationary point), so one run reaches one Pareto-optimal
network without any weight given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.names import SMGD_NORMALIZATIONS
from moprune.solvers.base import Solver

__all__ = ["MultiAdam", "SMGDSolver", "min_norm_coefficient"]

VARIANTS = ("sgd", "adam")
NORMALIZATIONS = SMGD_NORMALIZATIONS


def min_norm_coefficient(g1g1: torch.Tensor, g1g2: torch.Tensor, g2g2: torch.Tensor
                         ) -> torch.Tensor:
    """The ``a`` in [0, 1] minimising ``||a g1 + (1 - a) g2||`` from the three dot products.

    ``||g1 - g2||^2 = g1g1 - 2 g1g2 + g2g2``; where it is 0 (g1 == g2) every ``a`` gives
    the same point and 1 is returned.
    """
    denom = g1g1 - 2.0 * g1g2 + g2g2
    a = (g2g2 - g1g2) / denom.clamp_min(torch.finfo(denom.dtype).tiny)
    return torch.where(denom > 0, a.clamp(0.0, 1.0), torch.ones_like(a))


def _dots(g1_scoped: Sequence[torch.Tensor], g2: Sequence[torch.Tensor],
          g1_rest: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(g1.g1, g1.g2, g2.g2)`` for g1 = (g1_scoped, g1_rest) and g2 = (g2, 0): g2 is
    zero outside f2's scope. Two flat vectors and three dots: few kernel launches."""
    flat1 = torch.cat([g.reshape(-1) for g in g1_scoped])
    flat2 = torch.cat([g.reshape(-1) for g in g2])
    g1g1 = flat1 @ flat1
    if g1_rest:
        g1g1 = g1g1 + torch.stack(torch._foreach_norm(list(g1_rest))).pow(2).sum()
    return g1g1, flat1 @ flat2, flat2 @ flat2


def _coefficient(g1_scoped: Sequence[torch.Tensor], g2: Sequence[torch.Tensor],
                 g1_rest: Sequence[torch.Tensor]) -> torch.Tensor:
    """The min-norm ``a`` for g1 = (g1_scoped, g1_rest) and g2 = (g2, 0)."""
    return min_norm_coefficient(*_dots(g1_scoped, g2, g1_rest))


class SMGDSolver(Solver):
    """Stochastic multi-gradient descent with momentum (``variant="sgd"``) or with separate
    Adam moments per objective (``variant="adam"``, Reiners et al.'s MAdam).

    Args:
        variant: ``sgd`` uses the config's SGD (momentum, Nesterov) along ``d``; ``adam``
            keeps Adam moments of g1 and g2 apart and combines the two preconditioned
            directions with the min-norm weights (see :class:`MultiAdam`).
        f2_scale: ``sum`` (default) uses ``sum |w|`` for g2, as the reference code does;
            ``mean`` uses the normalised f2 of :mod:`moprune.objectives`. The min-norm
            direction of the ``sgd`` variant depends on this scale (the Pareto set does
            not): with ``sum``, g2 is large and d stays close to g1 with a small,
            adaptive pull towards zero.
        normalize: ``none`` (the closed form on the raw gradients), ``l2`` (each of g1, g2
            divided by its norm before the min-norm step, as MGDA-UB: the direction then
            bisects the angle between them and no longer follows the smaller gradient),
            or ``loss`` (each divided by its objective's value: the batch's f1 and f2 at
            ``f2_scale``). The step is ``d = a g1/c1 + (1 - a) g2/c2`` with ``a`` the
            min-norm weight of the normalised pair, so the scale of either objective no
            longer decides where the run ends. ``sgd`` variant only.
        **kwargs: See :class:`~moprune.solvers.base.Solver`.
    """

    name = "smgd"

    def __init__(self, *, variant: str = "sgd", f2_scale: str = "sum", normalize: str = "none",
                 **kwargs: Any) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"SMGD variant must be one of {VARIANTS}, got {variant!r}")
        if f2_scale not in ("sum", "mean"):
            raise ConfigError(f"f2_scale must be sum or mean, got {f2_scale!r}")
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"SMGD normalize must be one of {NORMALIZATIONS}, "
                              f"got {normalize!r}")
        if normalize != "none" and variant != "sgd":
            raise ConfigError(f"SMGD normalize={normalize!r} is for the sgd variant")
        super().__init__(**kwargs)
        self.variant = variant
        self.f2_scale = f2_scale
        self.normalize = normalize

    def _settings(self) -> dict[str, Any]:
        settings = {"variant": self.variant, "f2_scale": self.f2_scale}
        if self.normalize != "none":  # only when on: earlier checkpoints still resume
            settings["normalize"] = self.normalize
        return settings

    def _make_optimizer(self, model: nn.Module, config: TrainConfig
                        ) -> torch.optim.Optimizer | None:
        if self.variant == "adam":
            return MultiAdam(model.parameters(), lr=config.lr,
                             weight_decay=config.weight_decay)
        if config.optimizer != "sgd":
            raise ConfigError(f"SMGD variant 'sgd' steps with SGD; got optimizer "
                              f"{config.optimizer!r} (use variant 'adam' for Adam)")
        return None

    def _g2(self) -> list[torch.Tensor]:
        assert self.f2 is not None
        return self.f2.gradient(scale=float(self.f2.n) if self.f2_scale == "sum" else None)

    def _descend(self, loss: torch.Tensor) -> None:
        loss.backward()
        assert self.f2 is not None and self.optimizer is not None and self.model is not None
        if self.pruner is not None:
            self.pruner.mask_grads()
        scoped = self.f2.penalized
        g1_scoped = self._scoped_grads()
        g2 = self._g2()
        if isinstance(self.optimizer, MultiAdam):
            self.optimizer.set_objective_gradient(scoped, g2)
            self.optimizer.step()
            a = self.optimizer.last_alpha
        else:
            in_scope = {id(p) for p in scoped}
            others = [p.grad for p in self.model.parameters()
                      if p.grad is not None and id(p) not in in_scope]
            g1g1, g1g2, g2g2 = _dots(g1_scoped, g2, others)
            if self.normalize == "none":
                a = min_norm_coefficient(g1g1, g1g2, g2g2)
                s1, s2 = a, 1.0 - a
            else:  # min-norm weight of (g1/c1, g2/c2) from the raw dots: two scalars,
                c1, c2 = self._scales(loss, g1g1, g2g2)  # not a pass over the gradients
                a = min_norm_coefficient(g1g1 / (c1 * c1), g1g2 / (c1 * c2),
                                         g2g2 / (c2 * c2))
                s1, s2 = a / c1, (1.0 - a) / c2  # d = a g1/c1 + (1 - a) g2/c2
            all_g1 = g1_scoped + others
            if a.device.type == "cpu":  # python scalars take the faster foreach kernels
                f1, f2 = float(s1), float(s2)
                if f1 != 1.0:
                    torch._foreach_mul_(all_g1, f1)  # s1 g1 ...
                torch._foreach_add_(g1_scoped, g2, alpha=f2)  # ... + s2 g2
            else:  # no host sync on an accelerator
                torch._foreach_mul_(all_g1, s1)
                torch._foreach_mul_(g2, s2)
                torch._foreach_add_(g1_scoped, g2)
            self.optimizer.step()
        self._record("alpha", a.detach())

    def _scales(self, loss: torch.Tensor, g1g1: torch.Tensor, g2g2: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(c1, c2)``: the gradients' norms (``l2``) or the objectives' values
        (``loss``), kept away from 0."""
        assert self.f2 is not None
        if self.normalize == "l2":
            c1, c2 = g1g1.sqrt(), g2g2.sqrt()
        else:
            c1 = loss.detach().to(g1g1.dtype)
            value = self.f2.value() * (self.f2.norm if self.f2_scale == "sum" else 1.0)
            c2 = torch.as_tensor(value, dtype=g1g1.dtype, device=g1g1.device)
        tiny = torch.finfo(g1g1.dtype).tiny
        return c1.clamp_min(tiny), c2.clamp_min(tiny)


class MultiAdam(torch.optim.Optimizer):
    """Adam with separate moments for two objectives (Reiners et al.'s MAdam).

    For every parameter, ``m1, v1`` track g1 (``p.grad``) and ``m2, v2`` track g2 (given
    with :meth:`set_objective_gradient`; zero outside f2's scope). The min-norm
    coefficient ``a`` is computed from the raw stochastic gradients (g1, g2), as in the
    reference implementation, and weights the bias-corrected preconditioned directions
    ``d_i = m_i / (sqrt(v_i) + eps)``: ``p -= lr * (a d1 + (1 - a) d2)``.

    The combined direction is therefore NOT the min-norm element of the segment
    ``[d1, d2]`` (nor of ``[g1, g2]``): ``a`` is min-norm for the raw gradients and is
    applied to the preconditioned ones. Where Adam's scaling differs between the two
    objectives (always: ``d2`` of l1 is about ``sign(w)``, magnitude 1, whatever f2's
    scale) the step need not descend both objectives. This is the reference
    implementation's rule, kept for reproduction; ``SMGDSolver(variant="sgd")`` takes the
    true min-norm direction.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self._g2: dict[int, torch.Tensor] = {}
        self.last_alpha = torch.ones(())

    def set_objective_gradient(self, scoped: Sequence[torch.Tensor],
                               g2: Sequence[torch.Tensor]) -> None:
        """Give g2 for the next :meth:`step` (``g2[i]`` belongs to ``scoped[i]``)."""
        self._g2 = {id(p): g for p, g in zip(scoped, g2, strict=True)}

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        """One step along ``a d1 + (1 - a) d2``; ``a`` is kept in :attr:`last_alpha`."""
        live = [(group, p) for group in self.param_groups for p in group["params"]
                if p.grad is not None]
        grads = [p.grad for _, p in live]
        a = _coefficient([p.grad for _, p in live if id(p) in self._g2],
                         [self._g2[id(p)] for _, p in live if id(p) in self._g2],
                         [p.grad for _, p in live if id(p) not in self._g2])
        g2s = [self._g2.get(id(p), torch.zeros_like(p)) for _, p in live]
        for (group, p), g1, g2 in zip(live, grads, g2s, strict=True):
            beta1, beta2 = group["betas"]
            if group["weight_decay"]:
                g1 = g1.add(p, alpha=group["weight_decay"])
            state = self.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32)
                for key in ("m1", "v1", "m2", "v2"):
                    state[key] = torch.zeros_like(p)
            state["step"] += 1
            t = float(state["step"])
            c1, c2 = 1.0 - beta1**t, 1.0 - beta2**t
            direction = None
            for m, v, g in ((state["m1"], state["v1"], g1), (state["m2"], state["v2"], g2)):
                m.lerp_(g, 1.0 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
                d = (m / c1) / (v / c2).sqrt_().add_(group["eps"])
                direction = d if direction is None else direction.lerp_(d, 1.0 - a)
            p.add_(direction, alpha=-group["lr"])  # a d1 + (1 - a) d2
        self._g2 = {}
        self.last_alpha = a
        return None
