"""The continuation path: the whole front from one warm-started run, and debiasing.

Amakor, Sonntag & Peitz (arXiv 2308.12044) follow the regularisation path of a network
with a predictor-corrector method instead of training every weight of the front from
scratch. :func:`train_path` does so for the weighted sum ``(1 - lam) f1 + lam f2``:

1. train at lam = 0 for ``warmup_epochs`` (the dense end; record a point);
2. predictor: raise the trade-off ``r = lam / (1 - lam)`` by a factor ``exp(step)``;
3. corrector: train ``corrector_steps`` mini-batch steps at the new weight, from the
   previous network (with ``prox``, SGD on f1 then soft-thresholding: exact zeros);
4. record a point (validation f1 and accuracy, f2, zeros, FLOPs share, test accuracy,
   the model file), then adapt ``step`` so that consecutive points lie ``2 / points``
   apart in normalised objectives (f2 in decades over two decades, the validation
   error's change over ``max_drop``, or only its rise: ``distance``); a corrector that
   lands over 2.5 times that far is undone and redone at half the step;
5. stop when the validation accuracy has fallen ``max_drop`` below the dense point's
   (before the empty network), when no weight is left, or when the epochs are spent.

With ``corrector="magnitude"`` the path is the epsilon-constraint method on (f1, l0)
instead, solved by iterative hard thresholding: the predictor raises the share of weights
cut (its odds by ``exp(step)``), the cut keeps the largest weights by magnitude over all
layers in scope (:func:`moprune.pruning.global_magnitude_masks`), and the corrector
trains f1 alone with the cut weights held at zero. No l1 pull shrinks the weights it
keeps, so its points need no debiasing for that (gradual magnitude pruning, Zhu & Gupta,
with a point recorded after every cut); it is unstructured, whatever ``complexity``
measures.

``corrector="channel"`` is its structured form (complexity ``group-l1`` or ``flops``,
whose groups join a channel's batch-norm scale and shift): the predictor raises the share
of the FLOPs cut, and the cut takes whole channels in the order of
:meth:`moprune.objectives.Complexity.channel_order` (their norm over their layer's mean,
smallest first, at most 90% of a layer), the fewest that bring the FLOPs left once dead
channels go (:func:`moprune.pruning.flops_share`, which counts the inputs they silence
downstream) under the target. Its points compact to networks that are small in compute.

Every point is written (``points/<key>/model.pt`` and ``point.json``) and the path's state
(``path/state.pt``: network, optimizer, weight, step, position in the data) is saved
after it, atomically: a killed run resumes from its last point and gives the same
points as an uninterrupted one.

:func:`debias` then fine-tunes each point with its mask frozen and lam = 0 (the l1 pull
also shrinks the weights it keeps: a relaxed lasso removes that bias); the point keeps
its raw objectives in ``raw``.
"""

from __future__ import annotations

import copy
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig, config_to_dict
from moprune.data import DataSplits
from moprune.errors import ConfigError, DivergedError, MopruneError
from moprune.front.measure import measure_point as measure
from moprune.front.points import Point
from moprune.io import atomic_write, read_json, write_json
from moprune.models import save_model
from moprune.models.serialization import read_model_file
from moprune.names import PATH_CORRECTORS, PATH_DISTANCES
from moprune.progress import bar, progress_line
from moprune.pruning import flops_share, global_magnitude_masks, mask_optimizer_state
from moprune.solvers import WeightedSumSolver
from moprune.training import input_shape, resolve_device, train

__all__ = ["batch_stream", "debias", "debias_knee", "measure", "path_epochs",
           "save_point_model", "train_path"]


def train_path(
    factory: Callable[[], nn.Module],
    splits: DataSplits,
    config: TrainConfig,
    *,
    points: int = 30,
    warmup_epochs: float = 2.0,
    start_lam: float = 0.5,
    max_drop: float = 0.1,
    complexity: str = "l1",
    scope: str = "all",
    prox: bool = True,
    tau: float | None = None,
    freeze_masks: bool = False,
    corrector: str = "l1",
    distance: str = "change",
    out_dir: Path | None = None,
    progress: bool | None = None,
) -> list[Point]:
    """Follow the regularisation path of one network; returns its points in order.

    Args:
        factory: Returns the initial network (seeded by ``config.seed`` before the call).
        splits: The data.
        config: Optimizer and data order; ``config.epochs`` is the whole run's length
            (warm-up and every corrector). Each phase (warm-up, corrector) anneals the
            learning rate from ``config.lr`` to a tenth of it (cosine); the next restarts.
        points: How many points the run aims at after the dense one: the corrector
            length is the path's steps over this.
        warmup_epochs: Epochs at lam = 0 before the path.
        start_lam: The first value of the path's parameter after the dense point: the
            weight of f2 (``l1``), the share of weights cut (``magnitude``) or of the
            FLOPs (``channel``).
        max_drop: The path ends once the validation accuracy is this far below the dense
            point's (fraction, e.g. 0.1 = 10 points).
        complexity, scope, prox, tau, freeze_masks: The f2 objective and how it is taken
            (see :class:`moprune.solvers.WeightedSumSolver`); the ``magnitude`` and
            ``channel`` correctors take no ``prox`` or ``tau`` and always hold their cuts
            at zero, and ``channel`` needs complexity ``group-l1`` or ``flops``.
        corrector: ``l1`` (the weighted sum along lam), ``magnitude`` (cuts by
            magnitude along the share of weights cut) or ``channel`` (cuts whole channels
            along the share of the FLOPs cut); see the module's docstring.
        distance: What of the validation accuracy counts in a step's length: ``change``
            (a rise as much as a fall) or ``fall`` (only a fall: a corrector that
            recovers accuracy is not overshooting; on the small VGG's channel path a
            recovery read as overshoot once cut the step 16-fold). ``fall`` did not make
            the channel path's knee stable over seeds (its knee above 5% kept 5.7-12.0%
            of the FLOPs over three seeds, ``change`` 7.2-19.8%; the README's knee-proxy
            section), so ``change`` stays the default.
        out_dir: The front's directory (point files and the resumable state).
        progress: A progress bar over the path's steps (None: on a terminal, when
            progress lines are off).

    Raises:
        ConfigError: for bad settings, or a state in ``out_dir`` made with other ones.
        DivergedError: when the loss becomes NaN or infinite.
    """
    if points < 1:
        raise ConfigError(f"the path needs points >= 1, got {points}")
    if not 0 <= warmup_epochs < config.epochs:
        raise ConfigError(f"warmup_epochs must be in [0, epochs={config.epochs}), "
                          f"got {warmup_epochs}")
    if not 0 < start_lam < 1:
        raise ConfigError(f"start_lam must be in (0, 1), got {start_lam}")
    if not 0 < max_drop <= 1:
        raise ConfigError(f"max_drop must be in (0, 1], got {max_drop}")
    if corrector not in PATH_CORRECTORS:
        raise ConfigError(f"corrector must be one of {PATH_CORRECTORS}, got {corrector!r}")
    if distance not in PATH_DISTANCES:
        raise ConfigError(f"distance must be one of {PATH_DISTANCES}, got {distance!r}")
    fall_only = distance == "fall"
    ranked = corrector != "l1"  # a corrector that cuts by rank, not by lam
    if ranked and (prox or tau is not None):
        raise ConfigError(f"the {corrector} corrector cuts by rank, with no prox step and no "
                          f"threshold; got prox={prox}, tau={tau}")
    if corrector == "channel" and complexity == "l1":
        raise ConfigError("the channel corrector cuts whole channels: it needs complexity "
                          "group-l1 or flops, not l1")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = factory().to(device)
    solver = WeightedSumSolver(0.0, complexity=complexity, scope=scope, tau=tau,
                               freeze_masks=freeze_masks or ranked, prox=prox)
    optimizer = solver.bind(model, config, input_shape=input_shape(splits))
    loader = splits.loader("train", batch_size=config.batch_size, seed=config.seed,
                           device=device)
    per_epoch = len(loader)
    total = max(1, round(config.epochs * per_epoch))
    warm = round(warmup_epochs * per_epoch)
    corrector_steps = max(1, (total - warm) // points)
    settings = {"train": {k: v for k, v in config_to_dict(config).items() if k != "device"},
                "solver": solver.describe(), "points": points, "warmup_epochs": warmup_epochs,
                "start_lam": start_lam, "max_drop": max_drop,
                "splits": splits.sizes}
    if ranked:  # only then, so that the states of earlier l1 paths still resume
        settings["corrector"] = corrector
    if fall_only:  # likewise: the states of paths that counted any change still resume
        settings["distance"] = "fall"
    state: dict[str, Any] = {"step": 0, "index": 0, "log_ratio": None,
                             "log_step": math.log(2.0), "ref": None, "done": False,
                             "keys": []}
    state_file = out_dir / "path" / "state.pt" if out_dir is not None else None
    if state_file is not None and state_file.exists():
        state = _load_state(state_file, settings, model, optimizer)
        solver.on_resume()
        if state["log_ratio"] is not None and not ranked:
            solver.set_lam(_lam(state["log_ratio"]))
    recorded = [_read_point(out_dir, key) for key in state["keys"]] if out_dir else []
    if state["done"]:  # a finished path: read back
        return recorded
    batches = batch_stream(loader, state["step"])
    progress_line(f"path: {len(recorded)} points so far, step {state['step']} of {total} "
                  f"({per_epoch} per epoch; the first {warm} at lam 0, then about {points} "
                  f"points of {corrector_steps} steps)")
    spacing = 2.0 / points  # arc length of a front in these units: about 2
    model.train()
    shown = bar(total, desc="path", unit="step", initial=state["step"], enabled=progress)

    def run(steps: int) -> None:
        # each phase anneals the learning rate from lr to lr / 10 (cosine) and the next
        # restarts it: a point is measured near its phase's fixed point, not at the noise
        # of a large constant step (the prox fixed point does not depend on the lr)
        for i in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = config.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * i / steps)))
            x, y = next(batches)
            loss, _ = solver.step(x, y, label_smoothing=config.label_smoothing)
            if not math.isfinite(loss.item()):
                raise DivergedError(f"the path's loss became {loss.item()} at lam "
                                    f"{solver.lam:.6g}")
            shown.update(1)
        state["step"] += steps

    while not state["done"]:
        start = time.perf_counter()
        floor = False  # the channel cut took every channel it may (90% of each layer)
        if state["ref"] is None:  # the dense end
            run(warm)
            point = _measure_path(model, splits, solver, state, config, per_epoch, complexity,
                                  scope, corrector)
            state["ref"] = [1.0 - point.val_acc, max(_size(point, corrector), 1e-30)]
        else:
            # predictor-corrector with step rejection: a corrector that lands farther than
            # 2.5 x spacing from the last point is undone and redone at half the step
            snapshot = _snapshot(model, optimizer)
            base = (math.log(start_lam / (1 - start_lam)) - state["log_step"]
                    if state["log_ratio"] is None else state["log_ratio"])
            for attempt in range(4):
                state["log_ratio"] = base + state["log_step"]
                if corrector == "magnitude":
                    _cut(solver, optimizer, _lam(state["log_ratio"]))
                elif corrector == "channel":
                    floor = _cut_channels(model, solver, optimizer, _lam(state["log_ratio"]),
                                          input_shape(splits))
                else:
                    solver.set_lam(_lam(state["log_ratio"]))
                run(min(corrector_steps, total - state["step"]))
                point = _measure_path(model, splits, solver, state, config, per_epoch,
                                      complexity, scope, corrector)
                d = _distance(point, recorded[-1], state["ref"], max_drop, corrector,
                              fall_only=fall_only)
                if d <= 2.5 * spacing or attempt == 3 or state["step"] >= total:
                    break
                _restore(model, optimizer, snapshot)
                solver.on_resume()  # frozen masks back to the snapshot's zeros
                state["log_step"] *= 0.5
            point.extras["rejected"] = attempt
            state["log_step"] *= min(1.5, max(0.5, spacing / d)) if d > 0 else 1.5
        point.seconds = time.perf_counter() - start
        err = 1.0 - point.val_acc
        state["done"] = bool(err - state["ref"][0] >= max_drop or point.zeros == point.scope_size
                             or floor or state["step"] >= total)
        if state["done"]:
            point.extras["ends"] = ("accuracy" if err - state["ref"][0] >= max_drop else
                                    "empty" if point.zeros == point.scope_size else
                                    "floor" if floor else "epochs")
        state["index"] += 1
        state["keys"].append(point.key)
        recorded.append(point)
        if out_dir is not None:
            save_point_model(model, point, out_dir)
            _save_state(state_file, settings, state, model, optimizer)  # type: ignore[arg-type]
        shown.n = state["step"]  # (a rejected corrector's steps were counted twice)
        shown.set_postfix_str(f"{len(recorded)} points, last: val acc {point.val_acc:.3f}, "
                              f"kept {point.kept:.1%}", refresh=True)
    shown.close()
    return recorded


def _measure_path(model: nn.Module, splits: DataSplits, solver: WeightedSumSolver,
                  state: dict[str, Any], config: TrainConfig, per_epoch: int,
                  complexity: str, scope: str, corrector: str) -> Point:
    assert solver.f2 is not None
    extras = {"step": state["step"], "epochs_trained": state["step"] / per_epoch,
              "dead_groups": solver.f2.dead_groups()}
    if corrector != "l1":
        extras |= {"corrector": corrector, "cut": (0.0 if state["log_ratio"] is None
                                                     else _lam(state["log_ratio"]))}
    return measure(model, splits, method="path", complexity=complexity, scope=scope,
                   lam=None if corrector != "l1" else solver.lam, epochs=config.epochs,
                   seed=config.seed, tag=f"p{state['index']:03d}", extras=extras)


def _size(point: Point, corrector: str) -> float:
    """What the path spreads its points along: f2 (l1), the kept share (magnitude) or
    the FLOPs share (channel)."""
    if corrector == "channel":
        return float(point.flops_share if point.flops_share is not None else 1.0)
    return point.kept if corrector == "magnitude" else point.f2


def _distance(point: Point, prev: Point, ref: list[float], max_drop: float,
              corrector: str = "l1", *, fall_only: bool = False) -> float:
    """Distance of two path points in normalised objectives: the validation error's
    change (``fall_only``: its rise only) over ``max_drop``, and f2's (the kept or FLOPs
    share's, for the magnitude or channel corrector) in decades over two decades (a front
    spans two to three decades of f2; in linear units its sparse end, where the knee
    lies, would get a few points only)."""
    a, b = (max(_size(p, corrector), 1e-12 * ref[1]) for p in (point, prev))
    drop = prev.val_acc - point.val_acc
    return math.hypot((max(drop, 0.0) if fall_only else drop) / max_drop,
                      math.log10(a / b) / 2.0)


@torch.no_grad()
def _cut(solver: WeightedSumSolver, optimizer: torch.optim.Optimizer, share: float) -> None:
    """Set the ``share`` of the weights in scope that are smallest in magnitude to zero,
    with their optimizer state, and hold them there (the solver's frozen masks rebuilt)."""
    assert solver.f2 is not None
    params = solver.f2.penalized
    masks = global_magnitude_masks(params, share)
    for p, m in zip(params, masks, strict=True):
        p.mul_(m)
    mask_optimizer_state(optimizer, params, masks)
    solver.on_resume()  # the frozen masks rebuilt from the new zeros


@torch.no_grad()
def _cut_channels(model: nn.Module, solver: WeightedSumSolver, optimizer: torch.optim.Optimizer,
                  share: float, shape: tuple[int, ...]) -> bool:
    """Cut the fewest whole channels, in the order of
    :meth:`~moprune.objectives.Complexity.channel_order`, that leave at most ``1 - share``
    of the FLOPs (:func:`moprune.pruning.flops_share`; all the order allows when that is
    not enough), with their optimizer state, and hold them at zero. Returns whether the
    order was used up (no further cut is possible: the path's floor)."""
    f2 = solver.f2
    assert f2 is not None
    order = f2.channel_order()
    params = f2.penalized
    weights = [p.detach().clone() for p in params]

    def apply(k: int) -> list[torch.Tensor]:
        masks = f2.group_masks(order[:k])
        for p, w, m in zip(params, weights, masks, strict=True):
            p.copy_(w * m)
        return masks

    lo, hi = 0, len(order)  # flops_share falls as k rises: the least k under the target
    while lo < hi:
        mid = (lo + hi) // 2
        apply(mid)
        if flops_share(model, shape) <= 1.0 - share:
            hi = mid
        else:
            lo = mid + 1
    mask_optimizer_state(optimizer, params, apply(lo))
    solver.on_resume()  # the frozen masks rebuilt from the new zeros
    return lo == len(order) and flops_share(model, shape) > 1.0 - share


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict()})


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, snapshot: dict[str, Any]
             ) -> None:
    model.load_state_dict(snapshot["model"])
    optimizer.load_state_dict(copy.deepcopy(snapshot["optimizer"]))


def save_point_model(model: nn.Module, point: Point, out_dir: Path, *,
                     name: str = "model.pt") -> None:
    """Write ``point``'s network (a moprune model file; a user's module's loads with its
    factory) and ``point.json`` under ``out_dir/points/<key>/``."""
    folder = out_dir / "points" / point.key
    model_file = folder / name
    save_model(model, model_file, meta={"point": point.key})
    point.checkpoint = str(model_file.relative_to(out_dir))
    write_json(folder / "point.json", point.to_dict())
    progress_line(f"front point {point.summary()}")


def load_point_model(factory: Callable[[], nn.Module], path: Path) -> nn.Module:
    """The network of a point's model file, built by ``factory`` (a moprune model file or
    a user module's weights)."""
    model = factory()
    try:
        state = read_model_file(path)["state_dict"]
    except MopruneError:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


def debias(
    point: Point,
    factory: Callable[[], nn.Module],
    splits: DataSplits,
    config: TrainConfig,
    *,
    epochs: int,
    complexity: str = "l1",
    scope: str = "all",
    out_dir: Path,
    progress: bool | None = None,
) -> Point:
    """Fine-tune ``point``'s network ``epochs`` epochs with its mask frozen and lam = 0
    (cosine schedule from ``config.lr``); return the point with the fine-tuned network's
    objectives, the raw ones kept in ``raw``. Resumable: a finished one is read back.

    Raises:
        ConfigError: for ``epochs < 1`` or a point without a model file.
    """
    if epochs < 1:
        raise ConfigError(f"finetune epochs must be >= 1, got {epochs}")
    if point.finetune_epochs == epochs:
        return point
    if point.finetune_epochs:
        raise ConfigError(f"point {point.key} was fine-tuned {point.finetune_epochs} "
                          f"epochs, not {epochs}")
    if point.checkpoint is None:
        raise ConfigError(f"point {point.key} has no model file to fine-tune")
    folder = out_dir / "points" / point.key
    raw_file = folder / "raw.pt"
    if not raw_file.exists():  # keep the path's network beside the fine-tuned one
        (out_dir / point.checkpoint).replace(raw_file)
    torch.manual_seed(config.seed)
    model = load_point_model(factory, raw_file)
    solver = WeightedSumSolver(0.0, complexity=complexity, scope=scope, tau=0.0,
                               freeze_masks=True)
    ft_config = replace(config, epochs=epochs, scheduler="cosine", warmup_epochs=0)
    start = time.perf_counter()
    train(model, splits, ft_config, solver=solver, checkpoint=folder / "finetune.pt",
          progress=progress)
    tuned = measure(model, splits, method=point.method, complexity=complexity, scope=scope)
    raw = {k: getattr(point, k) for k in ("f1", "f2", "val_acc", "test_acc", "test_loss",
                                          "zeros", "flops_share")}
    result = replace(point, f1=tuned.f1, f2=tuned.f2, val_acc=tuned.val_acc,
                     test_acc=tuned.test_acc, test_loss=tuned.test_loss, zeros=tuned.zeros,
                     flops_share=tuned.flops_share, finetune_epochs=epochs, raw=raw,
                     extras={**point.extras,
                             "finetune_seconds": time.perf_counter() - start})
    save_point_model(model.cpu(), result, out_dir)
    (folder / "finetune.pt").unlink(missing_ok=True)
    return result


def debias_knee(
    point: Point,
    factory: Callable[[], nn.Module],
    splits: DataSplits,
    config: TrainConfig,
    *,
    total_epochs: int,
    complexity: str = "l1",
    scope: str = "all",
    out_dir: Path,
    progress: bool | None = None,
) -> Point:
    """The knee of a path front (fine-tuned or not), debiased from its raw network until it
    has seen ``total_epochs`` epochs in all (its path epochs, rounded up, plus the
    fine-tune), as a weighted-sum front retrains its knee for the full epochs. The result
    is a point of its own (``retrained``, key ending in ``-e{total_epochs}``). Resumable.

    Raises:
        ConfigError: when the point has no raw network, or has seen ``total_epochs``
            already.
    """
    source = out_dir / "points" / point.key / "raw.pt"  # the path's network ...
    if not source.exists() and not point.finetune_epochs and point.checkpoint:
        source = out_dir / point.checkpoint  # ... which a point not fine-tuned holds
    if not source.exists():
        raise ConfigError(f"point {point.key} has no raw network to debias")
    extra = total_epochs - path_epochs(point)
    if extra < 1:
        raise ConfigError(f"the knee {point.key} has seen {total_epochs} epochs already")
    knee = replace(point, epochs=total_epochs, retrained=True, finetune_epochs=0, raw=None,
                   extras=dict(point.extras), **(point.raw or {}))
    folder = out_dir / "points" / knee.key
    done = folder / "point.json"
    if done.exists():
        return Point.from_dict(read_json(done))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / "raw.pt")
    knee.checkpoint = str((folder / "raw.pt").relative_to(out_dir))
    return debias(knee, factory, splits, config, epochs=extra, complexity=complexity,
                  scope=scope, out_dir=out_dir, progress=progress)


def path_epochs(point: Point) -> int:
    """The whole epochs a path point has been trained on the path (its fractional
    ``epochs_trained`` rounded up; 0 for a point not from a path)."""
    return math.ceil(point.extras.get("epochs_trained", 0) - 1e-9)


def _lam(log_ratio: float) -> float:
    """lam from log(lam / (1 - lam)), kept below 1."""
    return min(1.0 / (1.0 + math.exp(-log_ratio)), 1.0 - 1e-12)


def batch_stream(loader: Any, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The training batches from global step ``start`` on, epoch after epoch (the same
    stream as an uninterrupted run)."""
    per_epoch = len(loader)
    epoch, skip = divmod(start, per_epoch)
    while True:
        loader.set_epoch(epoch)
        for i, batch in enumerate(loader):
            if i >= skip:
                yield batch
        epoch, skip = epoch + 1, 0


def _read_point(out_dir: Path, key: str) -> Point:
    try:
        return Point.from_dict(read_json(out_dir / "points" / key / "point.json"))
    except (OSError, ValueError) as e:
        raise MopruneError(f"the path in {out_dir} lost its point {key} ({e}); "
                           "delete the run directory to start again") from None


def _save_state(path: Path, settings: dict[str, Any], state: dict[str, Any],
                model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    payload = {"settings": settings, "state": state, "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()}
    atomic_write(path, lambda f: torch.save(payload, f))


def _load_state(path: Path, settings: dict[str, Any], model: nn.Module,
                optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise MopruneError(f"cannot read the path state {str(path)!r} "
                           f"({type(e).__name__})") from None
    if payload.get("settings") != settings:
        old = payload.get("settings") or {}
        diff = [k for k in settings if old.get(k) != settings[k]]
        raise ConfigError(f"the path in {str(path.parent.parent)!r} was made with other "
                          f"settings ({', '.join(diff)}); use another run directory")
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["torch_rng"])
    return payload["state"]
