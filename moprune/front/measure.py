"""One way to measure a trained network as a front :class:`~moprune.front.points.Point`,
and one way to train a point (:func:`train_point`, which every weighted-sum and SMGD
front uses)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.data import DataSplits
from moprune.front.points import Point
from moprune.io import read_json, write_json
from moprune.layout import RunLayout
from moprune.models import save_model
from moprune.objectives import Complexity
from moprune.progress import progress_line
from moprune.pruning import flops_share
from moprune.solvers import Solver
from moprune.training import evaluate, input_shape, train

__all__ = ["measure_point", "train_point"]


def measure_point(model: nn.Module, splits: DataSplits, *, method: str,
                  complexity: str = "l1", scope: str = "all", test: bool = True,
                  val: tuple[float, float] | None = None, **fields: Any) -> Point:
    """Measure a trained network as a :class:`Point`: f1 and accuracy on validation, f2 and
    zeros over ``scope``, the FLOPs share (:func:`moprune.pruning.flops_share`, whatever
    the complexity, so that every front can choose its knee in FLOPs), and test loss and
    accuracy when ``test`` and the data has a test split. ``val``: the validation loss and
    accuracy when the caller has just measured them (a training loop's last pass).
    ``fields`` fill the rest (lam, epochs, seed, ...). Every front method's points are
    measured here (:func:`train_point`, the path)."""
    device = next(model.parameters()).device
    f1, val_acc = val if val is not None else evaluate(model, splits.loader("val",
                                                                            device=device))
    test_loss, test_acc = (evaluate(model, splits.loader("test", device=device))
                           if test and splits.test_idx is not None else (None, None))
    shape = input_shape(splits)
    f2 = Complexity(model, kind=complexity, scope=scope, input_shape=shape)
    return Point(method=method, f1=f1, f2=f2.value(), val_acc=val_acc, zeros=f2.zeros(),
                 scope_size=f2.n, test_acc=test_acc, test_loss=test_loss,
                 flops_share=flops_share(model, shape), **fields)


def train_point(factory: Callable[[], nn.Module], splits: DataSplits, config: TrainConfig,
                solver: Solver, *, out_dir: Path | None = None, retrained: bool = False,
                progress: bool | None = None) -> Point:
    """Train one network with ``solver`` and measure it as a :class:`Point`.

    With ``out_dir``, the point lives in ``out_dir/points/<key>/``: a finished point is
    read back instead of retrained, an unfinished one resumes from its checkpoint.
    """
    settings = solver.describe()
    probe = Point(method=_method(settings), f1=0, f2=0, val_acc=0, zeros=0, scope_size=0,
                  lam=settings.get("lam"), epochs=config.epochs, seed=config.seed)
    folder = RunLayout(out_dir).point(probe.key) if out_dir is not None else None
    if folder is not None and (folder / "point.json").exists():
        return Point.from_dict(read_json(folder / "point.json"))
    torch.manual_seed(config.seed)
    model = factory()
    start = time.perf_counter()
    result = train(model, splits, config, solver=solver,
                   checkpoint=None if folder is None else folder / "checkpoint.pt",
                   progress=progress)
    f2 = solver.f2
    assert f2 is not None
    extras: dict[str, Any] = {"solver": settings, "dead_groups": f2.dead_groups(),
                              "groups": f2.num_groups}
    if result.history and "alpha" in result.history[-1].extras:
        extras["alpha"] = result.history[-1].extras["alpha"]  # SMGD's mean a, last epoch
    # the loop's final validation pass is f1: the same model on the same split
    point = measure_point(model, splits, method=probe.method, complexity=f2.kind,
                          scope=f2.scope, val=(result.val_loss, result.val_acc),
                          lam=probe.lam, epochs=probe.epochs, seed=probe.seed,
                          retrained=retrained, extras=extras,
                          seconds=sum(r.seconds for r in result.history) or
                          time.perf_counter() - start)
    if folder is not None:
        model_file = folder / "model.pt"
        save_model(model.cpu(), model_file, meta={"point": point.key})
        point.checkpoint = str(model_file.relative_to(out_dir))  # type: ignore[arg-type]
        write_json(folder / "point.json", point.to_dict())
        (folder / "checkpoint.pt").unlink(missing_ok=True)
    progress_line(f"front point {point.summary()}")
    return point


def _method(settings: dict[str, Any]) -> str:
    if settings["solver"] == "smgd":
        return "smgd" if settings.get("variant") == "sgd" else f"smgd-{settings['variant']}"
    return str(settings["solver"])
