"""Where a run directory keeps each file: the one place for their names.

Every command writes a run directory; :class:`RunLayout` names its files, so that the
commands, the library calls that read a run back (a front's knee, a compacted proxy, a
resumed study) and the tests agree on them::

    run = RunLayout("runs/lenet5-front")
    run.front          # runs/lenet5-front/front.json
    run.knee("chord")  # runs/lenet5-front/knee-chord.pt
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunLayout", "compacted_file"]


def compacted_file(model_file: str | os.PathLike[str]) -> Path:
    """Where a model file's compacted network goes by default: ``NAME-compact.pt`` beside
    it (its report: the same name with ``.json``)."""
    path = Path(model_file)
    return path.with_name(f"{path.stem}-compact.pt")


@dataclass(frozen=True)
class RunLayout:
    """The files of the run directory ``root``."""

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    # every command
    @property
    def config(self) -> Path:
        """The resolved settings (the resume guard compares them)."""
        return self.root / "config.yaml"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    # moprune train
    @property
    def model(self) -> Path:
        return self.root / "model.pt"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pt"

    @property
    def history_plot(self) -> Path:
        return self.root / "history.png"

    # moprune front / knee / compact
    @property
    def front(self) -> Path:
        return self.root / "front.json"

    @property
    def front_plot(self) -> Path:
        return self.root / "front.png"

    def knee(self, selector: str) -> Path:
        """The knee's model file (``moprune knee``)."""
        return self.root / f"knee-{selector}.pt"

    def knee_compact(self, selector: str) -> Path:
        """The knee made physically small (``moprune knee --compact``, ``moprune run``)."""
        return compacted_file(self.knee(selector))

    def knee_flops_compact(self, selector: str, floor: float,
                           tolerance: float | str = 0.0) -> Path:
        """The compacted knee above a FLOPs floor (a proxy chosen by ``moprune hpo``;
        ``tolerance`` a number or ``auto``)."""
        tol = f"-tol{tolerance}" if tolerance == "auto" else (
            f"-tol{tolerance:g}" if tolerance else "")
        return self.root / f"knee-{selector}-flops{floor:g}{tol}-compact.pt"

    def point(self, key: str) -> Path:
        """A front point's folder (its ``model.pt``, ``point.json``, checkpoints)."""
        return self.root / "points" / key

    @property
    def path_state(self) -> Path:
        """The continuation path's resumable state."""
        return self.root / "path" / "state.pt"

    # moprune hpo / run
    @property
    def study_journal(self) -> Path:
        """The study's default storage (an Optuna journal)."""
        return self.root / "study.journal"

    @property
    def proxy(self) -> Path:
        """Where ``--proxy auto`` makes the recipe's proxy."""
        return self.root / "proxy"

    @property
    def report(self) -> Path:
        """``moprune run``'s report."""
        return self.root / "report.md"

    def stage(self, name: str) -> Path:
        """A stage's own run directory inside a pipeline's (``front``, ``hpo``)."""
        return self.root / name
