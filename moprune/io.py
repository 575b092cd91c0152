"""Atomic file writes: a result file is either the old one or the complete new one; and
the base of the typed results read from such a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["JSONResult", "atomic_write", "read_json", "write_json", "write_text"]


@dataclass(frozen=True)
class JSONResult:
    """Base of a typed result: its fields, and the whole JSON its run wrote (``raw``)."""

    raw: dict[str, Any] = field(repr=False, default_factory=dict, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The whole JSON content the run wrote."""
        return dict(self.raw)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    The rename is atomic on POSIX, so a reader or a killed process never sees a
    half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike[str], *, kind: type | None = dict) -> Any:
    """Read a JSON file moprune wrote.

    Args:
        path: The file.
        kind: The type its top level must have (``None``: any).

    Raises:
        MopruneError: naming the file, when it is missing, unreadable, damaged
            (truncated, not JSON) or of another kind.
    """
    from moprune.errors import MopruneError

    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise MopruneError(f"{str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise MopruneError(f"{str(path)!r} is a directory, not a JSON file") from None
    except OSError as e:
        raise MopruneError(f"cannot read {str(path)!r}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = f" at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise MopruneError(f"{str(path)!r} is damaged (truncated or not JSON{where}); "
                           "delete it or rerun the command that wrote it") from None
    if kind is not None and not isinstance(value, kind):
        raise MopruneError(f"{str(path)!r} is damaged: it holds a {type(value).__name__}, "
                           f"not a {kind.__name__}")
    return value
