"""What a front method is handed: the network's factory, the data, the training settings, and
run, which trains one point and adds it to the front."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from moprune.layout import RunLayout

if TYPE_CHECKING:
    from torch import nn

    from moprune.config import TrainConfig
    from moprune.data import DataSplits
    from moprune.front.points import Front, Point
    from moprune.solvers import Solver

__all__ = ["FrontJob"]


@dataclass
class FrontJob:
    """What a :class:`FrontMethod` needs to train a front.

    ``run(solver, seed, epochs)`` trains one point (read back when it is done already),
    adds it to ``front`` and saves the front; ``solver(name, **kw)`` builds a registered
    solver with the front's f2 and pruning settings.
    """

    factory: Callable[[], nn.Module]
    splits: DataSplits
    train: TrainConfig  # with the front's epochs and seed
    front: Front
    out: pathlib.Path
    solver_options: dict[str, Any]  # complexity, scope, tau, freeze_masks
    prox: bool = False
    finetune: int = 0
    knee: str | None = "chord"
    axes: str = "objectives"
    progress: bool | None = None

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def epochs(self) -> int:
        return self.train.epochs

    def solver(self, name: str, **kwargs: Any) -> Solver:
        """The registered solver ``name`` with the front's f2 objective and pruning."""
        from moprune.solvers import SOLVERS

        return SOLVERS.get(name)(**kwargs, **self.solver_options)

    def run(self, solver: Solver, seed: int, epochs: int, *, retrained: bool = False
            ) -> Point:
        """Train one point (:func:`~moprune.front.measure.train_point`), add it to the front
        and save the front."""
        from moprune.front.measure import train_point

        config = replace(self.train, epochs=epochs, seed=seed)
        point = train_point(self.factory, self.splits, config, solver, out_dir=self.out,
                            retrained=retrained, progress=self.progress)
        self.front.add(point)
        self.front.save(RunLayout(self.out).front)
        return point
