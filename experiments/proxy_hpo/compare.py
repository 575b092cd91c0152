"""Proxy pipelines against the full pipeline, per HPO method: wall time, saving, regret.

    python experiments/proxy_hpo/compare.py RUN/hpo [--fidelity RUN/fidelity/*] \
        [--out docs/results]

RUN/hpo holds `moprune hpo` run directories named full-METHOD (trials on the base
network) and PROXY-METHOD (trials on the proxy PROXY, e.g. knee-tpe, uniform25-tpe).
Regret = the full pipeline's test accuracy minus the proxy pipeline's (positive: the
proxy's choice is worse). Time = everything the pipeline trained: the proxy's creation
(front and compaction), the trials, and the final training on the base network.
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
parser.add_argument("hpo", type=Path)
parser.add_argument("--fidelity", type=Path, nargs="*", default=[],
                    help="`moprune fidelity` run directories, one per proxy")
parser.add_argument("--out", type=Path, default=None, help="write compare.json and PNG here")
args = parser.parse_args()



def _flops_share(recipe: dict, model: str) -> float:
    """The proxy's FLOPs per image as a share of the base network's."""
    shape = {k: recipe[k] for k in ("in_channels", "num_classes", "image_size")}
    x = torch.zeros(1, shape["in_channels"], shape["image_size"], shape["image_size"])
    proxy = build_from_recipe(recipe, seed=0)
    return count_flops(proxy, x) / count_flops(build_model(model, **shape, seed=0), x)


rows, table, phases, histories = [], [], {}, []
for proxy_dir in sorted(args.hpo.iterdir(), key=lambda d: d.name.partition("-")[::-2]):
    proxy, _, method = proxy_dir.name.partition("-")
    full_dir = args.hpo / f"full-{method}"
    if proxy == "full":
        continue
    if not (proxy_dir / "results.json").is_file() or not (full_dir / "results.json").is_file():
        continue
    p = json.loads((proxy_dir / "results.json").read_text())
    f = json.loads((full_dir / "results.json").read_text())
    tp, tf = p["time"]["total"], f["time"]["total"]
    row = {"method": method, "proxy": proxy, "trials": len(p["trials"]),
           "top_k": len(p["transfer"]),
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
    phases.setdefault(method, {"full": f["time"]})[proxy] = p["time"]
    histories += [proxy_dir, full_dir]
    table.append([method, proxy, row["trials"], row["top_k"], f"{tf:.0f}", f"{tp:.0f}",
                  f"{row['saving']:.0%}",
                  f"{row['full_test_acc']:.4f}", f"{row['proxy_test_acc']:.4f}",
                  f"{row['regret_points']:+.2f}"])
print(format_table(["method", "proxy", "trials", "top-k", "full s", "proxy s", "saving",
                    "full test acc",
                    "proxy test acc", "regret (points)"], table))
for r in rows:
    split = ", ".join(f"{k} {v:.0f} s" for k, v in r["proxy_time"].items()
                      if k not in ("total", "hpo_wall"))
    half = r["trials_for_half_time"]
    print(f"  {r['method']}, {r['proxy']}: proxy pipeline time = {split}; a trial takes "
          f"{r['trial_seconds']['proxy']:.1f} s on the proxy, {r['trial_seconds']['base']:.1f} s "
          f"on the base network (search alone {r['search_saving']:.0%} faster); the proxy "
          f"pipeline takes half the time from "
          f"{'never' if half is None else f'{half:.0f} trials'} on")
result = {"pipelines": rows}
result["fidelity"] = {}
for fid_dir in args.fidelity:
    fid = json.loads((fid_dir / "fidelity.json").read_text())
    legacy = fid_dir / "fidelity-settings.json"  # the settings' name before config.yaml
    settings = (json.loads(legacy.read_text()) if legacy.is_file()
                else yaml.safe_load((fid_dir / "config.yaml").read_text()))
    k, n = fid["top_k"], len(fid["configs"])
    share = _flops_share(settings["proxy"], settings["run"]["model"])
    result["fidelity"][fid_dir.name] = {
        **{key: v for key, v in fid.items() if key != "configs"}, "configs": n,
        "flops_share": share,
        "trial_seconds": {"proxy": fid["seconds"]["proxy"] / n, "base": fid["seconds"]["base"] / n}}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fid_dir / "fidelity.png",
                        args.out / f"proxy_hpo_fidelity-{fid_dir.name}.png")
    print(f"fidelity of {fid_dir.name} ({share:.1%} of the FLOPs) over {n} configurations: "
          f"Spearman rho "
          f"{fid['spearman_rho']:.3f}, Kendall tau {fid['kendall_tau']:.3f}, top-{k} overlap "
          f"{fid[f'top{k}_overlap']:.2f}; a training takes {fid['seconds']['proxy'] / n:.1f} s "
          f"on the proxy, {fid['seconds']['base'] / n:.1f} s on the base network")
if args.out and rows:
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "proxy_hpo.json", result)
    for run in dict.fromkeys(histories):  # each study's optimisation history
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
