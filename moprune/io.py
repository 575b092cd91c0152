"""Atomic file writes: a result file is either the old one or the complete new one; and
the base of the typed results read from such a file."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from moprune.errors import MopruneError

__all__ = ["JSONResult", "WriteError", "atomic_write", "read_json", "write_failed",
           "write_json", "write_text"]


@dataclass(frozen=True)
class JSONResult:
    """Base of a typed result: its fields, and the whole JSON its run wrote (``raw``)."""

    raw: dict[str, Any] = field(repr=False, default_factory=dict, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The whole JSON content the run wrote."""
        return dict(self.raw)


class WriteError(MopruneError, OSError):
    """A result file could not be written (a full disk, a quota, an I/O error); nothing
    partial is left, and the same command resumes once the cause is gone."""


def write_failed(path: str | os.PathLike[str], error: OSError) -> WriteError:
    """The one-line :class:`WriteError` for ``error`` raised while writing ``path``."""
    reason = error.strerror or str(error) or type(error).__name__
    hint = ("free some space, then run the same command again to resume"
            if error.errno in (errno.ENOSPC, errno.EDQUOT) else
            "run the same command again to resume once it is fixed")
    failed = WriteError(f"cannot write {str(path)!r}: {reason}; {hint}")
    failed.errno = error.errno  # (str() stays the message: no strerror is set)
    return failed


class _Recorded:
    """A file that remembers the OSError its ``write`` raised (torch.save turns one into
    a RuntimeError that no longer says the disk is full)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    The rename is atomic on POSIX, so a reader or a killed process never sees a
    half-written file.

    Raises:
        WriteError: when the file cannot be written (a full disk: one line naming the
            file; the temporary file is removed and ``path`` keeps its old content).
    """
    path = Path(path)
    recorded: _Recorded | None = None
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            recorded = _Recorded(f)
            write(recorded)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        cause = recorded.error if recorded is not None and recorded.error else e
        if isinstance(cause, OSError) and not isinstance(cause, MopruneError):
            raise write_failed(path, cause) from e
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
