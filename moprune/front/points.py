"""Points of a front and the :class:`Front` that holds them."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from moprune.errors import ConfigError, MopruneError
from moprune.io import read_json, write_json
from moprune.names import KNEE_AXES

__all__ = ["AXES", "Front", "Point"]

#: The planes a front can be read in: (f1, f2) as trained, (validation error, share of the
#: weights kept), (validation error, share of the FLOPs kept).
AXES = KNEE_AXES


@dataclass
class Point:
    """One trained network, seen as a point (f1, f2) of the biobjective problem."""

    method: str  # weighted-sum | smgd | magnitude | ...
    f1: float  # cross-entropy on the validation split
    f2: float  # complexity (normalised, see moprune.objectives)
    val_acc: float
    zeros: int  # weights in scope that are exactly 0
    scope_size: int  # weights in scope
    lam: float | None = None  # the weight of f2 (weighted sum)
    test_acc: float | None = None
    test_loss: float | None = None
    epochs: int = 0
    seed: int = 0
    seconds: float = 0.0
    retrained: bool = False  # a knee's weight retrained for the full epochs
    checkpoint: str | None = None  # model file, relative to the front's directory
    tag: str | None = None  # names the point when neither lam nor seed does (e.g. "s0.90")
    flops_share: float | None = None  # FLOPs left once dead channels go (pruning.flops_share)
    finetune_epochs: int = 0  # epochs of debiasing (mask frozen, lam = 0) after training
    raw: dict[str, Any] | None = None  # f1, f2, accuracies before debiasing
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def sparsity(self) -> float:
        """Fraction of the weights in scope that are 0."""
        return self.zeros / self.scope_size if self.scope_size else 0.0

    @property
    def kept(self) -> float:
        """Fraction of the weights in scope that are not 0."""
        return 1.0 - self.sparsity

    @property
    def key(self) -> str:
        """A name unique within a front: method, weight or seed, epochs."""
        what = self.tag or (f"lam{self.lam:.6g}" if self.lam is not None else f"seed{self.seed}")
        return f"{self.method}-{what}-e{self.epochs}"

    def summary(self) -> str:
        """One line: key, weight, validation accuracy, kept share, seconds."""
        lam = "" if self.lam is None else f"lam {self.lam:.6g}, "
        tuned = f", debiased {self.finetune_epochs} ep" if self.finetune_epochs else ""
        secs = f", {self.seconds:.0f} s" if self.seconds else ""
        flops = "" if self.flops_share is None else f", FLOPs {self.flops_share:.2%}"
        return (f"{self.key}: {lam}val acc {self.val_acc:.4f}, kept {self.kept:.2%}{flops}"
                f"{tuned}{secs}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key, "sparsity": self.sparsity, "kept": self.kept}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Point:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


class Front:
    """A set of points with non-dominated filtering, hypervolume, knees, JSON and plots.

    Both objectives are minimised. Non-dominated sorting and hypervolume are pymoo's;
    hypervolume is computed on objectives normalised to [0, 1] by given or own bounds.

    Args:
        points: The points.
        meta: Facts about how they were made (model, dataset, complexity, ...).
        root: The run directory the points' model files are relative to (set by
            ``train_front`` and :meth:`load`); :meth:`model` reads them from there.
        factory: For a user's module: returns a fresh one, to load the points' weights
            into (set by ``train_front``).
    """

    def __init__(self, points: list[Point] | None = None, *, meta: dict[str, Any] | None = None,
                 root: str | os.PathLike[str] | None = None,
                 factory: Callable[[], Any] | None = None) -> None:
        self.points: list[Point] = list(points or [])
        self.meta: dict[str, Any] = dict(meta or {})
        self.root = Path(root) if root is not None else None
        self.factory = factory

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self):
        return iter(self.points)

    def add(self, point: Point) -> None:
        """Add ``point``, replacing one with the same key."""
        self.points = [p for p in self.points if p.key != point.key] + [point]

    def get(self, key: str) -> Point | None:
        return next((p for p in self.points if p.key == key), None)

    def objectives(self, points: list[Point] | None = None, *, axes: str = "objectives"
                   ) -> np.ndarray:
        """``(n, 2)`` array of ``points`` (default: the search points) in ``axes``:
        ``objectives`` (f1, f2), ``kept`` (validation error, kept share) or ``flops``
        (validation error, FLOPs share)."""
        pts = self.search_points if points is None else points
        if axes == "objectives":
            rows = [[p.f1, p.f2] for p in pts]
        elif axes == "kept":
            rows = [[1.0 - p.val_acc, p.kept] for p in pts]
        elif axes == "flops":
            missing = [p.key for p in pts if p.flops_share is None]
            if missing:
                raise MopruneError(f"point {missing[0]} has no FLOPs share (made before "
                                   "moprune measured it); choose the knee in other axes")
            rows = [[1.0 - p.val_acc, float(p.flops_share)] for p in pts]  # type: ignore[arg-type]
        else:
            raise ConfigError(f"axes must be one of {AXES}, got {axes!r}")
        return np.array(rows, dtype=float).reshape(-1, 2)

    @property
    def search_points(self) -> list[Point]:
        """The points of the search (all but the knee retrains, which used more epochs)."""
        return [p for p in self.points if not p.retrained]

    def non_dominated(self, *, axes: str = "objectives", floor: float = 0.0) -> list[Point]:
        """The search points no other dominates in ``axes``, sorted by the first axis (most
        accurate first). With a ``floor`` (axes ``kept`` or ``flops``), among the points
        keeping at least that share only: the front of the constrained problem, where a
        point dominated only by one under the floor is optimal."""
        points = self.search_points
        if not points:
            return []
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        F = self.objectives(points, axes=axes)
        if floor > 0:
            if axes == "objectives":
                raise ConfigError("a floor needs axes 'kept' or 'flops' (a share to bound)")
            above = [i for i in range(len(points)) if F[i, 1] >= floor]
            if not above:
                raise MopruneError(f"no point keeps {floor:.0%} or more of the "
                                   f"{'FLOPs' if axes == 'flops' else 'weights'} (the "
                                   f"largest keeps {F[:, 1].max():.1%})")
            points, F = [points[i] for i in above], F[above]
        idx = NonDominatedSorting().do(F, only_non_dominated_front=True)
        # pymoo keeps exact duplicates; keep one of each
        unique: dict[tuple[float, float], Point] = {}
        for i in idx:
            unique.setdefault((F[i, 0], F[i, 1]), points[i])
        order = {id(p): tuple(F[i]) for i, p in enumerate(points)}
        return sorted(unique.values(), key=lambda p: order[id(p)])

    def bounds(self, *, axes: str = "objectives") -> tuple[np.ndarray, np.ndarray]:
        """Ideal and nadir of the non-dominated points: the normalisation used here."""
        F = self.objectives(self.non_dominated(axes=axes), axes=axes)
        if len(F) == 0:
            raise MopruneError("the front has no points")
        return F.min(axis=0), F.max(axis=0)

    @staticmethod
    def normalize(F: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Map objectives to [0, 1] by ``(F - ideal) / (nadir - ideal)`` (width 0 -> 1)."""
        ideal, nadir = (np.asarray(b, dtype=float) for b in bounds)
        width = np.where(nadir - ideal > 0, nadir - ideal, 1.0)
        return (F - ideal) / width

    def hypervolume(self, *, bounds: tuple[np.ndarray, np.ndarray] | None = None,
                    ref: float = 1.1, axes: str = "objectives") -> float:
        """Hypervolume of the non-dominated points in ``axes``, normalised by ``bounds``
        (default: own), with reference point ``(ref, ref)``. Compare fronts only on the
        same bounds."""
        from pymoo.indicators.hv import HV

        pts = self.non_dominated(axes=axes)
        if not pts:
            return 0.0
        F = self.normalize(self.objectives(pts, axes=axes), bounds or self.bounds(axes=axes))
        return float(HV(ref_point=np.array([ref, ref]))(F))

    def knee(self, selector: str = "chord", *, include_empty: bool = False,
             axes: str = "objectives", supported: bool = True, floor: float = 0.0,
             tolerance: float | str = 0.0) -> Point:
        """The knee of the non-dominated points by a registered selector (see
        :mod:`moprune.front.knee`), on objectives normalised over the candidates.

        Args:
            selector: ``chord``, ``angle`` or ``slope``.
            axes: ``objectives`` (f1, f2), ``kept`` (validation error, kept share) or
                ``flops`` (validation error, FLOPs share).
            supported: Choose among supported points only: those on the lower convex
                hull of the normalised candidates (a point above it is not the optimum
                of any weighted sum, as the design and Reiners et al.'s code require).
            include_empty: Let the empty network (every weight in scope 0: the lam = 1
                extreme, a constant predictor) be a candidate and an extreme of the
                normalisation. By default it is left out: its cross-entropy (ln of the
                number of classes) stretches the f1 axis so far that any loss of fit looks
                cheap, and the knee lands on networks of ~1% of the weights.
            floor: With ``axes`` ``kept`` or ``flops``: only points keeping at least this
                share are candidates (a proxy must not be too small to rank
                configurations); the knee is the bend of the front of those points (a
                point dominated only by one under the floor is on it).
            tolerance: With ``axes`` ``kept`` or ``flops``: accuracy differences up to
                this (a fraction: 0.02 = 2 points) count as noise: the knee is then the
                smallest non-dominated network (above the floor) whose validation error
                is at most ``tolerance`` above the selector's knee's. On a front that is
                flat within its noise, the selector's knee is whichever point the noise
                lifted highest; this takes the smallest network that is as good.
                ``"auto"``: two standard errors of the knee's validation accuracy on this
                front's validation split (:meth:`accuracy_noise`).

        Raises:
            MopruneError: when no point is left (none above the floor).
        """
        from moprune.front.knee import KNEE_SELECTORS, lower_hull

        pts = self.non_dominated(axes=axes, floor=floor)
        if not include_empty and any(p.kept > 0 for p in pts):
            pts = [p for p in pts if p.kept > 0]
        if not pts:
            raise MopruneError("the front has no points")
        if tolerance and (axes == "objectives" or not (
                tolerance == "auto" or (isinstance(tolerance, (int, float))
                                        and 0 <= tolerance < 1))):
            raise ConfigError("a knee tolerance needs axes 'kept' or 'flops' and a share of "
                              f"accuracy in [0, 1) or 'auto', got axes {axes!r}, "
                              f"{tolerance!r}")
        candidates = pts
        F = self.objectives(pts, axes=axes)
        F = self.normalize(F, (F.min(axis=0), F.max(axis=0)))
        if supported:
            hull = lower_hull(F)
            pts, F = [pts[i] for i in hull], F[hull]
        knee = pts[KNEE_SELECTORS.get(selector)().select(F)]
        if tolerance:  # the smallest network as accurate as the knee, within the noise
            margin = (self.accuracy_noise(knee.val_acc) if tolerance == "auto"
                      else float(tolerance))
            size = {id(p): tuple(self.objectives([p], axes=axes)[0][::-1])
                    for p in candidates}
            knee = min((p for p in candidates if p.val_acc >= knee.val_acc - margin),
                       key=lambda p: size[id(p)])
        return knee

    def best_within(self, max_share: float, *, axes: str = "flops",
                    include_empty: bool = False, noise: float | str = 0.0) -> Point:
        """The epsilon-constraint choice: the most accurate non-dominated point (lowest
        validation error) that keeps at most ``max_share`` of the weights (``axes="kept"``)
        or of the FLOPs (``axes="flops"``): a compute or size budget instead of a knee.

        Args:
            noise: Validation accuracy differences up to this count as ties (a fraction,
                or ``"auto"``: two standard errors of the best accuracy in the budget on
                this front's validation split, :meth:`accuracy_noise`). The choice is then
                the largest network in the budget (most FLOPs or weights kept) whose
                validation accuracy is within ``noise`` of the best one's, dominated or
                not: a path point measured later has trained longer, so its raw accuracy
                is lifted against an earlier, larger one, which training to the same
                epochs (debiasing) evens out.

        Raises:
            ConfigError: for ``axes="objectives"``, a share outside (0, 1] or a noise
                outside [0, 1).
            MopruneError: when no non-dominated point is within the budget, or for
                ``noise="auto"`` on a front that does not record its validation split.
        """
        if axes not in ("kept", "flops"):
            raise ConfigError(f"a budget needs axes 'kept' or 'flops', got {axes!r}")
        if not 0 < max_share <= 1:
            raise ConfigError(f"max_share must be in (0, 1], got {max_share}")
        if noise != "auto" and not (isinstance(noise, (int, float)) and 0 <= noise < 1):
            raise ConfigError(f"noise must be 'auto' or an accuracy in [0, 1), got {noise!r}")
        pts = self.non_dominated(axes=axes)
        if not include_empty:
            pts = [p for p in pts if p.kept > 0]
        F = self.objectives(pts, axes=axes)
        within = [i for i in range(len(pts)) if F[i, 1] <= max_share]
        if not within:
            what = "FLOPs" if axes == "flops" else "weights"
            smallest = f" (the smallest keeps {F[:, 1].min():.1%})" if len(F) else ""
            raise MopruneError(f"no non-dominated point keeps at most {max_share:.0%} of the "
                               f"{what}{smallest}")
        best = pts[min(within, key=lambda i: F[i, 0])]
        if not noise:
            return best
        margin = self.accuracy_noise(best.val_acc) if noise == "auto" else float(noise)
        everyone = [p for p in self.search_points if include_empty or p.kept > 0]
        G = self.objectives(everyone, axes=axes)
        ties = [i for i in range(len(everyone))
                if G[i, 1] <= max_share and everyone[i].val_acc >= best.val_acc - margin]
        return everyone[max(ties, key=lambda i: (G[i, 1], -G[i, 0]))]

    def accuracy_noise(self, acc: float) -> float:
        """Two standard errors of a validation accuracy ``acc`` measured on this front's
        validation split: ``2 * sqrt(acc * (1 - acc) / n)``, with ``n`` the split's size
        from ``meta["splits"]["val"]`` (which ``train_front`` records).

        Raises:
            MopruneError: when the front does not record its validation split's size.
        """
        n = (self.meta.get("splits") or {}).get("val")
        if not n:
            raise MopruneError("this front does not record its validation split's size "
                               "(meta['splits']['val']); give the noise as an accuracy")
        return 2.0 * math.sqrt(acc * (1.0 - acc) / n)

    def final_version(self, point: Point) -> Point:
        """The full-epoch retrain of ``point``'s weight (of a path point: of that point,
        by its tag) if the front has one, else ``point``."""
        for p in self.points:
            same = p.tag == point.tag if point.tag else p.lam == point.lam
            if p.retrained and p.method == point.method and same and p.seed == point.seed:
                return p
        return point

    def model(self, point: Point | str, *, factory: Callable[[], Any] | None = None,
              device: str = "cpu") -> Any:
        """The trained network of ``point`` (a point or its key), weights loaded.

        Args:
            factory: For a user's module, a callable returning a fresh one (default: the
                one ``train_front`` was given).

        Raises:
            MopruneError: for an unknown key, a point without a model file, or a front
                whose directory is unknown.
        """
        from moprune.models import load_model

        if isinstance(point, str):
            found = self.get(point)
            if found is None:
                raise MopruneError(f"the front has no point {point!r}")
            point = found
        if point.checkpoint is None:
            raise MopruneError(f"point {point.key} has no model file")
        if self.root is None:
            raise MopruneError("this front does not know its run directory; load it with "
                               "Front.load(RUN_DIR/front.json)")
        return load_model(self.root / point.checkpoint, device=device,
                          factory=factory or self.factory)

    def plot(self, path: str | os.PathLike[str], *, knee: Point | None = None,
             axes: str | None = None, title: str = "") -> Path:
        """Draw the front (objectives, and accuracy against the kept share) to a PNG;
        ``axes`` default: the plane the knee was chosen in."""
        from moprune.report.plots import plot_front

        return plot_front(self, path, knee=knee, title=title,
                          axes=axes or self.meta.get("knee_axes", "objectives"))

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "points": [p.to_dict() for p in self.points],
                "non_dominated": [p.key for p in self.non_dominated()]}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the front as JSON, atomically."""
        return write_json(path, _finite(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Front:
        """Read a front written by :meth:`save`.

        Raises:
            MopruneError: if the file is missing or is not a front.
        """
        if not Path(path).exists():
            raise MopruneError(f"no front at {str(path)!r}")
        try:
            data = read_json(path)
            return cls([Point.from_dict(p) for p in data["points"]], meta=data.get("meta", {}),
                       root=Path(path).parent)
        except FileNotFoundError:
            raise MopruneError(f"no front at {str(path)!r}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise MopruneError(f"{str(path)!r} is not a moprune front ({e})") from None


def _finite(obj: Any) -> Any:
    """NaN and inf to None, so the JSON is standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
