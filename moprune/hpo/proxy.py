"""The default proxy of an HPO, made by one recipe, and the check that it pays.

The recipe (:class:`ProxyRecipe`) is what paid on the small VGG, as defaults instead of
flags: a continuation path with the channel corrector on the FLOPs complexity, trained on
the HPO's own data; its knee in (validation error, FLOPs share) among the points keeping
at least ``floor`` of the FLOPs, validation accuracies within two standard errors of the
knee's taken as ties (the smallest such network is the proxy); its dead channels removed;
muP's per-layer learning-rate factors on its trials.

The pay check (:func:`pay_check`) times a few training steps and one evaluation of the
proxy and of the base network, with what a trial does, and predicts the time of the two
pipelines at the requested trials, the proxy's creation included: the saving, and the
number of trials from which the proxy pays (break-even).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moprune.config import TrainConfig
from moprune.data import DataSplits
from moprune.errors import ConfigError
from moprune.front.config import FrontConfig
from moprune.front.methods import Path as PathMethod
from moprune.hpo.objective import fresh_model
from moprune.validation import bounded, check_ranges

__all__ = ["DEFAULT_RECIPE", "PayCheck", "ProxyDecision", "ProxyRecipe", "auto_proxy",
           "eval_subset", "lr_transfer_for", "make_proxy", "pay_check", "recipe_front",
           "recipe_knee"]


@dataclass(frozen=True)
class ProxyRecipe:
    """How the default proxy is made (every field has the value that paid on the VGG)."""

    points: int = bounded(20, ge=2)  # points of the channel path
    epochs: int = bounded(5, ge=1)  # epochs of the whole path (the proxy's shape only)
    warmup: float = bounded(1.0, ge=0)  # dense epochs first
    start_share: float = bounded(0.2, gt=0, lt=1)  # first FLOPs share cut
    max_drop: float = bounded(0.3, gt=0, le=1)  # the path ends this far below dense
    eval_images: int | None = bounded(2000, ge=100, integer=True, optional=True)  # per
    #                                                     point (None: every image)
    floor: float = bounded(0.05, ge=0, lt=1)  # the knee keeps at least this FLOPs share
    noise: float | str = "auto"  # ties: two standard errors of the validation accuracy
    lr_transfer: str = "mup"  # muP's per-layer factors on the proxy's trials
    min_saving: float = bounded(0.2, ge=0, lt=1)  # proxy="auto": search the base network
    #                                               when the predicted saving is below

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.noise != "auto" and not (isinstance(self.noise, (int, float))
                                         and 0 <= self.noise < 1):
            raise ConfigError(f"recipe noise must be 'auto' or an accuracy in [0, 1), got "
                              f"{self.noise!r}")


#: The recipe every default uses (``moprune hpo``, ``moprune run``, ``tune(proxy="auto")``).
DEFAULT_RECIPE = ProxyRecipe()


def recipe_front(base: FrontConfig | None = None, recipe: ProxyRecipe = DEFAULT_RECIPE
                 ) -> FrontConfig:
    """The front settings of ``recipe``'s path, on ``base``'s model, data and training (its
    optimizer, batch size, seed); the path's own epochs and evaluation subset."""
    base = base or FrontConfig()
    path = PathMethod(points=recipe.points, warmup=recipe.warmup,
                      start_lam=recipe.start_share, max_drop=recipe.max_drop,
                      corrector="channel")
    return replace(base, method=path, complexity="flops", prox=False, tau=None, finetune=0,
                   knee_axes="flops", train=replace(base.train, epochs=recipe.epochs))


def eval_subset(splits: DataSplits, images: int | None) -> DataSplits:
    """``splits`` with at most ``images`` validation and test images (the first of each
    split, which are seeded random picks)."""
    if images is None:
        return splits
    test = splits.test_idx[:images] if splits.test_idx is not None else None
    return replace(splits, val_idx=splits.val_idx[:images], test_idx=test)


def make_proxy(model: Any, splits: DataSplits, train: TrainConfig, out: str | Path, *,
               recipe: ProxyRecipe = DEFAULT_RECIPE, model_args: Mapping[str, Any] | None = None,
               progress: bool | None = None) -> tuple[dict[str, Any], dict[str, float],
                                                      dict[str, Any]]:
    """Make (or read back) ``recipe``'s proxy of ``model`` in ``out``: the channel path on
    ``splits`` (resumable, point by point), its knee and the compacted knee.

    Args:
        model: The base network (a registered name, a module or a factory).
        train: The training settings of the HPO (optimizer, batch size, seed; the path
            takes ``recipe.epochs``).

    Returns:
        The proxy's recipe (for :class:`~moprune.hpo.HPOJob`), its creation seconds by
        phase, and what was chosen (the knee's key, FLOPs share, validation accuracy,
        the tie margin).
    """
    from moprune.front.train import front_from_config

    out = Path(out)
    spec = model if isinstance(model, str) else None
    config = recipe_front(FrontConfig(model=spec or "lenet5", model_args=dict(model_args or {}),
                                      train=train), recipe)
    front = front_from_config(config, eval_subset(splits, recipe.eval_images),
                              model=model, out=out, progress=progress)
    proxy, seconds = recipe_knee(out, model, splits, recipe=recipe, model_args=model_args)
    chosen = front.knee("chord", axes="flops", floor=recipe.floor, tolerance=recipe.noise)
    info = {"point": chosen.key, "flops_share": chosen.flops_share, "val_acc": chosen.val_acc,
            "kept": chosen.kept, "points": len(front), "recipe": asdict(recipe),
            "smallest_flops_share": min((p.flops_share for p in front
                                         if p.flops_share is not None), default=None)}
    return proxy, seconds, info


@dataclass(frozen=True)
class PayCheck:
    """What the proxy is predicted to save, from measured step and evaluation times.

    Attributes:
        trials, top_k: The study's budget and the configurations transferred.
        base_trial_s, proxy_trial_s: Predicted seconds of one trial on each network.
        transfer_s: Predicted seconds of the transfer (``top_k`` trainings of the base
            network for ``final_epochs``; the same in both pipelines, except that a full
            pipeline whose transfer is a trial again reads it instead).
        creation_s: The proxy's creation (measured, or predicted before it is made).
        full_s, proxy_s: The two pipelines' predicted seconds.
        saving: ``1 - proxy_s / full_s``.
        break_even_trials: The trials from which the proxy pipeline is the faster (None:
            never, its trials are not cheaper).
        measured: The timings behind it (medians).
    """

    trials: int
    top_k: int
    final_epochs: int
    base_trial_s: float
    proxy_trial_s: float
    transfer_s: float
    full_transfer_s: float
    creation_s: float
    full_s: float
    proxy_s: float
    saving: float
    break_even_trials: float | None
    measured: dict[str, float]

    def line(self) -> str:
        """The pay check in one line."""
        even = ("never (its trials are not cheaper)" if self.break_even_trials is None
                else f"from {math.ceil(self.break_even_trials)} trials")
        return (f"pay check: a trial {self.proxy_trial_s:.1f} s on the proxy, "
                f"{self.base_trial_s:.1f} s on the base network; {self.trials} trials + "
                f"top {self.top_k} trained {self.final_epochs} epochs: proxy pipeline "
                f"{self.proxy_s:.0f} s (creation {self.creation_s:.0f} s) against "
                f"{self.full_s:.0f} s, a predicted saving of {self.saving:.0%}; "
                f"it pays {even}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _median_step_seconds(net: nn.Module, splits: DataSplits, train: TrainConfig,
                         steps: int, device: torch.device) -> float:
    """The median seconds of a training step (forward, backward, SGD step) of ``net`` on
    ``train.batch_size`` images, after two warm-up steps."""
    loader = splits.loader("train", batch_size=train.batch_size, device=device)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=train.momentum)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    times: list[float] = []
    batches = iter(loader)
    for i in range(steps + 2):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_trial(recipe: Mapping[str, Any], splits: DataSplits, train: TrainConfig, *,
               steps: int = 8) -> dict[str, float]:
    """Measured pieces of a trial of a network of ``recipe``: building it, a training step
    (median of ``steps``) and one pass over the validation split."""
    from moprune.training import evaluate, resolve_device

    device = resolve_device(train.device)
    shape = {"in_channels": splits.in_channels, "num_classes": splits.num_classes,
             "image_size": splits.image_size}
    t0 = time.perf_counter()
    net = fresh_model(recipe, **shape, seed=train.seed).to(device)
    build = time.perf_counter() - t0
    step = _median_step_seconds(net, splits, train, steps, device)
    t0 = time.perf_counter()
    evaluate(net, splits.loader("val", device=device))
    return {"build_s": build, "step_s": step, "eval_s": time.perf_counter() - t0}


def _trial_seconds(t: Mapping[str, float], steps_per_epoch: int, epochs: int) -> float:
    return t["build_s"] + epochs * (steps_per_epoch * t["step_s"] + t["eval_s"])


def pay_check(model: Any, proxy: Mapping[str, Any] | None, splits: DataSplits,
              train: TrainConfig, *, trials: int, top_k: int, final_epochs: int,
              creation_s: float | None = None, recipe: ProxyRecipe = DEFAULT_RECIPE,
              steps: int = 8, base: Mapping[str, float] | None = None) -> PayCheck:
    """Predict both pipelines' seconds at ``trials`` trials of ``train.epochs`` epochs.

    Args:
        model: The base network.
        proxy: The proxy's recipe; None: before it is made, a proxy whose trials cost
            nothing (the most it could save; its creation predicted from ``recipe``).
        creation_s: The proxy's creation, measured; None: predicted from ``recipe`` (its
            path's epochs of the base network and its points' evaluations).
        base: The base network's :func:`time_trial`, when measured already.
    """
    n_train = len(splits.train_idx)
    per_epoch = math.ceil(n_train / train.batch_size)
    base = base if base is not None else time_trial({"model": model}, splits, train,
                                                    steps=steps)
    small = time_trial(proxy, splits, train, steps=steps) if proxy is not None else None
    base_trial = _trial_seconds(base, per_epoch, train.epochs)
    proxy_trial = _trial_seconds(small, per_epoch, train.epochs) if small else 0.0
    final = base["build_s"] + final_epochs * (per_epoch * base["step_s"] + base["eval_s"]) \
        + base["eval_s"] * len(splits.test_idx if splits.test_idx is not None else []) \
        / max(1, len(splits.val_idx))
    transfer = top_k * final
    # the full pipeline's transfer of a configuration trained as long as a trial is the
    # trial itself (its weights are kept): only the evaluation
    full_transfer = transfer if final_epochs != train.epochs else top_k * base["eval_s"]
    if creation_s is None:
        images = recipe.eval_images or len(splits.val_idx)
        evals = 2 * recipe.points * base["eval_s"] * min(1.0, images / len(splits.val_idx))
        creation_s = recipe.epochs * per_epoch * base["step_s"] + evals
    full = trials * base_trial + full_transfer
    proxied = creation_s + trials * proxy_trial + transfer
    gain = base_trial - proxy_trial  # per trial
    fixed = creation_s + transfer - full_transfer
    even = fixed / gain if gain > 0 else None
    measured = {f"base_{k}": v for k, v in base.items()}
    if small:
        measured |= {f"proxy_{k}": v for k, v in small.items()}
    return PayCheck(trials=trials, top_k=top_k, final_epochs=final_epochs,
                    base_trial_s=base_trial, proxy_trial_s=proxy_trial, transfer_s=transfer,
                    full_transfer_s=full_transfer, creation_s=float(creation_s), full_s=full,
                    proxy_s=proxied, saving=1.0 - proxied / full if full > 0 else 0.0,
                    break_even_trials=max(0.0, even) if even is not None else None,
                    measured=measured)



@dataclass(frozen=True)
class ProxyDecision:
    """Whether an HPO searches the recipe's proxy or the base network, and why.

    Attributes:
        use_proxy: The trials train the proxy.
        reason: The decision in one sentence.
        bound: The pay check before the proxy was made (its trials counted as free: the
            most it could save), or None when it was not needed.
        check: The pay check of the proxy that was made, or None.
        info: The proxy's knee (key, FLOPs share, validation accuracy, ...).
    """

    use_proxy: bool
    reason: str
    bound: PayCheck | None = None
    check: PayCheck | None = None
    info: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"use_proxy": self.use_proxy, "reason": self.reason,
                "bound": self.bound.to_dict() if self.bound else None,
                "check": self.check.to_dict() if self.check else None, "info": self.info}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProxyDecision:
        return cls(use_proxy=bool(d["use_proxy"]), reason=str(d["reason"]),
                   bound=PayCheck(**d["bound"]) if d.get("bound") else None,
                   check=PayCheck(**d["check"]) if d.get("check") else None,
                   info=d.get("info"))


def auto_proxy(model: Any, splits: DataSplits, train: TrainConfig, out: str | Path, *,
               trials: int, top_k: int, final_epochs: int,
               recipe: ProxyRecipe = DEFAULT_RECIPE, model_args: Mapping[str, Any] | None = None,
               front: str | os.PathLike[str] | None = None, progress: bool | None = None
               ) -> tuple[dict[str, Any] | None, dict[str, float], ProxyDecision]:
    """The proxy of ``proxy="auto"``: ``recipe``'s, when it is predicted to save at least
    ``recipe.min_saving`` of the HPO's time at ``trials`` trials, its creation included;
    else None (the trials train the base network), and the decision says why.

    First a bound: with trials that cost nothing, could a proxy of the recipe's creation
    cost save enough? If not, none is made. Then the proxy is made in ``out`` (or read
    from ``front``, a run directory of the recipe's path already trained on this data)
    and its own pay check decides.

    Returns:
        The proxy's recipe or None, its creation seconds by phase, the decision.
    """
    from moprune.io import read_json, write_json
    from moprune.progress import announce

    record = Path(out) / "decision.json"
    if record.is_file():  # a resumed run keeps its decision (a pay check's timings vary)
        decision = ProxyDecision.from_dict(read_json(record))
        announce(f"{decision.reason} (decided before; {record})")
        if decision.check is None:  # no proxy was made
            return None, {}, decision
        made, spent = recipe_knee(front if front is not None else out, model, splits,
                                  recipe=recipe, model_args=model_args)
        # (a proxy made and not used still cost its creation)
        return (made if decision.use_proxy else None), spent, decision

    def decided(proxy: dict[str, Any] | None, creation: dict[str, float],
                decision: ProxyDecision) -> tuple[dict[str, Any] | None, dict[str, float],
                                                  ProxyDecision]:
        write_json(record, decision.to_dict())
        return proxy, creation, decision

    timed: dict[str, float] = {}  # the base network, timed once for both pay checks

    def predict(proxy: Mapping[str, Any] | None, creation_s: float | None) -> PayCheck:
        check = pay_check(model, proxy, splits, train, trials=trials, top_k=top_k,
                          final_epochs=final_epochs, creation_s=creation_s, recipe=recipe,
                          base=timed or None)
        timed.update({k[len("base_"):]: v for k, v in check.measured.items()
                      if k.startswith("base_")})
        return check

    creation: dict[str, float] = {}
    bound: PayCheck | None = None
    if front is None:
        bound = predict(None, None)
        if bound.saving < recipe.min_saving:
            most = (f"would save at most {bound.saving:.0%}" if bound.saving > 0 else
                    "would cost more than it saves")
            reason = (f"no proxy: even with free trials one {most} of this HPO "
                      f"({trials} trials of {bound.base_trial_s:.1f} s against a creation of "
                      f"about {bound.creation_s:.0f} s; {recipe.min_saving:.0%} needed): the "
                      "trials train the base network")
            announce(reason)
            return decided(None, {}, ProxyDecision(False, reason, bound=bound))
        proxy, creation, info = make_proxy(model, splits, train, out, recipe=recipe,
                                           model_args=model_args, progress=progress)
    else:
        proxy, creation = recipe_knee(front, model, splits, recipe=recipe,
                                      model_args=model_args)
        info = {"front": str(front)}
    check = predict(proxy, sum(creation.values()))
    announce(check.line())
    if check.saving < recipe.min_saving:
        reason = (f"the proxy is predicted to save {check.saving:.0%} (under "
                  f"{recipe.min_saving:.0%}): the trials train the base network")
        announce(reason)
        return decided(None, creation, ProxyDecision(False, reason, bound, check, info))
    reason = f"the proxy is predicted to save {check.saving:.0%} of the HPO's time"
    return decided(proxy, creation, ProxyDecision(True, reason, bound, check, info))


def recipe_knee(run: str | os.PathLike[str], model: Any, splits: DataSplits, *,
                recipe: ProxyRecipe = DEFAULT_RECIPE,
                model_args: Mapping[str, Any] | None = None
                ) -> tuple[dict[str, Any], dict[str, float]]:
    """``recipe``'s knee of the path in ``run`` (above its floor, ties within its noise),
    compacted (made once): the proxy's recipe and its creation seconds by phase."""
    from moprune.front.train import model_factory
    from moprune.hpo.sources import proxy_source

    factory = None if isinstance(model, str) else model_factory(model, splits,
                                                                dict(model_args or {}))
    return proxy_source(run, flops_floor=recipe.floor, tolerance=recipe.noise,
                        factory=factory, splits=splits)


def lr_transfer_for(given: str | None, proxy: Mapping[str, Any] | None,
                    recipe: ProxyRecipe = DEFAULT_RECIPE) -> str:
    """The learning-rate transfer of an HPO whose proxy ``proxy="auto"`` chose: the
    ``given`` one, else the recipe's for its proxy and none for the base network."""
    return given or (recipe.lr_transfer if proxy is not None else "none")
