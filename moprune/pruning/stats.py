"""Size and speed figures of a network: parameters, nonzeros, FLOPs, time per step."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn

__all__ = ["count_flops", "coupled_rows", "flops_share", "model_size", "size_report",
           "time_model"]


@torch.no_grad()
def model_size(model: nn.Module) -> dict[str, Any]:
    """Parameter counts and storage of ``model``.

    ``sparse_bytes`` is what the nonzero weights take as (value, int32 index) pairs,
    the usual unstructured storage; dense kernels still compute with every weight.
    """
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    nonzero = sum(int(torch.count_nonzero(p)) for p in params)
    itemsize = params[0].element_size() if params else 4
    return {"parameters": total, "nonzero_parameters": nonzero,
            "dense_bytes": total * itemsize, "sparse_bytes": nonzero * (itemsize + 4)}


def count_flops(model: nn.Module, example_inputs: torch.Tensor) -> int:
    """FLOPs of one forward pass over ``example_inputs`` (torch.utils.flop_counter: a
    multiply-add counts 2), in eval mode."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(example_inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


@torch.no_grad()
def flops_share(model: nn.Module, input_shape: tuple[int, ...], *,
                coupled: list[list[tuple[nn.Module, int]]] | None = None) -> float:
    """The share of the Conv/Linear FLOPs per image that are left once dead channels are
    removed: a layer costs ``2 x positions x`` its weights that join a live output (a
    row with a nonzero weight) to a live input (a column with a nonzero weight that
    receives a signal other than exactly 0). An output row coupled with other layers'
    (a residual block's last convolution, added to its shortcut: Torch-Pruning's
    dependency groups) is removed only with all of them, as compaction removes it; until
    then it is counted live. This is what channel compaction gives for channel-sparse
    networks; for unstructured (l1) sparsity, whose channels rarely die, it stays near 1:
    dense kernels do not get faster. One probe pass of 8 seeded random inputs, in eval
    mode. ``coupled``: the network's :func:`coupled_rows`, when the caller has them
    already (they depend on its structure only; found here otherwise)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    seen: dict[int, tuple[torch.Tensor, int]] = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = inputs[0]
        silent = (x == 0).flatten(2).all(-1).all(0) if x.ndim > 2 else (x == 0).all(0)
        positions = output.numel() // (output.shape[0] * output.shape[1])
        seen[id(module)] = (~silent, positions)

    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        gen = torch.Generator().manual_seed(0)
        model(torch.randn(8, *input_shape, generator=gen).to(device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    links: dict[int, torch.Tensor] = {}  # (out, in) connections that carry a signal
    for m in layers:
        if id(m) in seen:
            w = m.weight != 0
            w = w.flatten(2).any(-1) if w.ndim > 2 else w
            links[id(m)] = w & seen[id(m)][0].view(1, -1) if getattr(m, "groups", 1) == 1 \
                else w
    rows = {key: w.any(1) for key, w in links.items()}
    if coupled is None:
        coupled = coupled_rows(model, input_shape)
    for channel in coupled:  # removed together or not at all
        keys = [(id(layer), i) for layer, i in channel if id(layer) in rows]
        if any(bool(rows[k][i]) for k, i in keys):
            for k, i in keys:
                rows[k][i] = True
    dense = kept = 0.0
    for m in layers:
        if id(m) not in seen:
            continue
        positions = seen[id(m)][1]
        cols = links[id(m)].any(0, keepdim=True)
        per_link = m.weight[0, 0].numel() if m.weight.ndim > 2 else 1
        dense += 2.0 * positions * m.weight.numel()
        kept += 2.0 * positions * per_link * float((rows[id(m)].view(-1, 1) & cols).sum())
    return kept / dense if dense else 1.0


def coupled_rows(model: nn.Module, input_shape: tuple[int, ...]
                 ) -> list[list[tuple[nn.Module, int]]]:
    """The output rows of different Conv/Linear layers that only go together, as compaction
    removes them (Torch-Pruning's dependency groups): one list of ``(layer, row)`` per
    coupled channel, for groups that join two or more layers' outputs (the blocks of a
    residual stage, added to their shortcut). Empty for a plain chain of layers."""
    import torch_pruning as tp

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(layers) < 2:
        return []
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        with torch.enable_grad():  # the graph is traced by autograd
            graph = tp.DependencyGraph().build_dependency(
                model, example_inputs=torch.zeros(1, *input_shape, device=device))
        groups = list(graph.get_all_groups(ignored_layers=[layers[-1]],
                                           root_module_types=(nn.Conv2d, nn.Linear)))
    finally:
        model.train(was_training)
    out: list[list[tuple[nn.Module, int]]] = []
    for group in groups:
        members = [(item.dep.target.module, item.root_idxs, item.idxs) for item in group._group
                   if isinstance(item.dep.target.module, (nn.Conv2d, nn.Linear))
                   and graph.is_out_channel_pruning_fn(item.dep.handler)]
        if len({id(m) for m, _, _ in members}) < 2:
            continue
        by_root: dict[int, list[tuple[nn.Module, int]]] = {}
        for m, roots, idxs in members:
            for r, i in zip(roots, idxs, strict=True):
                by_root.setdefault(int(r), []).append((m, int(i)))
        out.extend(by_root.values())
    return out


def time_model(model: nn.Module, example_inputs: torch.Tensor, *, steps: int = 10,
               repeats: int = 5) -> dict[str, float]:
    """Median milliseconds of a training step (forward, backward, SGD step) and of an
    inference batch over ``example_inputs`` (the model is trained on random labels, so
    time a copy if its weights matter)."""
    device = example_inputs.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out_features = model.eval()(example_inputs).shape[1]
    targets = torch.randint(0, out_features, (len(example_inputs),), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(example_inputs), targets).backward()
        optimizer.step()

    def infer() -> None:
        with torch.no_grad():
            model(example_inputs)

    result = {}
    for key, fn, mode in (("train_step_ms", train_step, True), ("inference_ms", infer, False)):
        model.train(mode)
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            sync()
            times.append(1e3 * (time.perf_counter() - start) / steps)
        result[key] = statistics.median(times)
    model.eval()
    return result


def size_report(model: nn.Module, example_inputs: torch.Tensor, *, timing: bool = True
                ) -> dict[str, Any]:
    """Parameters, nonzeros, fraction of zeros, FLOPs per image, and (with ``timing``)
    time per training step and per inference batch of ``example_inputs``."""
    size = model_size(model)
    report: dict[str, Any] = {
        **size,
        "zero_fraction": 1.0 - size["nonzero_parameters"] / max(size["parameters"], 1),
        "flops_per_image": count_flops(model, example_inputs[:1]),
        "batch_size": len(example_inputs),
    }
    if timing:
        import copy

        report.update(time_model(copy.deepcopy(model), example_inputs))
    return report
