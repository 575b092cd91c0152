"""`moprune run` SIGKILLed at random times until it finishes: the report and every model
must be those of an uninterrupted run (timings aside).

The same config is run once without faults (the reference), then again into another
directory, killed with SIGKILL (its whole process group) after each start at the
reference's start-up time plus a uniform share of its work (up to 1.5 / ``--kills`` of
it), restarted with the same command, and so on until ``--kills`` kills have landed (or a
start ends before its kill); the last start runs to its end. Compared with the reference:
report.md with its timing rows masked, every JSON result with its timing keys dropped,
and every model file (``*.pt``) tensor for tensor.

    python benchmarks/run_faults.py --out runs/run-faults              # real Fashion-MNIST
    python benchmarks/run_faults.py --kills 3 --data-root DIR --out X  # other IDX files

Prints the kills (with the stage each one hit) and the comparison, writes
``faults.json`` in ``--out``; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from moprune.hpo.pipeline import interrupted

#: The pipeline the benchmark kills, with moprune's defaults: the proxy recipe's path of
#: LeNet-5, its knee, compaction, the pay check and a 12-trial HPO (about a minute on 2
#: cores with real Fashion-MNIST). The pay check's decision is kept on resume.
CONFIG = """\
front:
  model: lenet5
  data: {limit_train: 10000, limit_eval: 1000%(root)s}
  train: {epochs: 8}
hpo:
  trials: 12
  epochs: 2
  top_k: 2
"""

#: report.md rows and JSON keys that hold wall times (different on every run), and the
#: lines that quote them (the proxy's verdict, the pay check's decision).
TIMING_ROWS = {"train_step_ms", "inference_ms", "proxy front", "proxy compaction",
               "hpo trials", "transfer", "total", "front", "knee", "compact", "hpo",
               "proxy (creation + trials + transfer)",
               "full (trials on the base network + transfer)", "predicted saving"}
TIMING_KEY = re.compile(r"seconds|_ms$|_s$|^time$|wall|datetime|^batch_size_timed$|saving"
                        r"|^measured$|break_even|^reason$")
TIMING_LINE = re.compile(r"^(- proxy: |Proxy decision: |moprune: pay check)")
TIMES = re.compile(r"-?\d[\d,.]*( s|%)")

#: Exit codes of a finished `moprune run` (3: it finished, and a stage's verdict failed).
DONE = (0, 3)


def run_command(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "moprune.cli", "run", str(config), "--out", str(out)]


def run_with_kills(config: Path, out: Path, *, kills: int, startup: float, work: float,
                   seed: int = 0, timeout: float = 1800.0) -> list[dict[str, Any]]:
    """Run ``config`` into ``out``, SIGKILLed after each start at ``startup`` plus a
    uniform time in ``[0, 1.5 * work / kills]`` (``startup``: an uninterrupted run's
    seconds before its first write, ``work``: the rest), so that the kills spread over
    every stage, until ``kills`` kills have landed or a start ends by itself first; then
    to its end. Returns one record per kill."""
    rng = random.Random(seed)
    landed: list[dict[str, Any]] = []
    start = time.monotonic()
    while True:
        proc = subprocess.Popen(run_command(config, out), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        if len(landed) < kills:
            at = startup + rng.uniform(0.0, 1.5 * work / kills)
            try:
                proc.wait(timeout=at)
            except subprocess.TimeoutExpired:
                stages = out / "stages.json"
                done = list(json.loads(stages.read_text())) if stages.is_file() else []
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                points = len(list(out.glob("front/points/*/point.json")))
                landed.append({"after_s": round(at, 2), "stages_done": done,
                               "front_points_done": points})
                continue
        _, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - start)))
        if proc.returncode not in DONE:
            raise RuntimeError(f"moprune run failed after {len(landed)} kills: {err}")
        return landed


def timed_run(config: Path, out: Path) -> tuple[float, float]:
    """An uninterrupted run: (seconds until it wrote config.yaml, seconds in all)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(run_command(config, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    startup = None
    while proc.poll() is None:
        if startup is None and (out / "config.yaml").exists():
            startup = time.monotonic() - t0
        time.sleep(0.05)
    if proc.returncode not in DONE:
        raise RuntimeError(f"the reference run failed: {proc.stderr.read() if proc.stderr else ''}")
    total = time.monotonic() - t0
    return (startup if startup is not None else total), total


def masked_report(path: Path) -> list[str]:
    """report.md's lines, the cells of its timing rows masked."""
    lines, timed_column = [], False
    for line in path.read_text().splitlines():
        if line.startswith("|"):  # a table row: its cells, whatever the column widths
            cells = [c.strip().strip("-") for c in line.strip().strip("|").split("|")]
            if not any(cells[1:]) or cells[0] == "network":  # a header or its rule
                timed_column = timed_column or cells[-1].endswith("(median)")
            elif timed_column:
                cells[-1] = "(timing)"  # the step-time column
            line = " | ".join([cells[0], "(timing)"] if cells[0] in TIMING_ROWS else cells)
        else:
            timed_column = False
            if TIMING_LINE.match(line):
                line = TIMES.sub("(timing)", line)
        lines.append(line)
    return lines


def comparable(value: Any, run: Path) -> Any:
    """A JSON value as two runs can agree on it: every timing key dropped (at any depth),
    the run directory in paths written ``RUN``, and the HPO's trial rows without the
    trials a kill interrupted (each was run again under another number), unnumbered."""
    if isinstance(value, dict):
        out = {k: comparable(v, run) for k, v in value.items() if not TIMING_KEY.search(k)}
        if value.get("stage") == "proxy":  # the proxy's verdict reads wall times
            out = {"stage": "proxy"}
        if isinstance(value.get("trials"), list) and value["trials"] and isinstance(
                value["trials"][0], dict) and "retry_of" in value["trials"][0]:
            rows = [r for r in out["trials"] if not interrupted(r)]
            out["trials"] = sorted(json.dumps({k: v for k, v in r.items()
                                                if k not in ("number", "retry_of")},
                                               sort_keys=True) for r in rows)
        if isinstance(out.get("counts"), dict):
            out["counts"] = {k: v for k, v in out["counts"].items() if k != "interrupted"}
        return out
    if isinstance(value, list):
        return [comparable(v, run) for v in value]
    if isinstance(value, str):
        return value.replace(str(run), "RUN")
    return value


def _tensors(value: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return {prefix: value}
    if isinstance(value, dict):
        out: dict[str, torch.Tensor] = {}
        for k, v in value.items():
            out.update(_tensors(v, f"{prefix}/{k}"))
        return out
    if isinstance(value, (list, tuple)):
        out = {}
        for i, v in enumerate(value):
            out.update(_tensors(v, f"{prefix}/{i}"))
        return out
    return {}


def compare(reference: Path, faulted: Path) -> dict[str, Any]:
    """What differs between the two run directories (timings aside)."""
    differ: list[str] = []
    if masked_report(reference / "report.md") != masked_report(faulted / "report.md"):
        differ.append("report.md")
    files = {p.relative_to(reference) for p in reference.rglob("*") if p.is_file()}
    other = {p.relative_to(faulted) for p in faulted.rglob("*") if p.is_file()}
    checked = {"json": 0, "models": 0}
    for rel in sorted(files | other):
        if rel.suffix not in (".json", ".pt"):
            continue
        if rel not in files or rel not in other:
            differ.append(f"{rel} (only in one run)")
            continue
        a, b = reference / rel, faulted / rel
        if rel.suffix == ".json":
            checked["json"] += 1
            if comparable(json.loads(a.read_text()), reference) != comparable(
                    json.loads(b.read_text()), faulted):
                differ.append(str(rel))
        else:
            checked["models"] += 1
            ta = _tensors(torch.load(a, map_location="cpu", weights_only=True))
            tb = _tensors(torch.load(b, map_location="cpu", weights_only=True))
            if ta.keys() != tb.keys() or any(not torch.equal(ta[k], tb[k]) for k in ta):
                differ.append(str(rel))
    return {"identical": not differ, "differ": differ, **checked}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/run-faults"))
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    config = args.out / "config.yaml"
    root = f", data_root: {json.dumps(args.data_root)}" if args.data_root else ""
    config.write_text(CONFIG % {"root": root})
    startup, total = timed_run(config, args.out / "reference")
    kills = run_with_kills(config, args.out / "killed", kills=args.kills, startup=startup,
                           work=total - startup, seed=args.seed)
    result = {"reference_seconds": round(total, 1), "startup_seconds": round(startup, 1),
              "kills": kills, **compare(args.out / "reference", args.out / "killed")}
    (args.out / "faults.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"reference run {total:.1f} s ({startup:.1f} s before its first write); "
          f"{len(kills)} kills:")
    for k in kills:
        print(f"  at {k['after_s']:5.2f} s: stages done {', '.join(k['stages_done']) or '-'}; "
              f"front points done {k['front_points_done']}")
    print(f"compared {result['json']} JSON files and {result['models']} model files and "
          f"report.md: " + ("identical (timings aside)" if result["identical"] else
                            f"DIFFERENT: {', '.join(result['differ'])}"))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
