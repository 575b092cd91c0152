"""Size figures of a network: parameters, nonzeros, bytes dense and sparse."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["model_size"]


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
