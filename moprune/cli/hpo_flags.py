"""The flags of ``moprune hpo`` and ``moprune fidelity`` (the proxy, the study, the
transfer) and the settings they make (:class:`moprune.runs.HPORunSettings`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from moprune.cli.common import add_run_flags, group, integer, number, resolve_config

__all__ = ["add_hpo_flags", "run_settings"]


def add_hpo_flags(p: argparse.ArgumentParser, *, proxy_none: bool = True) -> None:
    from moprune.names import BACKENDS, KNEES, LR_TRANSFERS, PRUNERS

    add_run_flags(p)
    g = group(p, "HPO")
    g.add_argument("--proxy", required=not proxy_none, default="auto" if proxy_none else None,
                   metavar=("auto|" if proxy_none else "")
                   + "RUN_DIR|MODEL_FILE|uniform:SHARE" + ("|none" if proxy_none else ""),
                   type=_proxy_flag(proxy_none),
                   help=("auto (the default): the recipe's proxy (a channel path on the FLOPs "
                         "of this data, its knee above 5%% of the FLOPs, ties within the "
                         "validation noise, compacted, muP), made in RUN_DIR/proxy when a pay "
                         "check predicts it saves 20%%, else the base network; " if proxy_none
                         else "") + "a front run (its compacted knee), a model file, or "
                   "uniform:SHARE (the base network thinned uniformly to SHARE of its FLOPs)"
                   + (", or none (trials train the base network)" if proxy_none else ""))
    g.add_argument("--selector", default="chord", metavar="|".join(KNEES),
                   help="which knee of a front run")
    g.add_argument("--proxy-flops-floor", type=number("--proxy-flops-floor", ge=0, lt=1),
                   default=None, metavar="SHARE",
                   help="with a front run: its knee in (validation error, FLOPs share) among "
                        "the points keeping at least SHARE of the FLOPs, compacted, not "
                        "retrained")
    g.add_argument("--proxy-tolerance", type=number("--proxy-tolerance", ge=0, lt=1),
                   default=0.0, metavar="ACC",
                   help="with --proxy-flops-floor: accuracy differences up to ACC (0.02 = 2 "
                        "points) are noise in the knee's choice: the smallest network within "
                        "ACC of every larger one")
    g.add_argument("--lr-transfer", choices=list(LR_TRANSFERS), default=None,
                   help="mup: scale the proxy's learning rate, weight decay and "
                        "initialisation per layer by muP's width factors, so that its best "
                        "lr is the base network's (default: mup for --proxy auto's proxy, "
                        "else none)")
    g.add_argument("--space", metavar="FILE", help="YAML search space (default: lr, weight "
                   "decay, momentum, batch size, label smoothing)")
    g.add_argument("--top-k", type=integer("--top-k", ge=1), default=3,
                   help="configurations retrained on the base network (default 3)")
    g.add_argument("--backend", choices=list(BACKENDS), default="optuna",
                   help="who proposes the trials: Optuna's samplers, pymoo's algorithms by "
                   "ask and tell, or plain random search (default optuna)")
    g.add_argument("--sampler", default="", help="optuna: tpe | random | cmaes | gp | qmc | "
                   "nsga2; pymoo: ga | de | nsga2 (default tpe, or ga with pymoo)")
    g.add_argument("--pruner", choices=list(PRUNERS), default="none",
                   help="stop poor trials early by their per-epoch validation accuracy "
                   "(default none)")
    g.add_argument("--trials", type=integer("--trials", ge=1), default=20,
                   help="the study's budget of trials (default 20)")
    g.add_argument("--objectives", default="accuracy",
                   help="accuracy, or accuracy,seconds / accuracy,params (multi-objective)")
    g.add_argument("--storage", metavar="URL", default=None,
                   help="sqlite:///file.db, postgresql://..., or a .journal file (default: "
                        "RUN_DIR/study.journal)")
    g.add_argument("--study", default="moprune", help="study name in the storage")
    g.add_argument("--workers", type=integer("--workers", ge=1), default=1,
                   help="worker processes on this machine")
    g.add_argument("--grace", type=integer("--grace", ge=1), default=60,
                   help="seconds without a heartbeat before a trial is retried (SQL storage)")
    g.add_argument("--final-epochs", type=integer("--final-epochs", ge=1), default=None,
                   help="epochs of the transfer runs (default: --epochs)")


def _proxy_flag(allow_none: bool) -> Callable[[str], str]:
    def proxy(text: str) -> str:
        if text == "none" and not allow_none:
            raise argparse.ArgumentTypeError("--proxy none: fidelity compares a proxy with the "
                                             "base network; give a front run, a model file or "
                                             "uniform:SHARE")
        if text.startswith("uniform:"):
            share = text.split(":", 1)[1]
            try:
                ok = 0 < float(share) <= 1
            except ValueError:
                ok = False
            if not ok:
                raise argparse.ArgumentTypeError(f"--proxy {text!r}: uniform:SHARE needs a "
                                                 "share of the FLOPs in (0, 1], e.g. "
                                                 "uniform:0.25")
        elif text == "auto" and allow_none:
            return text
        elif text != "none" and not os.path.exists(text):
            raise argparse.ArgumentTypeError(f"--proxy {text!r} does not exist (a front run, "
                                             "a model file, uniform:SHARE" +
                                             (" or none)" if allow_none else ")"))
        return text
    return proxy


def run_settings(args: argparse.Namespace) -> Any:
    """The run config and the :class:`~moprune.runs.HPORunSettings` of the flags."""
    from moprune.config import RunConfig
    from moprune.hpo import StudySettings
    from moprune.runs.hpo import HPORunSettings

    config: RunConfig = resolve_config(RunConfig, args)
    study = StudySettings(backend=args.backend, sampler=args.sampler, pruner=args.pruner,
                          trials=args.trials, seed=config.train.seed, storage=args.storage,
                          study=args.study, workers=args.workers, grace=args.grace)
    return config, HPORunSettings(
        proxy=args.proxy, selector=args.selector, flops_floor=args.proxy_flops_floor,
        tolerance=args.proxy_tolerance, lr_transfer=args.lr_transfer, space=args.space,
        study=study, objectives=tuple(args.objectives.split(",")), top_k=args.top_k,
        final_epochs=getattr(args, "final_epochs", None))


