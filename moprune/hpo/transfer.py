"""The transfer: the top configurations trained on the base network (read back when done, a
trial's weights reused when identical)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from moprune.config import TrainConfig, config_to_dict
from moprune.errors import DivergedError
from moprune.hpo.job import HPOJob
from moprune.hpo.lr_transfer import mup_solver
from moprune.hpo.objective import (
    fresh_model,
)
from moprune.hpo.space import SearchSpace
from moprune.io import read_json, write_json
from moprune.training import train

__all__ = ["drop_weights", "train_cached", "transfer_top"]


def transfer_top(job: HPOJob, splits: Any, configs: Sequence[Mapping[str, Any]],
              space: SearchSpace, epochs: int, out: Path, *,
              trials: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Train the base network with each configuration (cached: a resumed run does not
    train them again). A configuration that a completed trial in ``trials`` already trained
    identically (the base network, same parameters, seed and epochs; its weights kept)
    is read from the trial: only its test accuracy is measured."""
    results = []
    for i, params in enumerate(configs):
        config = space.apply(job.train, params)
        config = TrainConfig(**{**config_to_dict(config), "epochs": epochs})
        cache = out / "transfer" / f"{i}.json"
        twin = _identical_trial(trials, params, epochs, out / "weights")
        if twin is not None:
            row = _evaluate_trial(cache, {"model": job.model}, params, config, splits,
                                  twin, out / "weights" / f"trial-{twin}.pt")
        else:
            row = train_cached(cache, {"model": job.model}, params, config, splits,
                                evaluate_test=True)
        results.append({**row, "epochs": epochs})
    return results


def _identical_trial(trials: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                     epochs: int, weights: Path) -> int | None:
    """The number of a completed trial that trained ``params`` for ``epochs`` with the
    base seed and whose weights are kept, or None."""
    for t in trials:
        if (t["state"] == "complete" and t["params"] == dict(params)
                and t.get("epochs_run") == epochs and t.get("seed") is None
                and (weights / f"trial-{t['number']}.pt").is_file()):
            return int(t["number"])
    return None


def _evaluate_trial(cache: Path, recipe: Mapping[str, Any], params: Mapping[str, Any],
                    config: TrainConfig, splits: Any, trial: int, weights: Path
                    ) -> dict[str, Any]:
    """A transfer read from trial ``trial``: its weights (the file ``weights``) loaded
    into the base network and evaluated on the validation and test splits (cached like a
    training)."""
    from moprune.training.loop import evaluate, resolve_device

    if cache.is_file():
        saved = read_json(cache)
        if saved.get("params") == dict(params) and saved.get("reused_trial") == trial:
            return saved
    t0 = time.perf_counter()
    device = resolve_device(config.device)
    net = fresh_model(recipe, in_channels=splits.in_channels, num_classes=splits.num_classes,
                      image_size=splits.image_size, seed=config.seed)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.to(device)
    _, val_acc = evaluate(net, splits.loader("val", device=device))
    _, test_acc = evaluate(net, splits.loader("test", device=device))
    row = {"params": dict(params), "val_acc": val_acc, "test_acc": test_acc,
           "seconds": time.perf_counter() - t0, "reused_trial": trial}
    write_json(cache, row)
    return row


def drop_weights(folder: Path, keep: set[int]) -> None:
    """Delete kept trial weights that no transfer can need: a resumed study's top trials
    are among these or new."""
    if not folder.is_dir():
        return
    for f in folder.glob("trial-*.pt"):
        if int(f.stem.split("-", 1)[1]) not in keep:
            f.unlink(missing_ok=True)


def train_cached(cache: Path, recipe: Mapping[str, Any], params: Mapping[str, Any],
                 config: TrainConfig, splits: Any, *, evaluate_test: bool = False,
                 mup_base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train a fresh network of ``recipe`` with ``config`` (``params`` its tuned values),
    or read the result back from ``cache`` when it was made with the same ``params``,
    seed and learning-rate transfer. ``mup_base``: the base network's shapes, for muP's
    per-layer factors (:mod:`moprune.hpo.lr_transfer`). A diverged training scores
    validation accuracy 0 (it ranks last) with its reason."""
    lr_transfer = "mup" if mup_base is not None else "none"
    if cache.is_file():
        saved = read_json(cache)
        if (saved.get("params") == dict(params)
                and saved.get("seed", config.seed) == config.seed
                and saved.get("lr_transfer", "none") == lr_transfer):
            return saved
    net = fresh_model(recipe, in_channels=splits.in_channels, num_classes=splits.num_classes,
                      image_size=splits.image_size, seed=config.seed)
    solver = (mup_solver(net, mup_base, optimizer=config.optimizer)
              if mup_base is not None else None)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"params": dict(params), "seed": config.seed,
                           "lr_transfer": lr_transfer}
    try:
        r = train(net, splits, config, evaluate_test=evaluate_test, progress=False,
                  solver=solver)
        row["val_acc"] = r.val_acc
        if evaluate_test:
            row["test_acc"] = r.test_acc
    except DivergedError as e:
        row.update(val_acc=0.0, failure=str(e))
        if evaluate_test:
            row["test_acc"] = None
    row["seconds"] = time.perf_counter() - t0
    write_json(cache, row)
    return row
