"""Proxy pipeline against full pipeline, per HPO method: wall time, saving, regret.

    python experiments/proxy_hpo/compare.py RUN/hpo [--fidelity RUN/fidelity/vgg] \
        [--out docs/results]

RUN/hpo holds pairs of `moprune hpo` run directories named proxy-METHOD and full-METHOD.
Regret = the full pipeline's test accuracy minus the proxy pipeline's (positive: the
proxy's choice is worse). Time = everything the pipeline trained: the proxy's creation
(front and compaction), the trials, and the final training on the base network.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moprune.io import write_json
from moprune.report import format_table
from moprune.report.plots import new_figure, save_figure

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("hpo", type=Path)
parser.add_argument("--fidelity", type=Path)
parser.add_argument("--out", type=Path, default=None, help="write compare.json and PNG here")
args = parser.parse_args()

rows, table, phases = [], [], {}
for proxy_dir in sorted(args.hpo.glob("proxy-*")):
    method = proxy_dir.name.removeprefix("proxy-")
    full_dir = args.hpo / f"full-{method}"
    if not (proxy_dir / "results.json").is_file() or not (full_dir / "results.json").is_file():
        continue
    p = json.loads((proxy_dir / "results.json").read_text())
    f = json.loads((full_dir / "results.json").read_text())
    tp, tf = p["time"]["total"], f["time"]["total"]
    row = {"method": method, "trials": len(p["trials"]),
           "full_seconds": tf, "proxy_seconds": tp, "saving": 1 - tp / tf,
           "full_test_acc": f["best"]["test_acc"], "proxy_test_acc": p["best"]["test_acc"],
           "regret_points": 100 * (f["best"]["test_acc"] - p["best"]["test_acc"]),
           "proxy_time": p["time"], "full_time": f["time"],
           "proxy_parameters": p["trials"][0].get("parameters"),
           "base_parameters": f["trials"][0].get("parameters"),
           "proxy_choice": p["best"]["params"], "full_choice": f["best"]["params"]}
    # Where the proxy's creation is paid back: mean seconds of a trial on each network, and
    # the number of trials from which the proxy pipeline takes half the full one's time.
    n = len(p["trials"])
    creation = sum(v for k, v in p["time"].items() if k.startswith("proxy_"))
    t_p, t_b = p["time"]["hpo_trials"] / n, f["time"]["hpo_trials"] / len(f["trials"])
    row["trial_seconds"] = {"proxy": t_p, "base": t_b}
    row["search_saving"] = 1 - p["time"]["hpo_trials"] / f["time"]["hpo_trials"]
    row["creation_seconds"] = creation
    final_p, final_f = p["time"]["transfer"], f["time"]["transfer"]
    row["trials_for_half_time"] = (
        (creation + final_p - 0.5 * final_f) / (0.5 * t_b - t_p) if 0.5 * t_b > t_p else None)
    rows.append(row)
    phases[method] = (p["time"], f["time"])
    table.append([method, row["trials"], f"{tf:.0f}", f"{tp:.0f}", f"{row['saving']:.0%}",
                  f"{row['full_test_acc']:.4f}", f"{row['proxy_test_acc']:.4f}",
                  f"{row['regret_points']:+.2f}"])
print(format_table(["method", "trials", "full s", "proxy s", "saving", "full test acc",
                    "proxy test acc", "regret (points)"], table))
for r in rows:
    split = ", ".join(f"{k} {v:.0f} s" for k, v in r["proxy_time"].items()
                      if k not in ("total", "hpo_wall"))
    half = r["trials_for_half_time"]
    print(f"  {r['method']}: proxy pipeline time = {split}; a trial takes "
          f"{r['trial_seconds']['proxy']:.1f} s on the proxy, {r['trial_seconds']['base']:.1f} s "
          f"on the base network (search alone {r['search_saving']:.0%} faster); the proxy "
          f"pipeline takes half the time from "
          f"{'never' if half is None else f'{half:.0f} trials'} on")
result = {"pipelines": rows}
if args.fidelity:
    fid = json.loads((args.fidelity / "fidelity.json").read_text())
    result["fidelity"] = {k: v for k, v in fid.items() if k != "configs"}
    k = fid["top_k"]
    print(f"fidelity over {len(fid['configs'])} configurations: Spearman rho "
          f"{fid['spearman_rho']:.3f}, Kendall tau {fid['kendall_tau']:.3f}, top-{k} overlap "
          f"{fid[f'top{k}_overlap']:.2f}; proxy {fid['seconds']['proxy']:.0f} s, base "
          f"{fid['seconds']['base']:.0f} s")
if args.out and rows:
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "proxy_hpo.json", result)
    fig, (ax,) = new_figure(width=7.0, height=3.2)
    labels, left = [], {}
    names = sorted({k for p, f in phases.values() for k in (*p, *f)} - {"total", "hpo_wall"})
    y = 0
    for method, (p, f) in phases.items():
        for label, t in (("full", f), ("proxy", p)):
            start = 0.0
            for i, name in enumerate(names):
                ax.barh(y, t.get(name, 0.0), left=start, color=f"C{i}",
                        label=name if y == 0 or name not in left else None)
                left[name] = True
                start += t.get(name, 0.0)
            labels.append(f"{method}: {label}")
            y += 1
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="seconds (2 CPU cores)", title="time of the two pipelines")
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, args.out / "proxy_hpo_time.png")
