"""Every stage's verdict: one test per check, each failing and passing."""

from types import SimpleNamespace

from moprune.verdicts import (
    compaction_verdict,
    front_verdict,
    hpo_verdicts,
    knee_verdict,
    summary,
)


def _point(kept, flops):
    return SimpleNamespace(kept=kept, flops_share=flops)


def test_a_front_that_stalled_before_pruning_is_a_problem_with_advice():
    stalled = front_verdict([_point(1.0, 1.0), _point(0.99, 0.97)])
    assert not stalled.ok and "stalled before pruning" in stalled.finding
    assert "too few steps for its data" in stalled.advice
    assert front_verdict([_point(1.0, 1.0), _point(0.95, 0.6)]).ok  # the FLOPs fell
    assert front_verdict([_point(1.0, 1.0), _point(0.3, 0.95)]).ok  # the weights fell


def test_a_knee_keeping_over_90_percent_of_the_flops_is_a_problem():
    bad = knee_verdict({"key": "p1", "kept": 0.53, "flops_share": 0.99})
    assert not bad.ok and "99.0% of the FLOPs" in bad.finding
    assert "channel corrector" in bad.advice
    assert knee_verdict({"key": "p9", "kept": 0.1, "flops_share": 0.054}).ok
    assert knee_verdict({"key": "old", "kept": 0.1}).ok  # no share measured: no claim


def test_a_compaction_that_removed_under_5_percent_is_a_problem():
    def c(before, after):
        return {"before": {"flops_per_image": before, "parameters": 100},
                "after": {"flops_per_image": after, "parameters": 90}}

    bad = compaction_verdict(c(1000, 970))
    assert not bad.ok and bad.finding.startswith("3.0% of the FLOPs removed")
    assert "unstructured" in bad.advice
    assert compaction_verdict(c(1000, 100)).ok


def test_a_tuned_configuration_below_the_defaults_is_a_problem():
    worse = hpo_verdicts({"best": {"val_acc": 0.47}, "default": {"val_acc": 0.81}})
    assert [v.stage for v in worse] == ["tuning"] and not worse[0].ok
    assert "0.4700 against 0.8100" in worse[0].finding
    assert hpo_verdicts({"best": {"val_acc": 0.82}, "default": {"val_acc": 0.81}})[0].ok
    assert hpo_verdicts({"best": {"val_acc": 0.82}, "default": None}) == []


def test_a_proxy_that_did_not_pay_is_a_problem():
    def results(total, full):
        return {"proxy": {"model": "x"}, "time": {"total": total},
                "proxy_decision": {"check": {"full_s": full, "saving": 0.3}}}

    lost = hpo_verdicts(results(120.0, 100.0))
    assert not lost[0].ok and "a saving of -20%" in lost[0].finding
    assert hpo_verdicts(results(40.0, 100.0))[0].ok
    no_proxy = {**results(120.0, 100.0), "proxy": None}  # the base network was searched
    assert hpo_verdicts(no_proxy) == []


def test_the_summary_names_the_failed_stages():
    ok = knee_verdict({"key": "p9", "kept": 0.1, "flops_share": 0.05})
    bad = knee_verdict({"key": "p1", "kept": 1.0, "flops_share": 1.0})
    assert summary([ok]) == "every check passed"
    assert summary([ok, bad]) == "DEGENERATE: 1 problem (knee)"
    assert bad.line().startswith("knee: PROBLEM: p1 keeps 100.0% of the FLOPs")
