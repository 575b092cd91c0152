"""The ``moprune`` command line: thin subcommands over the library API.

Every command that trains writes a run directory holding ``config.yaml`` (the resolved
settings), results as JSON, plots as PNG, and models as ``*.pt`` files that load with
``torch.load(weights_only=True)``. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from moprune.errors import MopruneError

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
    for flag, key, typ, help_ in _RUN_FLAGS:
        if typ is None:
            p.add_argument(flag, dest=key, action="store_true", default=argparse.SUPPRESS,
                           help=help_)
        else:
            p.add_argument(flag, dest=key, type=_typed(typ, flag), default=argparse.SUPPRESS,
                           help=help_)


def _typed(typ: Callable[[str], Any], flag: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return typ(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes a {typ.__name__}, got {text!r}"
                                             ) from None
    convert.__name__ = typ.__name__
    return convert


def resolve_config(cls: type, args: argparse.Namespace) -> Any:
    """Defaults of ``cls``, overridden by ``--config FILE``, overridden by given flags."""
    from moprune.config import config_from_dict, load_config_file

    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    for key, value in vars(args).items():
        if "." in key or key in ("model",):
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

    rows = []
    for name in DATASETS.names():
        ok, where = dataset_status(name, root=args.data_root)
        rows.append({"name": name, "available": ok, "where": where})
    rows.append({"name": "imagefolder:<path>", "available": None,
                 "where": "any folder of class subfolders (train/ and val/ or test/ inside)"})
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
    from moprune.config import RunConfig, dump_config
    from moprune.data import prepare_data
    from moprune.io import write_json
    from moprune.models import build_model, save_model
    from moprune.report import plot_history
    from moprune.training import train

    config: RunConfig = resolve_config(RunConfig, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    data = prepare_data(config.data)
    model = build_model(config.model, in_channels=data.in_channels,
                        num_classes=data.num_classes, image_size=data.image_size,
                        seed=config.train.seed, **config.model_args)
    result = train(model, data, config.train, checkpoint=out / "checkpoint.pt",
                   evaluate_test=True)
    n_params = sum(p.numel() for p in model.parameters())
    save_model(model, out / "model.pt", meta={"val_acc": result.val_acc,
                                              "test_acc": result.test_acc})
    write_json(out / "results.json", {"model": config.model, "dataset": config.data.dataset,
                                      "parameters": n_params, "splits": data.sizes,
                                      **result.to_dict()})
    if result.history:
        plot_history(result.history, out / "history.png", title=f"{config.model} loss")
    print(f"{config.model} on {config.data.dataset}: val acc {result.val_acc:.4f}, "
          f"test acc {result.test_acc:.4f}, {n_params} parameters, "
          f"{sum(r.seconds for r in result.history):.1f} s training; wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``moprune`` argument parser (exposed for documentation and tests)."""
    from moprune import __version__

    parser = _Parser(prog="moprune", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"moprune {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("datasets", help="list datasets, whether they are here, and where")
    p.add_argument("--data-root", help="look here first")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("models", help="list the registered models")
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--image-size", type=int, default=28)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("train", help="train one network (resumes from RUN_DIR)")
    _add_run_flags(p)
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``moprune`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MopruneError as e:
        print(f"moprune: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("moprune: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
