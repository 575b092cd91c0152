"""Progress lines for logs: one concise line per finished unit of work.

On a terminal, training shows tqdm bars. Written to a log (stderr not a terminal), bars
would be noise, and a silent ten-minute front looks dead; so the CLI turns on progress
lines instead: one line per finished front point, HPO trial, grid cell, or every few
epochs of a training, on stderr, through the ``moprune`` logger (as Optuna logs its
trials). Worker processes inherit the setting through the environment.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

__all__ = ["announce", "bar", "enable_lines", "lines_enabled", "notice", "progress_line"]

_ENV = "MOPRUNE_PROGRESS_LINES"
_logger = logging.getLogger("moprune")


def enable_lines(enabled: bool | None = None) -> bool:
    """Turn progress lines on (``None``: on when stderr is not a terminal), for this
    process and the workers it starts. Returns whether they are on."""
    if enabled is None:
        enabled = not sys.stderr.isatty()
    os.environ[_ENV] = "1" if enabled else "0"
    return enabled


def lines_enabled() -> bool:
    """Whether progress lines are on."""
    return os.environ.get(_ENV) == "1"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stderr`` (which tests and tools may replace)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def progress_line(message: str) -> None:
    """Log one progress line (when :func:`enable_lines` turned them on)."""
    if not lines_enabled():
        return
    if not _logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("[moprune %(asctime)s] %(message)s",
                                               datefmt="%H:%M:%S"))
        _logger.addHandler(handler)
        _logger.setLevel(logging.INFO)
        _logger.propagate = False
    _logger.info(message)


def notice(message: str) -> None:
    """One line on stderr that the user must see whatever the progress setting: a fault
    the run survived (``moprune: warning: ...``)."""
    print(f"moprune: warning: {message}", file=sys.stderr, flush=True)


def announce(message: str) -> None:
    """One line on stderr that the user should read whatever the progress setting (a
    decision a stage took, a check's result): ``moprune: ...``."""
    print(f"moprune: {message}", file=sys.stderr, flush=True)


def bar(total: int, *, desc: str, unit: str, initial: int = 0,
        enabled: bool | None = None) -> Any:
    """A tqdm progress bar over ``total`` units of a long stage (a path's steps, a study's
    trials), shown on a terminal (``enabled`` None) unless progress lines are on; a bar
    that is not shown costs nothing."""
    from tqdm.auto import tqdm

    disable = (not enabled) if enabled is not None else (lines_enabled()
                                                         or not sys.stderr.isatty())
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False,
                disable=disable, dynamic_ncols=True)
