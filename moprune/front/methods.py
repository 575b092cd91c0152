"""How a front is trained: method objects with their own options, found by name.

A method is a frozen dataclass whose fields are its options::

    train_front("lenet5", data, method=Path(points=30, corrector="channel"))
    train_front("lenet5", data, method=Dichotomic(budget=16, explore_epochs=2))

:data:`FRONT_METHODS` finds a method class by name, for YAML configs (``method: {name:
path, points: 30}``) and the command line, whose flags are derived from the fields: an
option is declared once, by :func:`option`. ``train_front`` hands the method a
:class:`FrontJob` (the network's factory, the data, the training settings, and
``job.run``, which trains one point and adds it to the front). A new method is one class,
one registration and a test::

    @FRONT_METHODS.register("ends-only")
    @dataclass(frozen=True)
    class EndsOnly(FrontMethod):
        middle: float = option(0.5, flag="ends-middle", help="the weight between", gt=0, lt=1)

        def run(self, job: FrontJob) -> None:
            for lam in (0.0, self.middle, 1.0):
                job.run(job.solver("weighted-sum", lam=lam), job.seed, job.epochs)

This module imports neither torch nor numpy (the command line builds its flags from it);
a method's ``run`` imports what it trains with.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from moprune.errors import ConfigError
from moprune.names import PATH_CORRECTORS, PATH_DISTANCES, SMGD_NORMALIZATIONS, SMGD_VARIANTS
from moprune.registry import Registry
from moprune.validation import Range, check_range

if TYPE_CHECKING:
    from moprune.front.job import FrontJob
    from moprune.front.points import Point

__all__ = [
    "FRONT_METHODS",
    "SMGD",
    "Bisection",
    "Dichotomic",
    "FrontMethod",
    "Grid",
    "Path",
    "WeightSearchMethod",
    "method_flags",
    "method_from_config",
    "option",
]


def option(default: Any, *, flag: str, help: str, choices: tuple[str, ...] | None = None,
           ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None, integer: bool | None = None) -> Any:
    """A method's option: a dataclass field with its command-line flag (``--FLAG``, also
    its flat key in older YAML files: ``flag`` with underscores), its help, and its allowed
    values (``choices`` or a numeric range), checked when the method is made."""
    metadata: dict[str, Any] = {"flag": flag, "help": help, "choices": choices}
    if any(v is not None for v in (ge, gt, le, lt)):
        metadata["range"] = Range(ge=ge, gt=gt, le=le, lt=lt,
                                  integer=isinstance(default, int) if integer is None
                                  else integer, optional=default is None)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class FrontMethod(ABC):
    """Base class of the ways to train a front; its dataclass fields are its options
    (declared with :func:`option`), checked when it is made.

    Attributes:
        one_run: The method is one run of the front's epochs; its knee is chosen in
            (validation error, kept share) by default.
        takes_prox: The method takes f2 by a proximal step when asked (``prox=True``).
        may_grow: Options a resumed front may change (its budget: more points).
    """

    one_run: ClassVar[bool] = False
    takes_prox: ClassVar[bool] = True
    may_grow: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), f.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ConfigError(f"{f.name} of the {self.name} method must be one of "
                                  f"{tuple(choices)}, got {value!r}")
            spec = f.metadata.get("range")
            if spec is not None:
                check_range(f"{f.name} of the {self.name} method", value, spec)

    @property
    def name(self) -> str:
        """The name the method is registered under."""
        return FRONT_METHODS.name_of(type(self))

    @property
    def runs(self) -> int:
        """How many runs (or, for a one-run method, points) it aims at, for the record."""
        return 1

    def check(self, *, epochs: int, complexity: str, prox: bool, tau: float | None) -> None:
        """Refuse settings of the front this method cannot take (one line)."""
        if prox and not self.takes_prox:
            raise ConfigError(f"prox is for the weighted sum and the path, not for "
                              f"{self.name}")

    def tau(self, tau: float | None, prox: bool) -> float | None:
        """The pruning threshold the method's solvers take (``tau`` given or its default)."""
        return (None if prox else 1e-3) if tau is None else tau

    def knee_total_epochs(self) -> int | None:
        """Epochs in all to debias the knee to after the run (None: the knee as it is)."""
        return None

    def meta(self) -> dict[str, Any]:
        """What ``front.json`` records of the method (its resume guard compares it)."""
        fixed = {k: v for k, v in self.to_config().items() if k not in self.may_grow}
        return {"method": self.name, "budget": self.runs, "method_options": fixed}

    def to_config(self) -> dict[str, Any]:
        """The method as a YAML mapping: ``{"name": ..., **options}`` (plain values)."""
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v
                                      for k, v in dataclasses.asdict(self).items()}}

    @abstractmethod
    def run(self, job: FrontJob) -> None:
        """Train the front's points into ``job.front`` (through ``job.run`` or directly)."""


FRONT_METHODS: Registry[type[FrontMethod]] = Registry("front method")


@dataclass(frozen=True)
class WeightSearchMethod(FrontMethod):
    """A weighted-sum front: a weight search (:data:`~moprune.front.search.WEIGHT_SEARCHES`)
    trains one network per weight with the ``weighted-sum`` solver; with ``explore_epochs``
    below the front's epochs (and no debiasing), the knee's weight is then retrained for
    the full epochs."""

    search: ClassVar[str]
    may_grow = ("budget",)
    budget: int = option(8, flag="budget", help="training runs of the search", ge=2)
    explore_epochs: int | None = option(None, flag="explore-epochs", ge=1, integer=True,
                                        help="epochs of the search's runs (default: all)")

    @property
    def runs(self) -> int:
        return self.budget

    def check(self, *, epochs: int, complexity: str, prox: bool, tau: float | None) -> None:
        super().check(epochs=epochs, complexity=complexity, prox=prox, tau=tau)
        if self.explore_epochs is not None and self.explore_epochs > epochs:
            raise ConfigError(f"explore_epochs must be <= train.epochs ({epochs}), got "
                              f"{self.explore_epochs}")

    def meta(self) -> dict[str, Any]:
        explore = {} if self.explore_epochs is None else {"explore_epochs": self.explore_epochs}
        return {**super().meta(), **explore}

    def make_search(self) -> Any:
        from moprune.front.search import WEIGHT_SEARCHES

        return WEIGHT_SEARCHES.get(self.search)()

    def run(self, job: FrontJob) -> None:
        explore = self.explore_epochs or job.epochs

        def evaluate(lam: float) -> Point:
            return job.run(job.solver("weighted-sum", lam=lam, prox=job.prox), job.seed,
                           explore)

        self.make_search().run(evaluate, budget=self.budget)
        if job.knee is not None and explore < job.epochs and not job.finetune:
            chosen = job.front.knee(job.knee, axes=job.axes)
            if chosen.lam is not None:
                job.run(job.solver("weighted-sum", lam=chosen.lam, prox=job.prox), job.seed,
                        job.epochs, retrained=True)


@FRONT_METHODS.register("dichotomic")
@dataclass(frozen=True)
class Dichotomic(WeightSearchMethod):
    """Adaptive weights: the next weight is the normal of the widest gap of the front."""

    search = "dichotomic"


@FRONT_METHODS.register("grid")
@dataclass(frozen=True)
class Grid(WeightSearchMethod):
    """The weights ``lams`` (or :func:`~moprune.front.search.default_grid` of ``budget``)."""

    search = "grid"
    lams: tuple[float, ...] | None = option(None, flag="lams",
                                            help="grid weights, e.g. 0,0.9,0.99,1")

    def __post_init__(self) -> None:
        if self.lams is not None:
            lams = tuple(self.lams)
            if not lams or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   and 0 <= v <= 1 for v in lams):
                raise ConfigError(f"lams must be weights in [0, 1], got {list(lams)!r}")
            object.__setattr__(self, "lams", lams)
        super().__post_init__()

    def make_search(self) -> Any:
        from moprune.front.search import GridSearch

        return GridSearch(None if self.lams is None else list(self.lams))


@FRONT_METHODS.register("bisection")
@dataclass(frozen=True)
class Bisection(WeightSearchMethod):
    """The mean of the two neighbouring weights whose points lie farthest apart."""

    search = "bisection"


@FRONT_METHODS.register("smgd")
@dataclass(frozen=True)
class SMGD(FrontMethod):
    """``runs`` SMGD runs (no weight given) with seeds ``seed``, ``seed + 1``, ...
    (:class:`~moprune.solvers.SMGDSolver`)."""

    takes_prox = False
    may_grow = ("budget",)
    budget: int = option(8, flag="budget", help="SMGD runs (seeds seed, seed+1, ...)", ge=1)
    variant: str = option("sgd", flag="smgd-variant", choices=SMGD_VARIANTS,
                          help=" | ".join(SMGD_VARIANTS))
    normalize: str = option("none", flag="smgd-normalize", choices=SMGD_NORMALIZATIONS,
                            help=" | ".join(SMGD_NORMALIZATIONS) + " (before min-norm)")

    @property
    def runs(self) -> int:
        return self.budget

    def meta(self) -> dict[str, Any]:
        return {**super().meta(), "smgd_variant": self.variant,
                "smgd_normalize": self.normalize}

    def run(self, job: FrontJob) -> None:
        for i in range(self.budget):
            job.run(job.solver("smgd", variant=self.variant, normalize=self.normalize),
                    job.seed + i, job.epochs)


@FRONT_METHODS.register("path")
@dataclass(frozen=True)
class Path(FrontMethod):
    """The continuation path (:func:`moprune.front.path.train_path`): one warm-started run
    that raises the weight step by step and records a point after every corrector."""

    one_run = True
    may_grow = ("points", "knee_epochs")
    points: int = option(30, flag="budget", ge=1, help="points the path aims at")
    warmup: float | None = option(None, flag="path-warmup", ge=0, integer=False,
                                  help="epochs at lam 0 first (default epochs/4)")
    max_drop: float = option(0.1, flag="path-max-drop", gt=0, le=1,
                             help="stop this far below the dense accuracy")
    start_lam: float = option(0.5, flag="path-start-lam", gt=0, lt=1,
                              help="the first weight of f2 after the dense point (magnitude: "
                              "share of weights cut; channel: of FLOPs)")
    corrector: str = option("l1", flag="path-corrector",
                            help=" | ".join(PATH_CORRECTORS) + " (l1: raise lam; magnitude: "
                            "cut the smallest weights, train f1; channel: cut the weakest "
                            "whole channels along the FLOPs, train f1)")
    distance: str = option("change", flag="path-distance", choices=PATH_DISTANCES,
                           help=" | ".join(PATH_DISTANCES) + " (what of the accuracy counts "
                           "in a step's length: any change or only a fall)")
    knee_epochs: int | None = option(None, flag="knee-epochs", ge=1, integer=True,
                                     help="debias the knee to this many epochs in all")

    @property
    def runs(self) -> int:
        return self.points

    def check(self, *, epochs: int, complexity: str, prox: bool, tau: float | None) -> None:
        super().check(epochs=epochs, complexity=complexity, prox=prox, tau=tau)
        if self.warmup is not None and self.warmup >= epochs:
            raise ConfigError(f"path_warmup (dense epochs first) must be below train.epochs "
                              f"({epochs}), got {self.warmup!r}")
        moving = self._corrector()
        if moving.ranked and (prox or tau is not None):
            what = "prox" if prox else "tau"
            raise ConfigError(f"the {self.corrector} corrector cuts by rank, with no prox "
                              f"step and no threshold; {what}, got "
                              f"{prox if prox else tau!r}")
        if moving.needs_groups:
            from moprune.objectives import complexity_kind

            if not complexity_kind(complexity).grouped:
                raise ConfigError(f"the {self.corrector} corrector cuts whole channels: it "
                                  f"needs complexity group-l1 or flops; complexity, got "
                                  f"{complexity!r}")

    def _corrector(self) -> Any:
        """The registered corrector (:data:`moprune.front.correctors.CORRECTORS`)."""
        from moprune.front.correctors import CORRECTORS

        try:
            return CORRECTORS.get(self.corrector)()
        except ConfigError as e:
            raise ConfigError(f"corrector of the path method: {e}") from None

    def tau(self, tau: float | None, prox: bool) -> float | None:
        ranked = self._corrector().ranked
        return super().tau(tau, prox) if not ranked or tau is not None else None

    def knee_total_epochs(self) -> int | None:
        return self.knee_epochs

    def meta(self) -> dict[str, Any]:
        return {**super().meta(), "path_corrector": self.corrector,
                "path_distance": self.distance}

    def run(self, job: FrontJob) -> None:
        from moprune.front.path import train_path

        for point in train_path(
                job.factory, job.splits, job.train, points=self.points,
                warmup_epochs=job.epochs / 4 if self.warmup is None else self.warmup,
                max_drop=self.max_drop, start_lam=self.start_lam, corrector=self.corrector,
                distance=self.distance, prox=job.prox, out_dir=job.out,
                progress=job.progress, **job.solver_options):
            job.front.add(point)


def method_from_config(value: FrontMethod | str | Mapping[str, Any], *,
                       flat: Mapping[str, Any] | None = None,
                       where: str = "config") -> FrontMethod:
    """A method from its config form: an instance, a name (the method's defaults) or a
    mapping ``{"name": ..., **options}``; ``flat`` holds options by their flat keys (older
    YAML files and the command line: ``budget``, ``path_corrector``, ...), over the
    mapping's. A flat key another method takes is refused unless it holds that method's
    default (older files hold every key).

    Raises:
        ConfigError: an unknown method or option, or an option of another method.
    """
    if isinstance(value, FrontMethod):
        cls, options = type(value), dataclasses.asdict(value)
    elif isinstance(value, str):
        cls, options = FRONT_METHODS.get(value), {}
    elif isinstance(value, Mapping) and isinstance(value.get("name"), str):
        cls, options = FRONT_METHODS.get(value["name"]), {
            k: v for k, v in value.items() if k != "name"}
    else:
        raise ConfigError(f"method in {where} must be a method's name or a mapping with its "
                          f"name and options, got {value!r}")
    name = FRONT_METHODS.name_of(cls)
    own = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - set(own))
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r} of the {name} method in {where}; "
                          f"known: {', '.join(own) or 'none'}")
    by_key = {_flat_key(f): f.name for f in own.values()}
    for key, given in (flat or {}).items():
        if key in by_key:
            options[by_key[key]] = given
        elif given is not None and given != _flat_defaults().get(key):
            takers = sorted(FRONT_METHODS.name_of(c) for c, f in _flat_fields()
                            if _flat_key(f) == key)
            who = (takers[0] if len(takers) == 1 else
                   f"{', '.join(takers[:-1])} and {takers[-1]}")
            raise ConfigError(f"{key} is for the {who} method"
                              f"{'s' if len(takers) > 1 else ''}, not {name}")
    for opt, v in options.items():
        options[opt] = _coerce(v, own[opt], name, where)
    return cls(**options)


def _coerce(value: Any, f: dataclasses.Field, method: str, where: str) -> Any:
    """A YAML value checked against the option's annotation (ints taken for floats)."""
    kinds: dict[str, tuple[type, ...]] = {"bool": (bool,), "int": (int,),
                                          "float": (int, float), "str": (str,)}
    first = _type_name(f)
    if value is None or first not in kinds:
        return value
    if not isinstance(value, kinds[first]) or (first != "bool" and isinstance(value, bool)):
        raise ConfigError(f"{f.name} of the {method} method in {where} must be of type "
                          f"{first}, got {value!r}")
    return float(value) if first == "float" else value  # type: ignore[arg-type]


def _type_name(f: dataclasses.Field) -> str:
    """An option's type as a word (``int``, ``float``, ``str``, ``bool``, ``tuple``), from
    its annotation (a string under ``from __future__ import annotations``, else a type)."""
    typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return typ.split("|")[0].split("[")[0].strip()


def _flat_key(f: dataclasses.Field) -> str:
    return str(f.metadata["flag"]).replace("-", "_")


def _flat_fields() -> list[tuple[type[FrontMethod], dataclasses.Field]]:
    return [(cls, f) for name in FRONT_METHODS.names()
            for cls in [FRONT_METHODS.get(name)] for f in dataclasses.fields(cls)]


def _flat_defaults() -> dict[str, Any]:
    """Each flat key's default (the first method's that takes it: they agree)."""
    out: dict[str, Any] = {}
    for _, f in _flat_fields():
        out.setdefault(_flat_key(f), f.default)
    return out


def method_flags() -> list[dict[str, Any]]:
    """Every registered method's options as command-line flags, one per flag (options of
    several methods sharing a flag are one): ``flag``, ``key`` (the flat key), ``type``
    (a word: int, float, str, bool, tuple), ``help``, ``methods``, ``default``, ``range``
    (the loosest of the methods'), ``choices``, ``per_method`` ((method, help, default)
    for each)."""
    flags: dict[str, dict[str, Any]] = {}
    for cls, f in _flat_fields():
        entry = flags.setdefault(str(f.metadata["flag"]), {
            "flag": str(f.metadata["flag"]), "key": _flat_key(f), "type": _type_name(f),
            "help": f.metadata["help"], "methods": [], "default": f.default,
            "range": f.metadata.get("range"), "choices": f.metadata.get("choices"),
            "per_method": []})
        entry["methods"].append(FRONT_METHODS.name_of(cls))
        entry["per_method"].append((FRONT_METHODS.name_of(cls), f.metadata["help"],
                                    f.default))
        entry["range"] = _loosest(entry["range"], f.metadata.get("range"))
    return list(flags.values())


def _loosest(a: Range | None, b: Range | None) -> Range | None:
    """The range a flag several methods share allows (each method checks its own)."""
    if a == b:
        return a
    if a is None or b is None:  # a method without bounds: the flag has none
        return None

    def low(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else min(x, y)

    def high(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else max(x, y)

    return Range(ge=low(a.ge, b.ge), gt=low(a.gt, b.gt), le=high(a.le, b.le),
                 lt=high(a.lt, b.lt), integer=a.integer and b.integer,
                 optional=a.optional or b.optional)
