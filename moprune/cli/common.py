"""What every command of the command line shares: the one-line-error parser, the flags
of a run (model, data, training) taken from the config dataclasses' fields (their
defaults and ranges), and the config a command resolves from ``--config`` and its flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

__all__ = [
    "Parser",
    "add_flags",
    "add_run_flags",
    "float_list",
    "group",
    "integer",
    "number",
    "quiet_optuna",
    "resolve_config",
    "short",
    "typed",
]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


# Flags shared by the commands that train: (flag, config key, type, help).
# Defaults are SUPPRESSed so only the flags a user gives override the config file.
RUN_FLAGS: list[tuple[str, str, Callable[[str], Any] | None, str]] = [
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


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``--config``, ``--out`` and the flags of a run (model, data, training)."""
    p.add_argument("--config", metavar="FILE", help="YAML file of settings; flags override it")
    p.add_argument("--out", metavar="RUN_DIR", required=True, help="run directory to write")
    add_flags(p, RUN_FLAGS)


def group(p: argparse.ArgumentParser, title: str) -> Any:
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


def add_flags(p: argparse.ArgumentParser,
              flags: list[tuple[str, str, Callable[[str], Any] | None, str]]) -> None:
    for flag, key, typ, help_ in flags:
        section = group(p, _topic(key))
        default = _flag_default(key)
        shown = "" if "default" in help_ or default in (None, False) else \
            f" (default {default})"
        if typ is None:
            section.add_argument(flag, dest=key, action="store_true",
                                 default=argparse.SUPPRESS, help=help_ + shown)
        else:
            section.add_argument(flag, dest=key, type=typed(typ, flag, _flag_range(key)),
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


def typed(typ: Callable[[str], Any], flag: str, spec: Any = None) -> Callable[[str], Any]:
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


def integer(flag: str, *, ge: float) -> Callable[[str], Any]:
    from moprune.validation import Range

    return typed(int, flag, Range(ge=ge, integer=True))


def number(flag: str, *, ge: float | None = None, gt: float | None = None,
           le: float | None = None, lt: float | None = None) -> Callable[[str], Any]:
    from moprune.validation import Range

    return typed(float, flag, Range(ge=ge, gt=gt, le=le, lt=lt))


def resolve_config(cls: type, args: argparse.Namespace, flat: Iterable[str] = ()) -> Any:
    """Defaults of ``cls``, overridden by ``--config FILE``, overridden by given flags
    (dotted keys into their sections; ``model`` and the keys in ``flat`` at the top)."""
    from moprune.config import config_from_dict, load_config_file

    top = {"model", *flat}
    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    for key, value in vars(args).items():
        if "." in key or key in top:
            *parents, leaf = key.split(".")
            node = values
            for part in parents:
                if node.get(part) is None:  # absent, or an empty section in the YAML file
                    node[part] = {}
                node = node[part]
            node[leaf] = value
    return config_from_dict(cls, values, where=args.config or "config")


def float_list(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


float_list.__name__ = "comma-separated list of floats"


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
