"""Compaction: remove dead channels and neurons so the network becomes physically smaller.

Torch-Pruning's dependency graph finds, for every Conv/Linear layer, the group of layers
whose channels are coupled with its outputs (batch norms, the next layers' inputs,
residual additions, concatenations), and removes a channel everywhere at once. The
network's output layer is never shrunk.

A channel is *dead* when every producer in its group has all-zero weights for it **and**
what the consumers receive on it is exactly 0. The second check matters: a channel with
zero weights still outputs a constant (its bias, or a batch norm's shift, through the
activation); ReLU of a negative constant is 0 and the channel is dead, but a positive one
is a live constant that the next layer uses like a bias, so such channels are kept and
counted in the report. Since the channel's value does not depend on the input once its
weights are 0, one probe forward pass decides it. Removing dead channels does
not change the network's function (eval mode) beyond float rounding.

With ``threshold`` or ``fraction`` the rule is the group norm instead (the L2 norm of the
channel's weights over every producer in its group): channels under the threshold, or
the lowest fraction of every group, are removed, which does change the function.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from moprune.errors import ConfigError
from moprune.models.registry import extend_recipe

__all__ = ["CompactResult", "CompactionReport", "compact", "prune_to_flops", "rebuild_pruned"]

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@dataclass
class CompactionReport:
    """What :func:`compact` did."""

    removed: dict[str, int] = field(default_factory=dict)  # layer -> channels removed
    folded: dict[str, int] = field(default_factory=dict)  # constants moved into next biases
    kept_live: dict[str, int] = field(default_factory=dict)  # zero weights, live output
    unshrinkable: dict[str, str] = field(default_factory=dict)  # layer -> why it stayed whole
    parameters_before: int = 0
    parameters_after: int = 0

    @property
    def channels_removed(self) -> int:
        return sum(self.removed.values())

    def to_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "folded": self.folded, "kept_live": self.kept_live,
                "unshrinkable": self.unshrinkable, "channels_removed": self.channels_removed,
                "parameters_before": self.parameters_before,
                "parameters_after": self.parameters_after}


def _output_layer(model: nn.Module) -> nn.Module:
    layers = [m for m in model.modules() if isinstance(m, _LAYERS)]
    if not layers:
        raise ConfigError(f"{type(model).__name__} has no Conv or Linear layer to compact")
    return layers[-1]


class CompactResult(NamedTuple):
    """The compacted network and what was removed (unpacks as ``model, report``)."""

    model: nn.Module
    report: CompactionReport


def compact(
    model: nn.Module,
    *,
    example_inputs: torch.Tensor,
    threshold: float | None = None,
    fraction: float | None = None,
    inplace: bool = False,
) -> CompactResult:
    """Remove the dead channels/neurons of ``model`` (or, when asked, the weak ones).

    Args:
        model: The network (a copy is compacted unless ``inplace``).
        example_inputs: A batch of the input shape, for tracing and the probe pass.
        threshold: Remove channels whose group norm is ``<= threshold`` (changes the
            function unless it is 0).
        fraction: Remove the lowest ``fraction`` of every group's channels by group norm.
        inplace: Compact ``model`` itself.

    Returns:
        A :class:`CompactResult`: the compacted model (in eval mode) and a
        :class:`CompactionReport`. The pruning history is kept with the model (in the
        recipe of a model moprune built, beside a user's module), so
        :func:`moprune.save_model` / :func:`moprune.load_model` rebuild it (a user's
        module with its factory).

    Raises:
        ConfigError: for a negative threshold, a fraction outside [0, 1), or both given.
    """
    import torch_pruning as tp

    if threshold is not None and not threshold >= 0:
        raise ConfigError(f"threshold must be >= 0, got {threshold}")
    if fraction is not None and not 0 <= fraction < 1:
        raise ConfigError(f"fraction must be in [0, 1), got {fraction}")
    if threshold is not None and fraction is not None:
        raise ConfigError("give a threshold or a fraction, not both")
    exact = fraction is None and not threshold
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    report = CompactionReport(parameters_before=sum(p.numel() for p in model.parameters()))
    output = _output_layer(model)
    names = {m: n for n, m in model.named_modules()}
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_inputs)
    groups = list(graph.get_all_groups(ignored_layers=[output], root_module_types=_LAYERS))
    inputs = _probe(model, groups, graph, example_inputs) if exact else {}
    for group in groups:
        root = group._group[0].dep.target.module
        name = names.get(root, type(root).__name__)
        norms, consumers_zero = _group_stats(group, graph, inputs)
        if exact:
            zero = norms == 0
            constant = zero & ~consumers_zero
            if constant.any() and _fold_constants(group, graph, inputs, constant):
                report.folded[name] = int(constant.sum())
                consumers_zero = consumers_zero | constant
            dead = zero & consumers_zero
            if int((zero & ~consumers_zero).sum()):
                report.kept_live[name] = int((zero & ~consumers_zero).sum())
        elif threshold is not None:
            dead = norms <= threshold
        else:
            k = int(fraction * len(norms))  # type: ignore[operator]
            dead = torch.zeros_like(norms, dtype=torch.bool)
            dead[torch.argsort(norms, stable=True)[:k]] = True
        idxs = torch.nonzero(dead).flatten().tolist()
        if len(idxs) == len(norms):  # a layer needs at least one channel
            idxs = idxs[1:]
        if not idxs:
            continue
        pruning_group = graph.get_pruning_group(root, group._group[0].dep.handler, idxs)
        if not graph.check_pruning_group(pruning_group):
            report.unshrinkable[name] = "Torch-Pruning refuses to prune this group"
            continue
        pruning_group.prune()
        report.removed[name] = len(idxs)
    report.parameters_after = sum(p.numel() for p in model.parameters())
    extend_recipe(model, graph.pruning_history(), tuple(example_inputs.shape[1:]))
    return CompactResult(model, report)


def _probe(model: nn.Module, groups: list, graph: Any, example_inputs: torch.Tensor
           ) -> dict[nn.Module, torch.Tensor]:
    """The input every consumer layer receives on one forward pass (eval mode)."""
    consumers = {item.dep.target.module for g in groups for item in g._group
                 if isinstance(item.dep.target.module, _LAYERS)
                 and not graph.is_out_channel_pruning_fn(item.dep.handler)}
    seen: dict[nn.Module, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.__setitem__(mod, args[0]))
             for m in consumers]
    try:
        with torch.no_grad():
            model(example_inputs)
    finally:
        for h in hooks:
            h.remove()
    return seen


def _group_stats(group: Any, graph: Any, inputs: dict[nn.Module, torch.Tensor]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per root channel: group norm of the producers' weights, and whether every
    consumer's probed input on it is exactly 0."""
    n = len(group._group[0].root_idxs)
    sq = torch.zeros(n, dtype=torch.float64)
    consumers_zero = torch.ones(n, dtype=torch.bool)
    for item in group._group:
        module = item.dep.target.module
        if not isinstance(module, _LAYERS):
            continue
        local = torch.tensor(list(item.idxs), dtype=torch.long)
        roots = torch.tensor(list(item.root_idxs), dtype=torch.long)
        with torch.no_grad():
            if graph.is_out_channel_pruning_fn(item.dep.handler):
                w = module.weight.detach().flatten(1)[local].double()
                sq.index_add_(0, roots, w.pow(2).sum(1))
            elif module in inputs:
                x = inputs[module]
                x = x.transpose(0, 1).flatten(1) if x.ndim > 2 else x.t()  # channel-major
                live = x[local].abs().amax(1) != 0
                consumers_zero[roots[live]] = False
    return sq.sqrt(), consumers_zero


def _fold_constants(group: Any, graph: Any, inputs: dict[nn.Module, torch.Tensor],
                    constant: torch.Tensor) -> bool:
    """Move live constant channels into the biases of their consumers, when that is exact:
    every consumer is a Linear layer with a bias (a convolution with padding sees a
    constant channel differently at the borders). Returns whether it folded."""
    consumers = [item for item in group._group
                 if isinstance(item.dep.target.module, _LAYERS)
                 and not graph.is_out_channel_pruning_fn(item.dep.handler)]
    others = [item for item in group._group
              if not isinstance(item.dep.target.module, (*_LAYERS, nn.modules.batchnorm._BatchNorm))
              and not graph.is_out_channel_pruning_fn(item.dep.handler)]
    if not consumers or others or not all(
            isinstance(c.dep.target.module, nn.Linear) and c.dep.target.module.bias is not None
            and c.dep.target.module in inputs for c in consumers):
        return False
    plans = []
    for item in consumers:
        module = item.dep.target.module
        roots = torch.tensor(list(item.root_idxs), dtype=torch.long)
        cols = torch.tensor(list(item.idxs), dtype=torch.long)[constant[roots]]
        x = inputs[module][:, cols]
        if not torch.equal(x.amax(0), x.amin(0)):  # not constant over the probe: keep
            return False
        plans.append((module, cols, x[0]))
    with torch.no_grad():
        for module, cols, value in plans:
            module.bias += module.weight[:, cols] @ value
    return True


def rebuild_pruned(model: nn.Module, history: list, example_inputs: torch.Tensor) -> nn.Module:
    """Apply a pruning history (from a compacted recipe) to a freshly built ``model``."""
    import torch_pruning as tp

    model.eval()
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_inputs)
    graph.load_pruning_history([(n, bool(out), list(idx)) for n, out, idx in history])
    return model


def prune_to_flops(
    model: nn.Module,
    *,
    example_inputs: torch.Tensor,
    keep_flops: float,
    mode: str = "global",
    tolerance: float = 0.02,
) -> tuple[nn.Module, dict[str, Any]]:
    """Structured pruning of a (trained or not) network to a share of its FLOPs.

    Channels are ranked by group magnitude (L2 norm over every coupled layer, Torch-
    Pruning's ``GroupMagnitudeImportance``), ``uniform``ly (the same share of every layer)
    or ``global``ly (one ranking over all layers, at most 90% of a layer); the channel
    share is found by bisection so that the FLOPs come within ``tolerance`` (a share of
    the original FLOPs) under ``keep_flops``. The output layer is never pruned.

    Returns:
        A pruned copy (eval mode; its moprune recipe extended with the pruning history)
        and ``{"flops_before", "flops_after", "keep_flops", "channel_ratio", "mode"}``.

    Raises:
        ConfigError: for ``keep_flops`` outside (0, 1] or an unknown mode.
    """
    import torch_pruning as tp

    from moprune.pruning.stats import count_flops

    if not 0 < keep_flops <= 1:
        raise ConfigError(f"keep_flops must be in (0, 1], got {keep_flops}")
    if mode not in ("global", "uniform"):
        raise ConfigError(f"mode must be global or uniform, got {mode!r}")
    model.eval()
    base = count_flops(model, example_inputs)
    target = keep_flops * base

    def pruned(ratio: float) -> tuple[nn.Module, Any, int]:
        m = copy.deepcopy(model)
        pruner = tp.pruner.MetaPruner(
            m, example_inputs, importance=tp.importance.GroupMagnitudeImportance(p=2),
            global_pruning=mode == "global", pruning_ratio=ratio, max_pruning_ratio=0.9,
            ignored_layers=[_output_layer(m)])
        pruner.step()
        return m, pruner, count_flops(m, example_inputs)

    best = (copy.deepcopy(model), None, base, 0.0)
    lo, hi = 0.0, 0.9
    for _ in range(30):
        if best[2] <= target and best[2] >= target - tolerance * base:
            break
        ratio = 0.5 * (lo + hi)
        m, pruner, flops = pruned(ratio)
        if flops > target:
            lo = ratio
        else:
            hi = ratio
            best = (m, pruner, flops, ratio)
    small, pruner, flops, ratio = best
    if flops > target:
        raise ConfigError(f"cannot reach {keep_flops:.0%} of the FLOPs with mode {mode!r} "
                          f"(at most 90% of a layer's channels are pruned)")
    if pruner is not None:
        extend_recipe(small, pruner.DG.pruning_history(), tuple(example_inputs.shape[1:]))
    return small.eval(), {"flops_before": base, "flops_after": flops, "keep_flops": keep_flops,
                          "channel_ratio": ratio, "mode": mode}
