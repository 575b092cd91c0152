"""``train_run``: one network trained into a run directory (``moprune train``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from moprune.config import RunConfig, config_to_dict
from moprune.io import JSONResult, write_json
from moprune.layout import RunLayout
from moprune.models import build_model, save_model
from moprune.report import plot_history
from moprune.rundir import RunDir
from moprune.training import train
from moprune.validation import check_run

__all__ = ["TrainRun", "train_run"]


@dataclass(frozen=True)
class TrainRun(JSONResult):
    """What :func:`train_run` wrote (``to_dict()``: its ``results.json``)."""

    out: Path
    model: str
    val_acc: float
    test_acc: float | None
    parameters: int
    seconds: float


def train_run(config: RunConfig, out: str | os.PathLike[str], *,
              progress: bool | None = None) -> TrainRun:
    """Train ``config.model`` on ``config.data`` into the run directory ``out``: its
    ``config.yaml``, ``model.pt``, ``results.json`` and ``history.png``; resumes from its
    checkpoint, and refuses a directory made with other settings (one line).

    Raises:
        MopruneError: bad input or a run directory of other settings, before any write.
    """
    from moprune.data import prepare_data

    where = check_run(out, config.data, config.train.device)
    layout = RunLayout(where)
    run = RunDir(where, config_to_dict(config),
                 may_differ=("train.device", "data.eval_batch_size"),
                 defaults=config_to_dict(RunConfig()))
    run.check()
    data = prepare_data(config.data)
    model = build_model(config.model, in_channels=data.in_channels,
                        num_classes=data.num_classes, image_size=data.image_size,
                        seed=config.train.seed, **config.model_args)
    run.write()
    result = train(model, data, config.train, checkpoint=layout.checkpoint,
                   evaluate_test=True, progress=progress)
    parameters = sum(p.numel() for p in model.parameters())
    save_model(model, layout.model, meta={"val_acc": result.val_acc,
                                          "test_acc": result.test_acc})
    results = {"model": config.model, "dataset": config.data.dataset,
               "parameters": parameters, "splits": data.sizes, "data_origin": data.origin,
               **result.to_dict()}
    write_json(layout.results, results)
    if result.history:
        plot_history(result.history, layout.history_plot, title=f"{config.model} loss")
    return TrainRun(out=where, model=config.model, val_acc=result.val_acc,
                    test_acc=result.test_acc, parameters=parameters,
                    seconds=sum(r.seconds for r in result.history), raw=results)
