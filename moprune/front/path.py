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
:meth:`moprune.objectives.Complexity.channel_units` (their norm over their layer's mean,
smallest first, at most 90% of a layer; a channel that residual additions couple across
a stage's convolutions is one unit, cut in all of them at once), the fewest that bring
the FLOPs left once dead channels go (:func:`moprune.pruning.flops_share`, which counts
the inputs they silence downstream and a coupled channel only once all of it is dead)
under the target. Its points compact exactly to networks that are small in compute, on
plain and residual networks alike.

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
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig, config_to_dict
from moprune.data import DataSplits
from moprune.errors import ConfigError, DivergedError, MopruneError
from moprune.front.correctors import CORRECTORS, PathCorrector
from moprune.front.debiasing import save_point_model
from moprune.front.measure import measure_point as measure
from moprune.front.points import Point
from moprune.io import atomic_write, read_json
from moprune.names import PATH_DISTANCES
from moprune.objectives import complexity_kind
from moprune.progress import bar, progress_line
from moprune.solvers import WeightedSumSolver
from moprune.training import input_shape, resolve_device

__all__ = ["batch_stream", "train_path"]


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
            (see :class:`moprune.solvers.WeightedSumSolver`); a ranked corrector
            (``magnitude``, ``channel``) takes no ``prox`` or ``tau`` and always holds its
            cuts at zero, and ``channel`` needs complexity ``group-l1`` or ``flops``.
        corrector: A registered corrector (:data:`moprune.front.correctors.CORRECTORS`):
            ``l1`` (the weighted sum along lam), ``magnitude`` (cuts by magnitude along
            the share of weights cut) or ``channel`` (cuts whole channels along the share
            of the FLOPs cut); see the module's docstring.
        distance: What of the validation accuracy counts in a step's length: ``change``
            (a rise as much as a fall) or ``fall`` (only a fall: a corrector that
            recovers accuracy is not overshooting; on the small VGG's channel path a
            recovery read as overshoot once cut the step 16-fold). ``fall`` did not make
            the channel path's knee stable over seeds (its knee above 5% kept 5.7-12.0%
            of the FLOPs over three seeds, ``change`` 7.2-19.8%), so ``change`` stays
            the default.
        out_dir: The front's directory (point files and the resumable state).
        progress: A progress bar over the path's steps (None: on a terminal, when
            progress lines are off).

    Raises:
        ConfigError: for bad settings, or a state in ``out_dir`` made with other ones.
        DivergedError: when the loss becomes NaN or infinite.
    """
    moving = _check(config, points=points, warmup_epochs=warmup_epochs, start_lam=start_lam,
                    max_drop=max_drop, complexity=complexity, prox=prox, tau=tau,
                    corrector=corrector, distance=distance)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = factory().to(device)
    solver = WeightedSumSolver(0.0, complexity=complexity, scope=scope, tau=tau,
                               freeze_masks=freeze_masks or moving.ranked, prox=prox)
    optimizer = solver.bind(model, config, input_shape=input_shape(splits))
    loader = splits.loader("train", batch_size=config.batch_size, seed=config.seed,
                           device=device)
    settings = {"train": {k: v for k, v in config_to_dict(config).items() if k != "device"},
                "solver": solver.describe(), "points": points, "warmup_epochs": warmup_epochs,
                "start_lam": start_lam, "max_drop": max_drop,
                "splits": splits.sizes}
    if moving.ranked:  # only then, so that the states of earlier l1 paths still resume
        settings["corrector"] = corrector
    if distance == "fall":  # likewise: states of paths that counted any change resume
        settings["distance"] = "fall"
    walk = _Walk(model, solver, optimizer, splits, config, moving, corrector,
                 complexity=complexity, scope=scope, per_epoch=len(loader), points=points,
                 warmup_epochs=warmup_epochs, start_lam=start_lam, max_drop=max_drop,
                 fall_only=distance == "fall")
    state_file = out_dir / "path" / "state.pt" if out_dir is not None else None
    if state_file is not None and state_file.exists():
        walk.state = _load_state(state_file, settings, model, optimizer)
        solver.on_resume()
        if walk.state["log_ratio"] is not None:
            moving.resume(solver, _lam(walk.state["log_ratio"]))
    walk.recorded = ([_read_point(out_dir, key) for key in walk.state["keys"]]
                     if out_dir else [])
    if walk.state["done"]:  # a finished path: read back
        return walk.recorded
    walk.batches = batch_stream(loader, walk.state["step"])
    progress_line(f"path: {len(walk.recorded)} points so far, step {walk.state['step']} of "
                  f"{walk.total} ({walk.per_epoch} per epoch; the first {walk.warm} at lam 0, "
                  f"then about {points} points of {walk.corrector_steps} steps)")
    model.train()
    walk.shown = bar(walk.total, desc="path", unit="step", initial=walk.state["step"],
                     enabled=progress)
    while not walk.state["done"]:
        walk.next_point()
        if out_dir is not None:
            save_point_model(model, walk.recorded[-1], out_dir)
            _save_state(state_file, settings, walk.state, model,  # type: ignore[arg-type]
                        optimizer)
        walk.show()
    walk.shown.close()
    return walk.recorded


def _check(config: TrainConfig, *, points: int, warmup_epochs: float, start_lam: float,
           max_drop: float, complexity: str, prox: bool, tau: float | None,
           corrector: str, distance: str) -> PathCorrector:
    """The path's settings checked (one line each); returns its corrector."""
    if points < 1:
        raise ConfigError(f"the path needs points >= 1, got {points}")
    if not 0 <= warmup_epochs < config.epochs:
        raise ConfigError(f"warmup_epochs must be in [0, epochs={config.epochs}), "
                          f"got {warmup_epochs}")
    if not 0 < start_lam < 1:
        raise ConfigError(f"start_lam must be in (0, 1), got {start_lam}")
    if not 0 < max_drop <= 1:
        raise ConfigError(f"max_drop must be in (0, 1], got {max_drop}")
    moving = CORRECTORS.get(corrector)()
    if distance not in PATH_DISTANCES:
        raise ConfigError(f"distance must be one of {PATH_DISTANCES}, got {distance!r}")
    if moving.ranked and (prox or tau is not None):
        raise ConfigError(f"the {corrector} corrector cuts by rank, with no prox step and no "
                          f"threshold; got prox={prox}, tau={tau}")
    if moving.needs_groups and not complexity_kind(complexity).grouped:
        raise ConfigError(f"the {corrector} corrector cuts whole channels: it needs "
                          f"complexity group-l1 or flops, not {complexity}")
    return moving


class _Walk:
    """One path's run: its network, solver and state, and the predictor-corrector steps
    that add its points (``state`` and ``recorded`` are what a resume reads back)."""

    def __init__(self, model: nn.Module, solver: WeightedSumSolver,
                 optimizer: torch.optim.Optimizer, splits: DataSplits, config: TrainConfig,
                 moving: PathCorrector, name: str, *, complexity: str, scope: str,
                 per_epoch: int, points: int, warmup_epochs: float, start_lam: float,
                 max_drop: float, fall_only: bool) -> None:
        self.model, self.solver, self.optimizer = model, solver, optimizer
        self.splits, self.config, self.moving, self.name = splits, config, moving, name
        self.complexity, self.scope, self.per_epoch = complexity, scope, per_epoch
        self.start_lam, self.max_drop, self.fall_only = start_lam, max_drop, fall_only
        self.total = max(1, round(config.epochs * per_epoch))
        self.warm = round(warmup_epochs * per_epoch)
        self.corrector_steps = max(1, (self.total - self.warm) // points)
        self.spacing = 2.0 / points  # arc length of a front in these units: about 2
        self.state: dict[str, Any] = {"step": 0, "index": 0, "log_ratio": None,
                                      "log_step": math.log(2.0), "ref": None,
                                      "done": False, "keys": []}
        self.recorded: list[Point] = []
        self.batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(())
        self.shown: Any = None

    def run(self, steps: int) -> None:
        """``steps`` mini-batch steps; the phase anneals the learning rate from lr to lr /
        10 (cosine) and the next restarts it: a point is measured near its phase's fixed
        point, not at the noise of a large constant step (the prox fixed point does not
        depend on the lr)."""
        for i in range(steps):
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * i
                                                                           / steps)))
            x, y = next(self.batches)
            loss, _ = self.solver.step(x, y, label_smoothing=self.config.label_smoothing)
            if not math.isfinite(loss.item()):
                raise DivergedError(f"the path's loss became {loss.item()} at lam "
                                    f"{self.solver.lam:.6g}")
            self.shown.update(1)
        self.state["step"] += steps

    def measure(self) -> Point:
        state, solver = self.state, self.solver
        assert solver.f2 is not None
        extras = {"step": state["step"], "epochs_trained": state["step"] / self.per_epoch,
                  "dead_groups": solver.f2.dead_groups()}
        if self.moving.ranked:
            extras |= {"corrector": self.name, "cut": (0.0 if state["log_ratio"] is None
                                                         else _lam(state["log_ratio"]))}
        return measure(self.model, self.splits, method="path", complexity=self.complexity,
                       scope=self.scope, lam=None if self.moving.ranked else solver.lam,
                       epochs=self.config.epochs, seed=self.config.seed,
                       tag=f"p{state['index']:03d}", extras=extras)

    def next_point(self) -> None:
        """The dense end, or one predictor-corrector step (with step rejection: a
        corrector that lands farther than 2.5 x spacing from the last point is undone and
        redone at half the step); the point recorded, the path ended when it is done."""
        state, start = self.state, time.perf_counter()
        floor = False  # the corrector cannot move further (the channel cut's 90% a layer)
        if state["ref"] is None:  # the dense end
            self.run(self.warm)
            point = self.measure()
            state["ref"] = [1.0 - point.val_acc, max(self.moving.size(point), 1e-30)]
        else:
            snapshot = _snapshot(self.model, self.optimizer)
            base = (math.log(self.start_lam / (1 - self.start_lam)) - state["log_step"]
                    if state["log_ratio"] is None else state["log_ratio"])
            for attempt in range(4):
                state["log_ratio"] = base + state["log_step"]
                floor = self.moving.move(self.model, self.solver, self.optimizer,
                                         _lam(state["log_ratio"]), input_shape(self.splits))
                self.run(min(self.corrector_steps, self.total - state["step"]))
                point = self.measure()
                d = _distance(point, self.recorded[-1], state["ref"], self.max_drop,
                              self.moving, fall_only=self.fall_only)
                if d <= 2.5 * self.spacing or attempt == 3 or state["step"] >= self.total:
                    break
                _restore(self.model, self.optimizer, snapshot)
                self.solver.on_resume()  # frozen masks back to the snapshot's zeros
                state["log_step"] *= 0.5
            point.extras["rejected"] = attempt
            state["log_step"] *= min(1.5, max(0.5, self.spacing / d)) if d > 0 else 1.5
        point.seconds = time.perf_counter() - start
        self._record(point, floor)

    def _record(self, point: Point, floor: bool) -> None:
        state = self.state
        fell = 1.0 - point.val_acc - state["ref"][0] >= self.max_drop
        empty = point.zeros == point.scope_size
        state["done"] = bool(fell or empty or floor or state["step"] >= self.total)
        if state["done"]:
            point.extras["ends"] = ("accuracy" if fell else "empty" if empty else
                                    "floor" if floor else "epochs")
        state["index"] += 1
        state["keys"].append(point.key)
        self.recorded.append(point)

    def show(self) -> None:
        point = self.recorded[-1]
        self.shown.n = self.state["step"]  # (a rejected corrector's steps counted twice)
        self.shown.set_postfix_str(f"{len(self.recorded)} points, last: val acc "
                                   f"{point.val_acc:.3f}, kept {point.kept:.1%}",
                                   refresh=True)


def _distance(point: Point, prev: Point, ref: list[float], max_drop: float,
              corrector: PathCorrector | str = "l1", *, fall_only: bool = False) -> float:
    """Distance of two path points in normalised objectives: the validation error's
    change (``fall_only``: its rise only) over ``max_drop``, and the corrector's size
    (f2, the kept or the FLOPs share) in decades over two decades (a front spans two to
    three decades of f2; in linear units its sparse end, where the knee lies, would get a
    few points only)."""
    moving = CORRECTORS.get(corrector)() if isinstance(corrector, str) else corrector
    a, b = (max(moving.size(p), 1e-12 * ref[1]) for p in (point, prev))
    drop = prev.val_acc - point.val_acc
    return math.hypot((max(drop, 0.0) if fall_only else drop) / max_drop,
                      math.log10(a / b) / 2.0)


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict()})


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, snapshot: dict[str, Any]
             ) -> None:
    model.load_state_dict(snapshot["model"])
    optimizer.load_state_dict(copy.deepcopy(snapshot["optimizer"]))


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
