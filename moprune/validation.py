"""Checks of user input that run before any work: numeric ranges, paths and devices.

Every setting's range is declared once, on its dataclass field (:func:`bounded`), and
checked by :func:`check_ranges`; every path a command reads or writes is checked by one of
the ``check_*`` functions here, and the device by :func:`check_device`, so that a bad
value is one line naming the flag and the value before a dataset loads, CUDA initialises
or a file is written.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moprune.errors import ConfigError

__all__ = [
    "Range",
    "bounded",
    "check_device",
    "check_in_dir",
    "check_in_file",
    "check_out_dir",
    "check_out_file",
    "check_range",
    "check_ranges",
    "check_run",
]


@dataclass(frozen=True)
class Range:
    """Allowed values of a number: bounds (``ge``/``gt``/``le``/``lt``), integer or not,
    ``None`` allowed or not."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        parts = [f"{op} {v:g}" for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le),
                                             ("<", self.lt)) if v is not None]
        kind = "an integer" if self.integer else "a number"
        return f"{kind} {' and '.join(parts)}".strip()

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))


def bounded(default: Any, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, integer: bool | None = None,
            optional: bool | None = None) -> Any:
    """A dataclass field whose value must lie in a range (checked by :func:`check_ranges`).

    ``integer`` defaults to the default's type, ``optional`` (``None`` allowed) to whether
    the default is ``None``.
    """
    spec = Range(ge=ge, gt=gt, le=le, lt=lt,
                 integer=isinstance(default, int) if integer is None else integer,
                 optional=default is None if optional is None else optional)
    return field(default=default, metadata={"range": spec})


def check_range(name: str, value: Any, spec: Range) -> None:
    """Raise :class:`ConfigError` naming ``name`` and ``value`` when ``value`` is out of
    ``spec``."""
    if not spec.ok(value):
        raise ConfigError(f"{name} must be {spec.describe()}, got {value!r}")


def check_ranges(obj: Any) -> None:
    """Check every :func:`bounded` field of the dataclass instance ``obj``."""
    for f in dataclasses.fields(obj):
        spec = f.metadata.get("range")
        if spec is not None:
            check_range(f.name, getattr(obj, f.name), spec)


# -- paths -------------------------------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists() or parent.is_symlink():
            return parent
    return Path(".")  # pragma: no cover - a relative path's parents end at "."


def _check_creatable(path: Path, flag: str, value: str, what: str) -> None:
    """``path`` (absent) can be created: its nearest existing ancestor is a writable
    directory."""
    ancestor = _existing_ancestor(path.parent)
    if not ancestor.is_dir():
        raise ConfigError(f"{flag} {value!r} lies under {str(ancestor)!r}, which is a file, "
                          f"not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {value!r}: cannot create the {what} there ({str(ancestor)!r} "
                          "is not writable)")


def check_out_dir(value: str | os.PathLike[str], flag: str = "--out") -> Path:
    """A directory the command writes into: absent (and creatable) or a writable
    directory; not a file, not under a file."""
    text = str(value)
    if not text.strip():
        raise ConfigError(f"{flag} is empty; give a directory")
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{flag} {text!r} is a file, not a directory; give a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {text!r} is not writable")
        return path
    if path.is_symlink():
        raise ConfigError(f"{flag} {text!r} is a broken symbolic link")
    _check_creatable(path, flag, text, "directory")
    return path


def check_out_file(value: str | os.PathLike[str], flag: str = "--out") -> Path:
    """A file the command writes (replacing an old one): not a directory, in a
    directory that exists or can be created and is writable."""
    text = str(value)
    if not text.strip():
        raise ConfigError(f"{flag} is empty; give a file name")
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"{flag} {text!r} is a directory; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {text!r} is not writable")
    parent = path.parent
    if parent.exists():
        if not parent.is_dir():
            raise ConfigError(f"{flag} {text!r} lies under {str(parent)!r}, which is a file")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {text!r}: its directory is not writable")
    else:
        _check_creatable(parent, flag, text, "file")
    return path


def check_in_dir(value: str | os.PathLike[str], flag: str) -> Path:
    """A directory the command reads: exists and is a directory."""
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{flag} {str(value)!r} does not exist")
    if not path.is_dir():
        raise ConfigError(f"{flag} {str(value)!r} is a file, not a directory")
    return path


def check_in_file(value: str | os.PathLike[str], flag: str) -> Path:
    """A file the command reads: exists and is a file."""
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{flag} {str(value)!r} does not exist")
    if path.is_dir():
        raise ConfigError(f"{flag} {str(value)!r} is a directory, not a file")
    return path


# -- devices -----------------------------------------------------------------------------

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(spec: str, *, available: bool = True, flag: str = "--device") -> str:
    """Check a device string: its syntax (``auto | cpu | mps | cuda | cuda:N``) and, with
    ``available``, that the machine has it. Returns ``spec``."""
    if not isinstance(spec, str) or not _DEVICE.match(spec):
        raise ConfigError(f"{flag} must be auto, cpu, cuda or cuda:N, got {spec!r}")
    if not available or spec in ("auto", "cpu"):
        return spec
    import torch

    if spec == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ConfigError(f"{flag} mps: this machine has no MPS device")
        return spec
    if not torch.cuda.is_available():
        raise ConfigError(f"{flag} {spec}: this machine has no CUDA GPU; use --device cpu "
                          "or auto")
    index = int(spec.split(":")[1]) if ":" in spec else 0
    if index >= torch.cuda.device_count():
        raise ConfigError(f"{flag} {spec}: this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    return spec


def check_run(out: str | os.PathLike[str], data: Any, device: str) -> Path:
    """Check what a training run will use, before any work: ``out`` (a writable run
    directory), ``data.data_root`` and an image folder (existing directories; a root may
    be created with ``data.download``), and that ``device`` exists here. ``data`` is a
    :class:`moprune.config.DataConfig`. Returns ``out`` as a path.

    Raises:
        ConfigError: naming the flag and the value.
    """
    path = check_out_dir(out, "--out")
    if data.data_root is not None:  # with --download, torchvision may create it
        (check_out_dir if data.download else check_in_dir)(data.data_root, "--data-root")
    if data.dataset.lower().startswith("imagefolder:"):
        check_in_dir(data.dataset.split(":", 1)[1], "--dataset imagefolder:")
    check_device(device)
    return path
