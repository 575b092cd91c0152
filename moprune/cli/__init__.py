"""The ``moprune`` command line: one module per command, each parsing its flags, making
one library call (:mod:`moprune.runs`, :func:`moprune.pipeline.run_pipeline`) and
printing what it made.

Every command that trains writes a run directory holding ``config.yaml`` (the resolved
settings), results as JSON, plots as PNG, and models as ``*.pt`` files that load with
``torch.load(weights_only=True)``. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from moprune.cli import (
    compact,
    fidelity,
    front,
    hpo,
    knee,
    listing,
    run,
    sensitivity,
    train,
)
from moprune.cli.common import Parser, resolve_config
from moprune.errors import MopruneError

__all__ = ["build_parser", "main", "resolve_config"]

#: The commands in the order ``moprune --help`` lists them.
COMMANDS = (run, listing, train, front, knee, compact, hpo, fidelity, sensitivity)


def build_parser() -> Parser:
    """The ``moprune`` argument parser (exposed for documentation and tests)."""
    from moprune import __version__

    parser = Parser(prog="moprune", description="Multiobjective pruning and tuning: train "
                    "Pareto fronts of sparse networks, pick knees, compact them.")
    parser.add_argument("--version", action="version", version=f"moprune {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add(sub)
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


