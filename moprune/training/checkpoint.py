"""Training checkpoints: everything needed to resume bit for bit, loadable without pickles."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from moprune.errors import ConfigError, MopruneError
from moprune.io import atomic_write

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(path: str | os.PathLike[str], *, model: nn.Module,
                    optimizer: torch.optim.Optimizer, scheduler: Any,
                    settings: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Save the training state atomically (a kill mid-write leaves the previous one)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "settings": settings,
        "history": history,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike[str], *, model: nn.Module,
                    optimizer: torch.optim.Optimizer, scheduler: Any,
                    settings: dict[str, Any]) -> dict[str, Any]:
    """Restore a state saved by :func:`save_checkpoint` into the given objects.

    Raises:
        ConfigError: if the checkpoint was made with other training settings.
        MopruneError: if the file is not a moprune checkpoint.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise MopruneError(f"cannot read checkpoint {str(path)!r} ({type(e).__name__})") from None
    if not isinstance(state, dict) or "settings" not in state:
        raise MopruneError(f"{str(path)!r} is not a moprune checkpoint")
    if state["settings"] != settings:
        diff = [k for k in settings if state["settings"].get(k) != settings[k]]
        raise ConfigError(
            f"checkpoint {str(path)!r} was made with other settings ({', '.join(diff)}); "
            "delete it or write to another run directory")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state
