"""Proxy pipelines against the full pipeline, per HPO method: wall time, saving, regret.

    python experiments/proxy_hpo/compare.py RUN/hpo [RUN/hpo-s1 ...] \
        [--fidelity RUN/fidelity/*] [--out docs/results/...] [--summary summary.json]

Each HPO folder holds `moprune hpo` run directories named full-METHOD (trials on the base
network) and PROXY-METHOD (trials on the proxy PROXY, e.g. knee-tpe, uniform25-tpe); give
one folder per seed (the same pipelines run with --seed 0, 1, 2) to get regret per seed
and its mean. Regret = the full pipeline's test accuracy minus the proxy pipeline's
(positive: the proxy's choice is worse). Time = everything the pipeline trained: the
proxy's creation (front and compaction), the trials, and the final training on the base
network (a transfer read from an identical trial counts only its evaluation).

A proxy pipeline with --top-k K > 1 also gives a row PROXY:top1: the same pipeline as
if run with --top-k 1 (the same trials, since the sampler does not see top-k, and only the
first of its transfers, the proxy's best, as trained and timed in that run).

Break-even is the number of trials from which the proxy pipeline's total equals the full
one's; the trials for a 50% saving, from which it takes half. Both from the mean seconds of
a trial on each network, the creation and the final trainings of the same runs.
`--summary FILE` merges this table into FILE (for each model, proxy and method at each
trial count; the file of docs/results/proxy_hpo/summary.json); `--proxies` keeps only the
named proxies' rows, so that a run's other rows do not replace rows measured elsewhere.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
import yaml

from moprune.io import write_json
from moprune.models import build_model
from moprune.models.serialization import build_from_recipe
from moprune.pruning import count_flops
from moprune.report import format_table
from moprune.report.plots import new_figure, save_figure

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("hpo", type=Path, nargs="+", help="one folder of runs per seed")
parser.add_argument("--summary", type=Path, default=None,
                    help="merge the table into this summary.json")
parser.add_argument("--fidelity", type=Path, nargs="*", default=[],
                    help="`moprune fidelity` run directories, one per proxy")
parser.add_argument("--out", type=Path, default=None, help="write compare.json and PNG here")
parser.add_argument("--proxies", nargs="+", default=None, metavar="PROXY",
                    help="only these proxies' pipelines (e.g. kneechtol; its :top1 row "
                    "comes with it): to merge some rows of a run into --summary")
args = parser.parse_args()



def _flops_share(recipe: dict, model: str) -> float:
    """The proxy's FLOPs per image as a share of the base network's."""
    shape = {k: recipe[k] for k in ("in_channels", "num_classes", "image_size")}
    x = torch.zeros(1, shape["in_channels"], shape["image_size"], shape["image_size"])
    proxy = build_from_recipe(recipe, seed=0)
    return count_flops(proxy, x) / count_flops(build_model(model, **shape, seed=0), x)


def _first_transfer(p: dict) -> dict:
    """The same pipeline as if run with --top-k 1: the same trials (the sampler does not
    see top-k) and only the first of its transfers (the proxy's best), as trained and
    timed in that run."""
    first = p["transfer"][0]
    extra = sum(t["seconds"] for t in p["transfer"][1:])
    time = {**p["time"], "transfer": first["seconds"], "total": p["time"]["total"] - extra}
    return {**p, "transfer": [first], "time": time, "best": first}


def _ran(run: dict) -> int:
    """The trials that ran and were timed: a trial whose worker died (a killed run, then
    resumed) has no seconds and is retried, so it counts neither in the time nor here."""
    return sum(t.get("seconds") is not None for t in run["trials"])


def _pipeline(proxy_dir: Path, full_dir: Path, *, top1: bool = False) -> dict:
    """One proxy pipeline against its full pipeline (one seed); ``top1``: its --top-k 1
    form, read from the same run (:func:`_first_transfer`)."""
    p = json.loads((proxy_dir / "results.json").read_text())
    f = json.loads((full_dir / "results.json").read_text())
    if top1:
        p = _first_transfer(p)
    tp, tf = p["time"]["total"], f["time"]["total"]
    n = _ran(p)
    creation = sum(v for k, v in p["time"].items() if k.startswith("proxy_"))
    t_p, t_b = p["time"]["hpo_trials"] / n, f["time"]["hpo_trials"] / _ran(f)
    final_p, final_f = p["time"]["transfer"], f["time"]["transfer"]
    return {
        "model": f.get("model"), "trials": n, "top_k": len(p["transfer"]),
        "seed": p["settings"]["seed"], "lr_transfer": p.get("lr_transfer", "none"),
        "full_seconds": tf, "proxy_seconds": tp, "saving": 1 - tp / tf,
        "full_test_acc": f["best"]["test_acc"], "proxy_test_acc": p["best"]["test_acc"],
        "regret_points": 100 * (f["best"]["test_acc"] - p["best"]["test_acc"]),
        "proxy_time": p["time"], "full_time": f["time"],
        "full_reused": f.get("reused", {}).get("transfer", []),
        "proxy_parameters": p["trials"][0].get("parameters"),
        "base_parameters": f["trials"][0].get("parameters"),
        "proxy_choice": p["best"]["params"], "full_choice": f["best"]["params"],
        "trial_seconds": {"proxy": t_p, "base": t_b},
        "search_saving": 1 - p["time"]["hpo_trials"] / f["time"]["hpo_trials"],
        "creation_seconds": creation,
        # trials from which the proxy pipeline costs no more than the full one, and half
        "break_even_trials": (creation + final_p - final_f) / (t_b - t_p) if t_b > t_p else None,
        "trials_for_50pct_saving": ((creation + final_p - 0.5 * final_f) / (0.5 * t_b - t_p)
                                    if 0.5 * t_b > t_p else None)}


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


runs: dict[tuple[str, str], list[dict]] = {}
phases, histories = {}, []
for hpo in args.hpo:
    for proxy_dir in sorted(hpo.iterdir(), key=lambda d: d.name.partition("-")[::-2]):
        proxy, _, method = proxy_dir.name.partition("-")
        full_dir = hpo / f"full-{method}"
        if proxy == "full" or not (proxy_dir / "results.json").is_file() \
                or not (full_dir / "results.json").is_file() \
                or (args.proxies is not None and proxy not in args.proxies):
            continue
        runs.setdefault((method, proxy), []).append(_pipeline(proxy_dir, full_dir))
        if runs[method, proxy][-1]["top_k"] > 1:
            runs.setdefault((method, f"{proxy}:top1"), []).append(
                _pipeline(proxy_dir, full_dir, top1=True))
        if hpo == args.hpo[0]:
            phases.setdefault(method, {"full": runs[method, proxy][-1]["full_time"]})[proxy] = \
                runs[method, proxy][-1]["proxy_time"]
            histories += [proxy_dir, full_dir]
missing = [p for p in args.proxies or () if all(proxy != p for _, proxy in runs)]
if missing:  # a mistyped name among good ones would drop its rows in silence
    parser.error(f"no pipeline of {', '.join(missing)} in {' '.join(map(str, args.hpo))}")
rows, table = [], []
for (method, proxy), per_seed in runs.items():
    row = {"method": method, "proxy": proxy, "seeds": [r["seed"] for r in per_seed],
           "per_seed": per_seed,
           **{k: _mean([r[k] for r in per_seed])
              for k in ("full_seconds", "proxy_seconds", "saving", "regret_points",
                        "creation_seconds", "break_even_trials", "trials_for_50pct_saving",
                        "full_test_acc", "proxy_test_acc")},
           "trials": per_seed[0]["trials"], "top_k": per_seed[0]["top_k"],
           "model": per_seed[0]["model"], "lr_transfer": per_seed[0]["lr_transfer"]}
    rows.append(row)

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    table.append([method, proxy, row["trials"], len(per_seed), fmt(row["full_seconds"], ".0f"),
                  fmt(row["proxy_seconds"], ".0f"), fmt(row["saving"], ".0%"),
                  " ".join(f"{r['regret_points']:+.2f}" for r in per_seed),
                  fmt(row["regret_points"], "+.2f"), fmt(row["break_even_trials"], ".0f"),
                  fmt(row["trials_for_50pct_saving"], ".0f")])
HEADER = ["method", "proxy", "trials", "seeds", "full s", "proxy s", "saving",
          "regret per seed", "mean regret", "break-even trials", "trials for 50% saving"]
print(format_table(HEADER, table))
for r in rows:
    one = r["per_seed"][0]
    split = ", ".join(f"{k} {v:.0f} s" for k, v in one["proxy_time"].items()
                      if k not in ("total", "hpo_wall"))
    print(f"  {r['method']}, {r['proxy']} (seed {one['seed']}): proxy pipeline time = "
          f"{split}; a trial takes {one['trial_seconds']['proxy']:.1f} s on the proxy, "
          f"{one['trial_seconds']['base']:.1f} s on the base network (search alone "
          f"{one['search_saving']:.0%} faster); transfers of the full pipeline read from "
          f"its trials: {len(one['full_reused'])}")
result = {"pipelines": rows}
result["fidelity"] = {}
for fid_dir in args.fidelity:
    fid = json.loads((fid_dir / "fidelity.json").read_text())
    legacy = fid_dir / "fidelity-settings.json"  # the settings' name before config.yaml
    settings = (json.loads(legacy.read_text()) if legacy.is_file()
                else yaml.safe_load((fid_dir / "config.yaml").read_text()))
    k, n = fid["top_k"], len(fid["configs"])
    runs = n * fid.get("seeds", 1)  # trainings per network: each configuration x seeds
    share = _flops_share(settings["proxy"], settings["run"]["model"])
    result["fidelity"][fid_dir.name] = {
        **{key: v for key, v in fid.items() if key != "configs"}, "configs": n,
        "flops_share": share,
        "trial_seconds": {"proxy": fid["seconds"]["proxy"] / runs,
                          "base": fid["seconds"]["base"] / runs}}
    if args.out and (fid_dir / "fidelity.png").is_file():  # kept results may have no plot
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fid_dir / "fidelity.png",
                        args.out / f"proxy_hpo_fidelity-{fid_dir.name}.png")
    ci = fid.get("intervals", {}).get("spearman_rho")
    print(f"fidelity of {fid_dir.name} ({share:.1%} of the FLOPs) over {n} configurations x "
          f"{fid.get('seeds', 1)} seeds: Spearman rho {fid['spearman_rho']:.3f}"
          + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "") +
          f", Kendall tau {fid['kendall_tau']:.3f}, top-{k} overlap "
          f"{fid[f'top{k}_overlap']:.2f}; a training takes {fid['seconds']['proxy'] / runs:.1f} s "
          f"on the proxy, {fid['seconds']['base'] / runs:.1f} s on the base network")
if args.out and rows:
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "proxy_hpo.json", result)
    (args.out / "table.md").write_text(format_table(HEADER, table, markdown=True) + "\n")
    for run in dict.fromkeys(histories):  # each study's optimisation history
        if (run / "hpo.png").is_file():
            shutil.copyfile(run / "hpo.png", args.out / f"hpo-{run.name}.png")
    fig, (ax,) = new_figure(width=8.0, height=3.4)
    labels, left = [], {}
    order = ["proxy_front", "proxy_compaction", "hpo_trials", "transfer"]  # as they run
    names = sorted({k for times in phases.values() for t in times.values() for k in t}
                   - {"total", "hpo_wall"}, key=lambda k: (k not in order, order.index(k)
                                                           if k in order else 0, k))
    y = 0
    for method, times in phases.items():
        for label, t in times.items():
            start = 0.0
            for i, name in enumerate(names):
                ax.barh(y, t.get(name, 0.0), left=start, color=f"C{i}",
                        label=name if y == 0 or name not in left else None)
                left[name] = True
                start += t.get(name, 0.0)
            labels.append(f"{method}: {label}")
            y += 1
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="seconds (2 CPU cores)", title="time of the pipelines")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, args.out / "proxy_hpo_time.png")

if args.summary and rows:
    # summary[model][proxy][method][trials]: the figures a reader compares
    summary = json.loads(args.summary.read_text()) if args.summary.is_file() else {}
    for r in rows:
        fid = result["fidelity"].get(r["proxy"].split(":")[0], {})
        summary.setdefault(r["model"], {}).setdefault(r["proxy"], {}).setdefault(
            r["method"], {})[str(r["trials"])] = {
            "seeds": r["seeds"], "lr_transfer": r["lr_transfer"],
            "full_seconds": r["full_seconds"], "proxy_seconds": r["proxy_seconds"],
            "saving": r["saving"], "creation_seconds": r["creation_seconds"],
            "regret_points_per_seed": [x["regret_points"] for x in r["per_seed"]],
            "regret_points_mean": r["regret_points"],
            "break_even_trials": r["break_even_trials"],
            "trials_for_50pct_saving": r["trials_for_50pct_saving"],
            "spearman_rho": fid.get("spearman_rho"),
            "spearman_rho_interval": fid.get("intervals", {}).get("spearman_rho"),
            "fidelity_configs": fid.get("configs"), "fidelity_seeds": fid.get("seeds", 1)}
    write_json(args.summary, summary)
