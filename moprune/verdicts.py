"""Every stage's own check of its result against what a user needs, with the reason and
what to do: did the front prune, does the knee save compute, did compaction remove
anything, does the tuned configuration beat the defaults, did the proxy pay.

A verdict is data (results.json, report.md) and one line in the log; a pipeline with a
failed verdict is degenerate and says so, instead of ending as a silent success.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MAX_KNEE_FLOPS", "MIN_COMPACTION", "Verdict", "compaction_verdict",
           "front_verdict", "hpo_verdicts", "knee_verdict", "summary"]

#: A knee keeping more of the FLOPs than this saves too little to be a proxy or a product.
MAX_KNEE_FLOPS = 0.9
#: A compaction removing less of the FLOPs than this left the network as it was.
MIN_COMPACTION = 0.05


@dataclass(frozen=True)
class Verdict:
    """One stage's check: ``ok``, what was found, and what to do when it failed."""

    stage: str
    ok: bool
    finding: str
    advice: str = ""

    def line(self) -> str:
        """The verdict in one line (``ok`` or ``PROBLEM``)."""
        head = f"{self.stage}: {'ok' if self.ok else 'PROBLEM'}: {self.finding}"
        return head if self.ok or not self.advice else f"{head}; {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def front_verdict(points: Iterable[Any]) -> Verdict:
    """Did the front prune? Its smallest network must keep at most 90% of the weights or
    of the FLOPs (``points``: :class:`~moprune.front.Point` objects)."""
    pts = list(points)
    kept = min((p.kept for p in pts), default=1.0)
    flops = min((p.flops_share for p in pts if p.flops_share is not None), default=1.0)
    finding = (f"{len(pts)} points, the smallest keeping {kept:.1%} of the weights and "
               f"{flops:.1%} of the FLOPs")
    if min(kept, flops) > MAX_KNEE_FLOPS:
        return Verdict("front", False, f"it stalled before pruning: {finding}",
                       "too few steps for its data: train more epochs or on more images, "
                       "or start the path at a higher weight (path_start_lam)")
    return Verdict("front", True, finding)


def knee_verdict(point: Mapping[str, Any]) -> Verdict:
    """Does the knee save compute? At most 90% of the FLOPs (``point``: a point's dict)."""
    flops = point.get("flops_share")
    if flops is None:
        return Verdict("knee", True, f"{point['key']} keeps {point['kept']:.1%} of the "
                       "weights (its FLOPs share was not measured)")
    finding = (f"{point['key']} keeps {flops:.1%} of the FLOPs and {point['kept']:.1%} of "
               f"the weights")
    if flops > MAX_KNEE_FLOPS:
        return Verdict("knee", False, finding,
                       "a network that keeps this much computes as much as the base one: "
                       "use complexity flops with the channel corrector (the default "
                       "recipe, moprune.hpo.recipe_front)")
    return Verdict("knee", True, finding)


def compaction_verdict(compaction: Mapping[str, Any]) -> Verdict:
    """Did compaction make the network physically smaller? At least 5% of the FLOPs."""
    before = compaction["before"]["flops_per_image"]
    after = compaction["after"]["flops_per_image"]
    removed = 1.0 - after / before if before else 0.0
    finding = (f"{removed:.1%} of the FLOPs removed ({before:,} -> {after:,} per image; "
               f"{compaction['before']['parameters']:,} -> "
               f"{compaction['after']['parameters']:,} parameters)")
    if removed < MIN_COMPACTION:
        return Verdict("compaction", False, finding,
                       "the knee is unstructured (its zeros are scattered, hardly a channel "
                       "is dead): use complexity flops and the channel corrector")
    return Verdict("compaction", True, finding)


def hpo_verdicts(results: Mapping[str, Any]) -> list[Verdict]:
    """The HPO's verdicts from its ``results.json`` content: the tuned configuration
    against the default hyperparameters (validation), and whether the proxy paid."""
    out = []
    best, default = results.get("best"), results.get("default")
    if best and default and default.get("val_acc") is not None:
        finding = (f"tuned validation accuracy {best['val_acc']:.4f} against "
                   f"{default['val_acc']:.4f} with the default hyperparameters")
        if best["val_acc"] < default["val_acc"]:
            out.append(Verdict("tuning", False, finding,
                               "the search did not beat the defaults: more trials, more "
                               "epochs per trial, or search the base network (--proxy none)"))
        else:
            out.append(Verdict("tuning", True, finding))
    pay = (results.get("proxy_decision") or {}).get("check")
    if results.get("proxy") and pay:
        spent = float(results["time"]["total"])
        full = float(pay["full_s"])
        saved = 1.0 - spent / full if full > 0 else 0.0
        finding = (f"the proxy pipeline took {spent:.0f} s against {full:.0f} s predicted "
                   f"for the base network's (a saving of {saved:.0%}; predicted "
                   f"{pay['saving']:.0%})")
        if saved <= 0:
            out.append(Verdict("proxy", False, finding,
                               "its creation cost more than its trials saved: more trials, "
                               "or search the base network (--proxy none)"))
        else:
            out.append(Verdict("proxy", True, finding))
    return out


def summary(verdicts: Iterable[Verdict]) -> str:
    """One line over all verdicts: ``ok`` or how many problems, naming the stages."""
    bad = [v.stage for v in verdicts if not v.ok]
    return ("every check passed" if not bad else
            f"DEGENERATE: {len(bad)} problem{'s' if len(bad) > 1 else ''} ({', '.join(bad)})")
