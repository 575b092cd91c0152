"""The ``moprune`` command line: thin subcommands over the library API.

Every command that trains writes a run directory holding ``config.yaml`` (the resolved
settings), results as JSON, plots as PNG, and models as ``*.pt`` files that load with
``torch.load(weights_only=True)``. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from moprune.errors import MopruneError
from moprune.names import FRONT_METHODS

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


# Flags shared by the commands that train: (flag, config key, type, help).
# Defaults are SUPPRESSed so only the flags a user gives override the config file.
_RUN_FLAGS: list[tuple[str, str, Callable[[str], Any] | None, str]] = [
    ("--model", "model", str, "registered model or torchvision:<name> (default lenet5)"),
    ("--dataset", "data.dataset", str, "name or imagefolder:<path> (default fashion-mnist)"),
    ("--data-root", "data.data_root", str, "where to look for the data first"),
    ("--download", "data.download", None, "let torchvision download missing data"),
    ("--val-fraction", "data.val_fraction", float, "share of the training set for validation"),
    ("--limit-train", "data.limit_train", int, "use only N training images"),
    ("--limit-eval", "data.limit_eval", int, "use only N validation and N test images"),
    ("--augment", "data.augment", None, "random crop and flip on training batches"),
    ("--image-size", "data.image_size", int,
     "image folders: resize to this side (default: the images' own)"),
    ("--channels", "data.channels", int,
     "image folders: 1 (greyscale) or 3 (RGB) (default: the images' own mode)"),
    ("--test-fraction", "data.test_fraction", float,
     "share of the training images held out as test set when the data has none"),
    ("--epochs", "train.epochs", int, "training epochs"),
    ("--batch-size", "train.batch_size", int, "training batch size"),
    ("--optimizer", "train.optimizer", str, "sgd | adam | adamw"),
    ("--lr", "train.lr", float, "learning rate"),
    ("--momentum", "train.momentum", float, "SGD momentum"),
    ("--weight-decay", "train.weight_decay", float, "weight decay"),
    ("--scheduler", "train.scheduler", str, "none | cosine | step"),
    ("--seed", "train.seed", int, "seed of initialisation and batch order"),
    ("--device", "train.device", str, "auto | cpu | cuda[:N]"),
]


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML file of settings; flags override it")
    p.add_argument("--out", metavar="RUN_DIR", required=True, help="run directory to write")
    _add_flags(p, _RUN_FLAGS)


def _group(p: argparse.ArgumentParser, title: str) -> Any:
    """The argument group ``title`` of ``p`` (made once)."""
    groups = {g.title: g for g in p._action_groups}
    return groups.get(title) or p.add_argument_group(title)


def _topic(key: str) -> str:
    """The help section of a config key."""
    if key.startswith("data.") or key == "model":
        return "data and model"
    if key.startswith("train."):
        return "training"
    if key.startswith("knee"):
        return "knee"
    return "front"


def _add_flags(p: argparse.ArgumentParser,
               flags: list[tuple[str, str, Callable[[str], Any] | None, str]]) -> None:
    for flag, key, typ, help_ in flags:
        group = _group(p, _topic(key))
        default = _flag_default(key)
        shown = "" if "default" in help_ or default in (None, False) else \
            f" (default {default})"
        if typ is None:
            group.add_argument(flag, dest=key, action="store_true", default=argparse.SUPPRESS,
                               help=help_ + shown)
        else:
            group.add_argument(flag, dest=key, type=_typed(typ, flag, _flag_range(key)),
                               default=argparse.SUPPRESS, help=help_ + shown,
                               metavar=flag.lstrip("-").upper().replace("-", "_"))


def _flag_default(key: str) -> Any:
    """The default of a config key (``train.lr``) in moprune front's settings."""
    import dataclasses

    from moprune.front.config import FrontConfig

    cls: Any = FrontConfig
    *parents, leaf = key.split(".")
    for part in parents:
        cls = {f.name: f for f in dataclasses.fields(cls)}[part].default_factory
    field = {f.name: f for f in dataclasses.fields(cls)}.get(leaf)
    if field is None or field.default is dataclasses.MISSING:
        return None
    return field.default


def _flag_range(key: str) -> Any:
    """The allowed range of a config key (``train.lr``), from its dataclass field."""
    import dataclasses

    from moprune.front.config import FrontConfig

    cls: Any = FrontConfig
    *parents, leaf = key.split(".")
    for part in parents:  # the section's class, without building FrontConfig (its checks
        #                   import the solvers, and torch with them)
        section = {f.name: f for f in dataclasses.fields(cls)}[part]
        cls = section.default_factory  # type: ignore[misc]
    field = {f.name: f for f in dataclasses.fields(cls)}.get(leaf)
    return None if field is None else field.metadata.get("range")


def _typed(typ: Callable[[str], Any], flag: str, spec: Any = None) -> Callable[[str], Any]:
    """An argparse type: ``typ`` of the text, in ``spec``'s range (a
    :class:`moprune.validation.Range`) when given."""
    def convert(text: str) -> Any:
        try:
            value = typ(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes a {typ.__name__}, got {text!r}"
                                             ) from None
        if spec is not None and not spec.ok(value):
            raise argparse.ArgumentTypeError(f"{flag} must be {spec.describe()}, got {text!r}")
        return value
    convert.__name__ = typ.__name__
    return convert


def _int(flag: str, *, ge: float) -> Callable[[str], Any]:
    from moprune.validation import Range

    return _typed(int, flag, Range(ge=ge, integer=True))


def _float(flag: str, *, ge: float | None = None, gt: float | None = None,
           le: float | None = None, lt: float | None = None) -> Callable[[str], Any]:
    from moprune.validation import Range

    return _typed(float, flag, Range(ge=ge, gt=gt, le=le, lt=lt))


def _check_run(args: argparse.Namespace, config: Any) -> Path:
    """:func:`moprune.validation.check_run` of a training command. Returns ``--out``."""
    from moprune.validation import check_run

    return check_run(args.out, config.data, config.train.device)


def _load_data(config: Any) -> Any:
    """The data of a run, loaded before its settings are written (a dataset that is not
    there must not leave a run directory behind)."""
    from moprune.data import prepare_data

    return prepare_data(config.data)


def resolve_config(cls: type, args: argparse.Namespace) -> Any:
    """Defaults of ``cls``, overridden by ``--config FILE``, overridden by given flags."""
    from moprune.config import config_from_dict, load_config_file

    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    for key, value in vars(args).items():
        if "." in key or key == "model" or key in _FRONT_KEYS:
            *parents, leaf = key.split(".")
            node = values
            for part in parents:
                if node.get(part) is None:  # absent, or an empty section in the YAML file
                    node[part] = {}
                node = node[part]
            node[leaf] = value
    return config_from_dict(cls, values, where=args.config or "config")


def _cmd_datasets(args: argparse.Namespace) -> int:
    from moprune.data import DATASETS, dataset_status
    from moprune.report import format_table
    from moprune.validation import check_in_dir

    if args.data_root is not None:
        check_in_dir(args.data_root, "--data-root")
    rows = []
    for name in DATASETS.names():
        ok, where = dataset_status(name, root=args.data_root)
        rows.append({"name": name, "available": ok, "where": where})
    rows.append({"name": "imagefolder:<path>", "available": None,
                 "where": "a folder of class subfolders, or with train/ (+ val/, test/) "
                 "inside; missing parts are split off by seed"})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(["dataset", "available", "where / how to get it"],
                           [[r["name"], _yes_no(r["available"]), r["where"]] for r in rows]))
    return 0


def _yes_no(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _cmd_models(args: argparse.Namespace) -> int:
    from moprune.models import MODELS, build_model
    from moprune.models.torchvision_models import torchvision_model_names
    from moprune.report import format_table

    rows = []
    for name in MODELS.names():
        model = build_model(name, in_channels=args.in_channels, num_classes=args.num_classes,
                            image_size=args.image_size)
        doc = (MODELS.get(name).__doc__ or "").strip().splitlines()[0]
        rows.append({"name": name, "parameters": sum(p.numel() for p in model.parameters()),
                     "description": doc})
    tv = torchvision_model_names()
    rows.append({"name": "torchvision:<name>", "parameters": None,
                 "description": f"any of {len(tv)} torchvision classifiers, e.g. "
                                "torchvision:resnet18, torchvision:mobilenet_v2"})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"parameters for {args.in_channels}x{args.image_size}x{args.image_size} inputs, "
              f"{args.num_classes} classes")
        print(format_table(["model", "parameters", "description"],
                           [[r["name"], r["parameters"], r["description"]] for r in rows]))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from moprune.config import RunConfig, config_to_dict
    from moprune.io import write_json
    from moprune.models import build_model, save_model
    from moprune.report import plot_history
    from moprune.rundir import RunDir
    from moprune.training import train

    config: RunConfig = resolve_config(RunConfig, args)
    out = _check_run(args, config)
    run = RunDir(out, config_to_dict(config), may_differ=("train.device",),
                 defaults=config_to_dict(RunConfig()))
    run.check()
    data = _load_data(config)
    model = build_model(config.model, in_channels=data.in_channels,
                        num_classes=data.num_classes, image_size=data.image_size,
                        seed=config.train.seed, **config.model_args)
    run.write()
    result = train(model, data, config.train, checkpoint=out / "checkpoint.pt",
                   evaluate_test=True)
    n_params = sum(p.numel() for p in model.parameters())
    save_model(model, out / "model.pt", meta={"val_acc": result.val_acc,
                                              "test_acc": result.test_acc})
    write_json(out / "results.json", {"model": config.model, "dataset": config.data.dataset,
                                      "parameters": n_params, "splits": data.sizes,
                                      "data_origin": data.origin,
                                      **result.to_dict()})
    if result.history:
        plot_history(result.history, out / "history.png", title=f"{config.model} loss")
    print(f"{config.model} on {config.data.dataset}: val acc {result.val_acc:.4f}, "
          f"test acc {result.test_acc:.4f}, {n_params} parameters, "
          f"{sum(r.seconds for r in result.history):.1f} s training; wrote {out}")
    return 0


def _noise(text: str) -> float | str:
    """``--noise``: ``auto`` or an accuracy in [0, 1)."""
    return "auto" if text == "auto" else _float("--noise", ge=0, lt=1)(text)


_noise.__name__ = "'auto' or an accuracy in [0, 1)"


def _float_list(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


_float_list.__name__ = "comma-separated list of floats"

_FRONT_FLAGS: list[tuple[str, str, Callable[[str], Any] | None, str]] = [
    ("--method", "method", str, "the front method: " + " | ".join(FRONT_METHODS)
     + " (default path)"),
    ("--complexity", "complexity", str, "l1 | group-l1 | flops"),
    ("--scope", "scope", str, "all | dense | conv"),
    ("--tau", "tau", float, "pruning threshold (default 1e-3, none with --prox; 0: off)"),
    ("--freeze-masks", "freeze_masks", None, "pruned weights stay zero"),
    ("--prox", "prox", None, "proximal l1 step: soft-thresholding, exact zeros"),
    ("--finetune", "finetune", int, "debias each point: E epochs, mask frozen, lam 0"),
    ("--knee", "knee", str, "chord | angle | slope: knee retrained for --epochs"),
    ("--knee-axes", "knee_axes", str, "auto | objectives | kept | flops"),
]


def _method_flags() -> list[tuple[str, str, Callable[[str], Any] | None, str, Any, Any]]:
    """The front methods' options as flags (:func:`moprune.front.methods.method_flags`):
    ``(flag, flat key, type, help, choices, range)``; a flag several methods share says
    what it is for each."""
    from moprune.front.methods import method_flags

    types: dict[str, Callable[[str], Any] | None] = {"int": int, "float": float, "str": str,
                                                     "tuple": _float_list, "bool": None}
    out = []
    for entry in method_flags():
        said: dict[tuple[str, Any], list[str]] = {}
        for method, help_, default in entry["per_method"]:
            said.setdefault((help_, default), []).append(method)
        parts = [("" if len(said) == 1 and len(entry["methods"]) > 1 else
                  "/".join(methods) + ": ") + help_ +
                 (f" (default {default})" if default not in (None, False) else "")
                 for (help_, default), methods in said.items()]
        out.append((f"--{entry['flag']}", entry["key"], types.get(entry["type"], str),
                    "; ".join(parts), entry["choices"], entry["range"]))
    return out


_FRONT_KEYS = {key for _, key, _, _ in _FRONT_FLAGS}


def _add_method_flags(p: argparse.ArgumentParser) -> None:
    """The flags of every front method's options (shared flags once), in one group."""
    group = _group(p, "front method options")
    for flag, key, typ, help_, choices, spec in _method_flags():
        _FRONT_KEYS.add(key)
        if typ is None:
            group.add_argument(flag, dest=key, action="store_true", default=argparse.SUPPRESS,
                               help=help_)
        else:
            group.add_argument(flag, dest=key, type=_typed(typ, flag, spec), choices=choices,
                               default=argparse.SUPPRESS, help=help_,
                               metavar=flag.lstrip("-").upper().replace("-", "_"))


_AXES_WORDS = {"objectives": "(f1, f2)", "kept": "(val error, kept)",
               "flops": "(val error, FLOPs)"}


def _cmd_front(args: argparse.Namespace) -> int:
    from moprune.config import config_from_dict, config_to_dict
    from moprune.front.config import FrontConfig
    from moprune.front.runs import finish_front
    from moprune.front.train import check_front, front_from_config
    from moprune.report import front_table
    from moprune.rundir import RunDir

    config: FrontConfig = resolve_config(FrontConfig, args)
    out = _check_run(args, config)
    grows = tuple(f"method.{k}" for k in config.method.may_grow)
    run = RunDir(out, config_to_dict(config), defaults=config_to_dict(FrontConfig()),
                 may_differ=(*grows, "train.device"),
                 normalize=lambda d: config_to_dict(config_from_dict(FrontConfig, d)))
    run.check()
    data = _load_data(config)
    check_front(config, data)
    run.write()
    front = front_from_config(config, data, out=out)
    knee = finish_front(front, out, selector=config.knee,
                        title=f"{config.model} on {config.data.dataset}: "
                              f"{config.method.name}")
    axes = front.meta["knee_axes"]
    nd = front.non_dominated(axes=axes)
    print(front_table(nd))
    runs = "points" if config.method.one_run else "runs"
    counts = ", ".join(f"{n} in {_AXES_WORDS[a]}"
                       for a, n in front.meta["non_dominated_count"].items())
    print(f"{len(front)} {runs}, {len(nd)} non-dominated in {axes} axes ({counts}), "
          f"hypervolume {front.meta['hypervolume']:.4f}; {config.knee} knee: {knee.key} (test acc "
          f"{knee.test_acc:.4f}, kept {knee.kept:.2%}); wrote {out}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from moprune.config import config_from_dict, load_config_file
    from moprune.pipeline import PipelineConfig, default_config_text, run_pipeline

    if args.print_config:
        print(default_config_text(), end="")
        return 0
    if args.config_file is None or args.out is None:
        raise MopruneError("run needs CONFIG and --out RUN_DIR (moprune run --print-config "
                           "prints a config with every default)")
    _quiet_optuna()
    config = config_from_dict(PipelineConfig, load_config_file(args.config_file),
                              where=args.config_file)
    result = run_pipeline(config, args.out)
    k, c, h = result.knee, result.compaction, result.hpo
    print(f"knee {k['key']}: test accuracy {k['test_acc']:.4f}, kept {k['kept']:.2%}"
          + (f", FLOPs {k['flops_share']:.2%}" if k.get("flops_share") is not None else ""))
    print(f"compacted: {c['before']['parameters']:,} -> {c['after']['parameters']:,} "
          f"parameters, {c['before']['flops_per_image']:,} -> "
          f"{c['after']['flops_per_image']:,} FLOPs per image")
    where = "the compacted knee" if h.get("proxy") else config.front.model
    default = (h.get("default") or {}).get("val_acc")
    print(f"tuned on {where}: {config.front.model} gets validation accuracy "
          f"{h['val_acc']:.4f}" + (f" ({default:.4f} with the default hyperparameters)"
                                   if default is not None else ""))
    print("stages: " + ", ".join(f"{s} {v:.0f} s" for s, v in result.seconds.items()))
    from moprune.verdicts import Verdict, summary

    print(f"verdict: {summary(Verdict(**v) for v in result.verdicts)}; wrote "
          f"{result.out}/report.md")
    return 3 if result.degenerate else 0


def _cmd_knee(args: argparse.Namespace) -> int:
    from moprune.front.runs import export_knee, front_config
    from moprune.validation import check_out_file

    run = Path(args.run_dir)
    if args.max_share is not None and args.axes == "objectives":
        raise MopruneError("--max-share bounds a share: use --axes flops or --axes kept")
    knee = export_knee(run, selector=args.selector, axes=args.axes,
                       include_empty=args.include_empty, max_share=args.max_share,
                       floor=args.floor, tolerance=args.tolerance, noise=args.noise,
                       out=check_out_file(args.out, "--out") if args.out else None)
    point, size, out = knee.point, knee.size, knee.path
    print(f"{knee.selector} knee of {run}: {point.key}")
    print(f"  test accuracy {point.test_acc:.4f}, validation accuracy {point.val_acc:.4f}")
    print(f"  sparsity {point.sparsity:.2%} of {point.scope_size} weights in scope "
          f"(kept {point.scope_size - point.zeros})"
          + (f", FLOPs share {point.flops_share:.2%}" if point.flops_share is not None else ""))
    print(f"  parameters {size['parameters']}, nonzero {size['nonzero_parameters']}; "
          f"{size['dense_bytes'] / 1024:.1f} KiB dense, {size['sparse_bytes'] / 1024:.1f} KiB "
          f"as sparse (value, index) pairs")
    print(f"  wrote {out}")
    if args.compact:
        _compact_file(out, None, threshold=None, keep_flops=None, mode="global",
                      data_config=front_config(run).data)
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    from moprune.validation import check_out_file

    source = Path(args.source)
    out = check_out_file(args.out, "--out") if args.out else None
    data_config = None
    if source.is_dir():
        model_file = source / f"knee-{args.selector}.pt"
        if not model_file.exists():
            raise MopruneError(f"no {model_file.name} in {str(source)!r}; run 'moprune knee "
                               f"{source} --selector {args.selector}' first")
        if (source / "config.yaml").exists():
            from moprune.front.runs import front_config

            data_config = front_config(source).data
    elif source.is_file():
        model_file = source
    else:
        raise MopruneError(f"{str(source)!r} is neither a run directory nor a model file")
    _compact_file(model_file, out, threshold=args.threshold,
                  keep_flops=args.keep_flops, mode=args.mode, data_config=data_config)
    return 0


def _compact_file(model_file: Path, out: Path | None, *, threshold: float | None,
                  keep_flops: float | None, mode: str, data_config: Any) -> Path:
    """:func:`moprune.compaction.compact_file`, and its report printed."""
    from moprune.compaction import compact_file
    from moprune.data import prepare_data
    from moprune.report import format_table

    splits = prepare_data(data_config) if data_config is not None else None
    result = compact_file(model_file, out, threshold=threshold, keep_flops=keep_flops,
                          mode=mode, splits=splits)
    before, after, details = result["before"], result["after"], result["details"]
    rows = [[key, before[key], after[key], before[key] / after[key] if after[key] else None]
            for key in ("parameters", "nonzero_parameters", "zero_fraction", "flops_per_image",
                        "train_step_ms", "inference_ms", "test_acc") if key in before]
    print(format_table(["", "before", "after", "before / after"], rows))
    if details.get("kept_live"):
        print(f"kept (zero weights, but a live constant through a bias or batch norm): "
              f"{details['kept_live']}")
    if details.get("unshrinkable"):
        print(f"left whole: {details['unshrinkable']}")
    print(f"timing: batch of {before['batch_size']}, medians; wrote {result['out']}")
    return Path(result["out"])


def _hpo_job(args: argparse.Namespace) -> Any:
    """The resolved run config and study settings of ``moprune hpo`` / ``fidelity`` (the
    job's proxy is set by the caller)."""
    from moprune.config import RunConfig
    from moprune.hpo import HPOJob, StudySettings, load_space

    config: RunConfig = resolve_config(RunConfig, args)
    if not isinstance(config.model, str):
        raise MopruneError("hpo needs a registered model name")
    if args.proxy_tolerance and args.proxy_flops_floor is None:
        raise MopruneError("--proxy-tolerance needs --proxy-flops-floor (0 for none)")
    if args.proxy_flops_floor is not None and not os.path.isdir(args.proxy):
        raise MopruneError(f"--proxy-flops-floor chooses the knee of a front run; --proxy "
                           f"{args.proxy} is not a run directory")
    settings = StudySettings(
        backend=args.backend, sampler=args.sampler or ("ga" if args.backend == "pymoo" else "tpe"),
        pruner=args.pruner, trials=args.trials, seed=config.train.seed, storage=args.storage,
        study=args.study, workers=args.workers, grace=args.grace)
    space = load_space(args.space)
    return config, HPOJob(model=config.model, data=config.data, train=config.train,
                          space=space.to_dict(), settings=settings, out=args.out,
                          objectives=tuple(args.objectives.split(",")),
                          lr_transfer=args.lr_transfer or "none")


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _load_proxy(args: argparse.Namespace, config: Any, splits: Any
                ) -> tuple[dict[str, Any] | None, dict[str, float]]:
    from moprune.hpo.tune import resolve_proxy

    return resolve_proxy(None if args.proxy == "none" else args.proxy, config.model, splits,
                         selector=args.selector, model_args=config.model_args,
                         flops_floor=args.proxy_flops_floor,
                         tolerance=args.proxy_tolerance)


def _cmd_hpo(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from moprune.config import config_to_dict
    from moprune.hpo import check_hpo, run_hpo
    from moprune.hpo.proxy import DEFAULT_RECIPE, auto_proxy, lr_transfer_for
    from moprune.report import format_table
    from moprune.rundir import RunDir

    _quiet_optuna()
    config, job = _hpo_job(args)
    out = _check_run(args, config)
    splits = _load_data(config)
    auto = args.proxy == "auto"
    proxy, creation = (None, {}) if auto else _load_proxy(args, config, splits)
    job = replace(job, proxy=proxy)
    check_hpo(job, splits, top_k=args.top_k, final_epochs=args.final_epochs)
    run = RunDir(out, {
        "run": config_to_dict(config), "space": job.space,
        # the budget and the workers may change on resume; the search itself may not
        "study": {k: v for k, v in asdict(job.settings).items()
                  if k not in ("trials", "workers", "grace")},
        "proxy": {"auto": asdict(DEFAULT_RECIPE)} if auto else proxy,
        "objectives": list(job.objectives), "top_k": args.top_k,
        "final_epochs": args.final_epochs,
        "lr_transfer": args.lr_transfer or ("recipe" if auto else "none")},
        may_differ=("top_k",), legacy=("hpo.json",))
    run.check()
    run.write()
    decision = None
    if auto:  # the recipe's proxy, made here (resumable), when its pay check says so
        proxy, creation, decision = auto_proxy(
            config.model, splits, config.train, out / "proxy", trials=args.trials,
            top_k=args.top_k, final_epochs=args.final_epochs or config.train.epochs,
            model_args=config.model_args)
        job = replace(job, proxy=proxy, lr_transfer=lr_transfer_for(args.lr_transfer, proxy))
    results = run_hpo(job, top_k=args.top_k, final_epochs=args.final_epochs,
                      creation_seconds=creation, splits=splits, decision=decision)
    counts = results["counts"]
    ran = len(results["trials"]) - counts["interrupted"]
    print(f"{ran} trials on {'the proxy' if proxy else config.model}: {counts['complete']} "
          f"complete, {counts['pruned']} pruned, {counts['fail']} failed"
          + (f" ({counts['interrupted']} interrupted by a fault and run again)"
             if counts["interrupted"] else ""))
    rows = [[", ".join(f"{k}={_short(v)}" for k, v in r["params"].items()), r["val_acc"],
             r["test_acc"], r["seconds"]] for r in results["transfer"]]
    print(format_table(["configuration (on the base network)", "val acc", "test acc",
                        "seconds"], rows))
    best = results["best"]
    if best:
        print(f"best: val acc {best['val_acc']:.4f}, test acc {best['test_acc']}")
    t = results["time"]
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items()) + f"; wrote {out}")
    return 0


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from moprune.config import config_to_dict
    from moprune.hpo import SearchSpace, check_hpo, fidelity
    from moprune.rundir import RunDir

    config, job = _hpo_job(args)
    out = _check_run(args, config)
    splits = _load_data(config)
    proxy, _ = _load_proxy(args, config, splits)
    assert proxy is not None  # fidelity's --proxy has no "none"
    check_hpo(replace(job, proxy=proxy), splits, top_k=args.top_k)
    # more configurations or seeds extend a run (its trainings are kept)
    run = RunDir(out, {"run": config_to_dict(config), "space": job.space, "proxy": proxy,
                       "configs": args.configs, "seeds": args.seeds,
                       "lr_transfer": args.lr_transfer or "none",
                       "bootstrap": args.bootstrap},
                 may_differ=("configs", "seeds", "bootstrap"),
                 legacy=("fidelity-settings.json",))
    run.check()
    run.write()
    r = fidelity(proxy, config.model, config.data, config.train,
                 SearchSpace.from_dict(job.space), configs=args.configs, seeds=args.seeds,
                 seed=config.train.seed, top_k=args.top_k,
                 lr_transfer=args.lr_transfer or "none",
                 bootstrap=args.bootstrap, out=out, splits=splits).to_dict()
    ci = r["intervals"]

    def show(key: str) -> str:
        value = r[key]
        if value is None:
            return "undefined (constant scores)"
        interval = f" [{ci[key][0]:.2f}, {ci[key][1]:.2f}]" if ci.get(key) else ""
        return f"{value:.3f}{interval}"

    overlap = r[f"top{r['top_k']}_overlap"]
    print(f"{args.configs} configurations x {args.seeds} seeds (95% bootstrap intervals): "
          f"Spearman rho {show('spearman_rho')}, Kendall tau {show('kendall_tau')}, "
          f"top-{r['top_k']} overlap {overlap:.2f}, regret of the proxy's top-1 "
          f"{show('regret_top1_points')} points, top-3 {show('regret_top3_points')} points; "
          f"proxy {r['seconds']['proxy']:.0f} s, base {r['seconds']['base']:.0f} s; "
          f"wrote {out}")
    return 0


def _add_hpo_flags(p: argparse.ArgumentParser, *, proxy_none: bool = True) -> None:
    from moprune.names import BACKENDS, KNEES, LR_TRANSFERS, PRUNERS

    _add_run_flags(p)
    g = _group(p, "HPO")
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
    g.add_argument("--selector", default="chord", choices=list(KNEES),
                   help="which knee of a front run")
    g.add_argument("--proxy-flops-floor", type=_float("--proxy-flops-floor", ge=0, lt=1),
                   default=None, metavar="SHARE",
                   help="with a front run: its knee in (validation error, FLOPs share) among "
                        "the points keeping at least SHARE of the FLOPs, compacted, not "
                        "retrained")
    g.add_argument("--proxy-tolerance", type=_float("--proxy-tolerance", ge=0, lt=1),
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
    g.add_argument("--top-k", type=_int("--top-k", ge=1), default=3,
                   help="configurations retrained on the base network (default 3)")
    g.add_argument("--backend", choices=list(BACKENDS), default="optuna",
                   help="who proposes the trials: Optuna's samplers, pymoo's algorithms by "
                   "ask and tell, or plain random search (default optuna)")
    g.add_argument("--sampler", default=None, help="optuna: tpe | random | cmaes | gp | qmc | "
                   "nsga2; pymoo: ga | de | nsga2 (default tpe, or ga with pymoo)")
    g.add_argument("--pruner", choices=list(PRUNERS), default="none",
                   help="stop poor trials early by their per-epoch validation accuracy "
                   "(default none)")
    g.add_argument("--trials", type=_int("--trials", ge=1), default=20,
                   help="the study's budget of trials (default 20)")
    g.add_argument("--objectives", default="accuracy",
                   help="accuracy, or accuracy,seconds / accuracy,params (multi-objective)")
    g.add_argument("--storage", metavar="URL", default=None,
                   help="sqlite:///file.db, postgresql://..., or a .journal file (default: "
                        "RUN_DIR/study.journal)")
    g.add_argument("--study", default="moprune", help="study name in the storage")
    g.add_argument("--workers", type=_int("--workers", ge=1), default=1,
                   help="worker processes on this machine")
    g.add_argument("--grace", type=_int("--grace", ge=1), default=60,
                   help="seconds without a heartbeat before a trial is retried (SQL storage)")
    g.add_argument("--final-epochs", type=_int("--final-epochs", ge=1), default=None,
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


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from moprune.config import RunConfig, config_to_dict
    from moprune.hpo import load_space
    from moprune.report import format_table
    from moprune.rundir import RunDir
    from moprune.sensitivity import (
        RERUN_MAY_CHANGE,
        SensitivitySettings,
        check_sensitivity,
        levels_from_text,
        run_sensitivity,
        sensitivity_table,
    )

    _quiet_optuna()
    config: RunConfig = resolve_config(RunConfig, args)
    if not isinstance(config.model, str):
        raise MopruneError("sensitivity needs a registered model name")
    settings = SensitivitySettings(
        params=tuple(args.params.split(",")), levels=levels_from_text(args.levels),
        grid_size=args.grid_size, span=args.span, hpo_trials=args.hpo_trials,
        hpo_sampler=args.sampler, hpo_pruner=args.pruner, prune_mode=args.mode,
        init=args.init, distribution=args.distribution, temperature=args.temperature,
        quantile=args.quantile, retune_points=args.retune_points, seeds=args.seeds,
        bootstrap=args.bootstrap, storage=args.storage, workers=args.workers)
    space = load_space(args.space)
    check_sensitivity(space, settings)
    out = _check_run(args, config)
    run = RunDir(out, {
        "run": config_to_dict(config), "space": space.to_dict(),
        **{k: v for k, v in asdict(settings).items() if k not in ("workers", "storage")}},
        may_differ=RERUN_MAY_CHANGE, legacy=("sensitivity-settings.json",))
    run.check()
    splits = _load_data(config)
    check_sensitivity(space, settings, model=config.model, splits=splits)
    run.write()
    report = run_sensitivity(config.model, config.data, config.train, space, settings, out,
                             splits=splits).to_dict()
    print(f"optimum of {config.model}: " + ", ".join(f"{k}={v:.3g}"
                                                     for k, v in report["optimum"].items()))
    print(format_table(*sensitivity_table(report)))
    seeds = report["seeds"]
    print(f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} per cell ({', '.join(map(str, seeds))}"
          f"; the HPO's is {config.train.seed}); intervals: bootstrap 95%, "
          f"{settings.bootstrap} replicates; softmax temperature "
          f"{report['temperature']['value']:.4f} ({report['temperature']['source']})")
    print(report["answer"]["summary"])
    print(f"wrote {out}/sensitivity.json, landscapes.png, distances.png")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``moprune`` argument parser (exposed for documentation and tests)."""
    from moprune import __version__
    from moprune.names import KNEES

    parser = _Parser(prog="moprune", description="Multiobjective pruning and tuning: train "
                     "Pareto fronts of sparse networks, pick knees, compact them.")
    parser.add_argument("--version", action="version", version=f"moprune {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="the whole pipeline from one YAML file: front, knee, "
                       "compaction, proxy HPO, transfer, report.md (resumes stage by stage)")
    p.add_argument("config_file", metavar="CONFIG", nargs="?",
                   help="YAML: front (model, data, train, the front's settings; without a "
                   "method: the proxy recipe's path) and hpo (trials, epochs, sampler ...); "
                   "examples/ has commented ones")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory")
    p.add_argument("--print-config", action="store_true",
                   help="print a config with every setting at its default, and exit")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("datasets", help="list datasets, whether they are here, and where")
    p.add_argument("--data-root", help="look here first")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("models", help="list the registered models")
    p.add_argument("--in-channels", type=_int("--in-channels", ge=1), default=1)
    p.add_argument("--num-classes", type=_int("--num-classes", ge=1), default=10)
    p.add_argument("--image-size", type=_int("--image-size", ge=1), default=28)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("train", help="train one network (resumes from RUN_DIR)")
    _add_run_flags(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("front", help="train a Pareto front of sparse networks (resumes)")
    _add_run_flags(p)
    _add_flags(p, _FRONT_FLAGS)
    _add_method_flags(p)
    p.set_defaults(func=_cmd_front)

    p = sub.add_parser("knee", help="write the knee model of a front")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by moprune front")
    p.add_argument("--selector", default="chord", choices=list(KNEES))
    p.add_argument("--out", metavar="FILE", help="model file (default RUN_DIR/knee-SELECTOR.pt)")
    p.add_argument("--axes", choices=["objectives", "kept", "flops"], default=None,
                   help="the plane of the knee: (f1, f2), (validation error, kept share) or "
                        "(validation error, FLOPs share); default: the front's knee_axes")
    p.add_argument("--include-empty", action="store_true",
                   help="let the empty network (all weights 0) be a knee candidate")
    p.add_argument("--max-share", type=_float("--max-share", gt=0, le=1), default=None,
                   metavar="SHARE",
                   help="a budget instead of a knee: the most accurate non-dominated point "
                        "keeping at most SHARE of the FLOPs (--axes flops, the default "
                        "here) or of the weights (--axes kept); file knee-max-AXESSHARE.pt")
    p.add_argument("--floor", type=_float("--floor", ge=0, lt=1), default=0.0,
                   metavar="SHARE",
                   help="with --axes kept or flops: the knee of the points keeping at least "
                        "SHARE only (a knee no smaller than that); file "
                        "knee-SELECTOR-floorSHARE.pt")
    p.add_argument("--tolerance", type=_float("--tolerance", ge=0, lt=1), default=0.0,
                   metavar="ACC",
                   help="with --axes kept or flops: the smallest point within ACC of the "
                        "knee's validation accuracy (0.02 = 2 points: differences counted as "
                        "noise); file knee-SELECTOR-tolACC.pt")
    p.add_argument("--noise", type=_noise, default=0.0, metavar="ACC|auto",
                   help="with --max-share: validation accuracy differences up to ACC are "
                        "ties (auto: two standard errors on the validation split), and the "
                        "largest point in the budget within ACC of the most accurate is "
                        "taken; file knee-max-AXESSHARE-noiseACC.pt")
    p.add_argument("--compact", action="store_true",
                   help="also write the knee with its dead channels removed (*-compact.pt)")
    p.set_defaults(func=_cmd_knee)

    p = sub.add_parser("compact", help="remove dead channels (or prune to a FLOPs target)")
    p.add_argument("source", metavar="RUN_DIR|MODEL_FILE",
                   help="a front's run directory (its knee-SELECTOR.pt) or a model file")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--threshold", type=_float("--threshold", ge=0), default=None,
                     help="also remove channels whose group norm is <= T (changes outputs)")
    how.add_argument("--keep-flops", type=_float("--keep-flops", gt=0, le=1), default=None,
                     help="prune structurally by group magnitude to this share of the FLOPs")
    p.add_argument("--mode", choices=["global", "uniform"], default="global",
                   help="with --keep-flops: one ranking over all layers, or the same share each")
    p.add_argument("--selector", default="chord", choices=list(KNEES))
    p.add_argument("--out", metavar="FILE", help="default: SOURCE-compact.pt beside it")
    p.set_defaults(func=_cmd_compact)

    p = sub.add_parser("hpo", help="search hyperparameters on a proxy, transfer to the base "
                       "network (resumes; many workers)")
    _add_hpo_flags(p)
    p.set_defaults(func=_cmd_hpo)

    p = sub.add_parser("fidelity", help="rank agreement of proxy and base network over "
                       "quasi-random configurations")
    _add_hpo_flags(p, proxy_none=False)
    p.add_argument("--configs", type=_int("--configs", ge=3), default=16,
                   help="configurations (default 16)")
    p.add_argument("--seeds", type=_int("--seeds", ge=1), default=1,
                   help="seeds per configuration and network; scores are their means "
                        "(default 1)")
    p.add_argument("--bootstrap", type=_int("--bootstrap", ge=2), default=1000,
                   help="bootstrap replicates of the 95%% intervals (default 1000)")
    p.set_defaults(func=_cmd_fidelity)

    p = sub.add_parser("sensitivity", help="how pruning moves the best hyperparameters "
                       "(resumes; many workers)")
    _add_run_flags(p)
    p.add_argument("--params", default="lr,weight_decay",
                   help="hyperparameters of the grid (log-scaled floats of the space)")
    p.add_argument("--levels", default="0.8,0.6,0.4,0.2",
                   help="kept shares of FLOPs, each in (0, 1]")
    p.add_argument("--grid-size", type=_int("--grid-size", ge=2), default=7,
                   help="values per hyperparameter")
    p.add_argument("--span", type=_float("--span", gt=0), default=1.0,
                   help="decades each side of the optimum")
    p.add_argument("--hpo-trials", type=_int("--hpo-trials", ge=1), default=20,
                   help="trials of the base network's HPO")
    p.add_argument("--sampler", default="tpe", help="sampler of that HPO")
    p.add_argument("--pruner", default="none", help="hyperband: a BOHB-like HPO")
    p.add_argument("--mode", choices=["global", "uniform"], default="global",
                   help="structured pruning: one ranking over all layers, or each layer alike")
    p.add_argument("--init", choices=["scratch", "finetune"], default="scratch",
                   help="grid cells of pruned networks from fresh weights or the pruned ones")
    p.add_argument("--distribution", choices=["softmax", "quantile"], default="softmax")
    p.add_argument("--temperature", type=_float("--temperature", gt=0), default=None,
                   help="softmax temperature on accuracies in [0, 1] (default: the measured "
                   "seed noise, the median per-cell standard deviation between seeds)")
    p.add_argument("--quantile", type=_float("--quantile", gt=0, lt=1), default=0.8,
                   help="quantile distribution: mass on the cells above this quantile")
    p.add_argument("--retune-points", type=_float("--retune-points", ge=0), default=0.5,
                   help="retuning pays when it gains more than this many points")
    p.add_argument("--seeds", type=_int("--seeds", ge=1), default=3,
                   help="seeds per grid cell of every network (default 3; more seeds on a "
                   "finished run train only the new ones)")
    p.add_argument("--bootstrap", type=_int("--bootstrap", ge=100), default=1000,
                   help="bootstrap replicates of every 95%% interval (default 1000)")
    p.add_argument("--space", metavar="FILE", help="YAML search space of the HPO")
    p.add_argument("--storage", metavar="URL", default=None)
    p.add_argument("--workers", type=_int("--workers", ge=1), default=1)
    p.set_defaults(func=_cmd_sensitivity)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopping a command as Ctrl-C does: what is finished stays, and the same
    command resumes."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``moprune`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from moprune.progress import enable_lines

    enable_lines(None if "MOPRUNE_PROGRESS_LINES" not in os.environ else
                 os.environ["MOPRUNE_PROGRESS_LINES"] == "1")
    from moprune.io import WriteError

    signal.signal(signal.SIGTERM, _terminate)  # a clean stop, as Ctrl-C
    try:
        return int(args.func(args))
    except WriteError as e:  # a full disk: not the user's input, nothing partial left
        print(f"moprune: error: {e}", file=sys.stderr)
        return 1
    except MopruneError as e:
        print(f"moprune: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a write outside moprune's own (a library's, a cache's)
        where = f" {e.filename!r}" if e.filename else ""
        print(f"moprune: error: cannot write or read{where}: {e.strerror or e}; run the same "
              "command again to resume once it is fixed", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        print(f"moprune: {what}; run the same command again to resume", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
