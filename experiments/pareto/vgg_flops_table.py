"""The flops path of the small VGG as a table: every point (raw and debiased), its knee
compacted with its channel counts per layer, against a dense VGG of the same epochs.

    python experiments/pareto/vgg_flops_table.py runs/vgg-flops-path-20 \
        --dense runs/vgg-dense-22 --out docs/results/path/vgg_flops_path_20.md

Needs ``moprune knee RUN --selector chord --compact`` run first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from torch import nn

from moprune.front import Front
from moprune.io import write_text
from moprune.models import load_model
from moprune.report import format_table


def channels(model: nn.Module) -> dict[str, int]:
    """Output channels of every convolution, by module name."""
    return {name: m.out_channels for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a moprune front run (flops path)")
    parser.add_argument("--dense", type=Path, required=True, help="a moprune train run")
    parser.add_argument("--selector", default="chord")
    parser.add_argument("--out", type=Path, required=True, help="markdown file to write")
    args = parser.parse_args()

    front = Front.load(args.run / "front.json")
    dense = json.loads((args.dense / "results.json").read_text())
    dense_acc, dense_epochs = dense["test_acc"], len(dense["history"])
    knee = json.loads((args.run / f"knee-{args.selector}.json").read_text())["point"]
    report = json.loads((args.run / f"knee-{args.selector}-compact.json").read_text())
    full = channels(load_model(args.run / f"knee-{args.selector}.pt"))
    small = channels(load_model(args.run / f"knee-{args.selector}-compact.pt"))

    rows = []
    for p in front.points:
        if p.retrained:
            continue
        raw = p.raw or {}
        rows.append([p.key, f"{p.lam:.6f}", f"{p.extras.get('epochs_trained', 0):.1f}",
                     raw.get("val_acc"), p.val_acc, p.test_acc, f"{p.flops_share:.3f}",
                     f"{1 / p.flops_share:.1f}x"])
    lines = [
        f"# {front.meta['model']}: flops path, {front.meta['epochs']} epochs, "
        f"{front.meta['splits']['train']} training images",
        "",
        "Every point of the path: its weight, the epochs the path had run, the raw validation "
        "accuracy, and after one epoch of debiasing (mask frozen, lam 0) the validation and "
        "test accuracy and the share of the dense FLOPs it keeps.",
        "",
        format_table(["point", "lam", "path epochs", "raw val acc", "val acc", "test acc",
                      "FLOPs share", "fewer FLOPs"], rows, markdown=True),
        "",
        f"Knee ({args.selector}, axes {front.meta.get('knee_axes')}): {knee['key']}, "
        f"debiased to {knee['epochs']} epochs in all: test accuracy {knee['test_acc']:.4f} "
        f"against {dense_acc:.4f} for the dense network trained {dense_epochs} epochs "
        f"({100 * (knee['test_acc'] - dense_acc):+.2f} points).",
        "",
        f"Compacted (dead channels removed, outputs unchanged): FLOPs per image "
        f"{report['before']['flops_per_image']:,} -> {report['after']['flops_per_image']:,} "
        f"(**{report['before']['flops_per_image'] / report['after']['flops_per_image']:.2f}x "
        f"fewer**), parameters {report['before']['parameters']:,} -> "
        f"{report['after']['parameters']:,}, test accuracy after compaction "
        f"{report['after'].get('test_acc')}.",
        "",
        format_table(["layer", "channels (dense)", "channels (knee, compacted)"],
                     [[name, full[name], small.get(name, "-")] for name in full], markdown=True),
        "",
    ]
    write_text(args.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
