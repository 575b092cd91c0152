"""``sensitivity_run``: how pruning moves a network's best hyperparameters, into a run
directory (``moprune sensitivity``)."""

from __future__ import annotations

import os
from dataclasses import asdict

from moprune.config import RunConfig, config_to_dict
from moprune.errors import MopruneError
from moprune.hpo import load_space
from moprune.rundir import RunDir
from moprune.sensitivity import (
    RERUN_MAY_CHANGE,
    SensitivityResult,
    SensitivitySettings,
    check_sensitivity,
    run_sensitivity,
)
from moprune.validation import check_run

__all__ = ["sensitivity_run"]


def sensitivity_run(config: RunConfig, settings: SensitivitySettings,
                    out: str | os.PathLike[str], *, space: str | None = None
                    ) -> SensitivityResult:
    """:func:`moprune.sensitivity.run_sensitivity` of ``config.model`` (a registered name)
    over the search space file ``space`` (None: the default space) into the run directory
    ``out``; resumes (more seeds or bootstrap replicates extend it), refuses other
    settings and every bad input before any write."""
    if not isinstance(config.model, str):
        raise MopruneError("sensitivity needs a registered model name")
    from moprune.data import prepare_data

    loaded = load_space(space)
    check_sensitivity(loaded, settings)
    where = check_run(out, config.data, config.train.device)
    run = RunDir(where, {
        "run": config_to_dict(config), "space": loaded.to_dict(),
        **{k: v for k, v in asdict(settings).items() if k not in ("workers", "storage")}},
        may_differ=(*RERUN_MAY_CHANGE, "run.data.eval_batch_size"),
        legacy=("sensitivity-settings.json",))
    run.check()
    splits = prepare_data(config.data)
    check_sensitivity(loaded, settings, model=config.model, splits=splits)
    run.write()
    return run_sensitivity(config.model, config.data, train=config.train, space=loaded,
                           settings=settings, out=where, splits=splits)
