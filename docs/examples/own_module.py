"""A user's own module and tensors, from data to a tuned knee, through the library alone.

    python docs/examples/own_module.py [OUT_DIR]

Random float images stand in for your data; replace ``x``/``y`` with yours.
"""

from __future__ import annotations

import sys
import tempfile

import torch
from torch import nn

import moprune
from moprune.front import Path


def make_net() -> nn.Module:
    """The user's network: any nn.Module (here an nn.Sequential)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(144, 64), nn.ReLU(), nn.Linear(64, 32),
                         nn.ReLU(), nn.Linear(32, 4))


def main(out: str) -> moprune.HPOResult:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (1000,), generator=g)  # four classes: which quadrant is lit
    x = torch.randn(1000, 1, 12, 12, generator=g)  # float images, on their own scale
    for c, (r, s) in enumerate([(0, 0), (0, 6), (6, 0), (6, 6)]):
        x[y == c, 0, r:r + 6, s:s + 6] += 0.5
    data = moprune.from_tensors(x, y, val_fraction=0.2, seed=0)

    # 1. The Pareto front of the user's module: a continuation path, one run of 8 epochs
    #    that records a point after every raise of the weight of f2 (group-l1: neurons).
    front = moprune.train_front(
        make_net(), data, method=Path(points=6, start_lam=0.99), complexity="group-l1",
        prox=True, train=moprune.TrainConfig(epochs=8, lr=0.05, batch_size=32),
        out=f"{out}/front")
    knee = front.knee("chord", axes="kept")
    print(f"knee {knee.key}: val acc {knee.val_acc:.3f}, kept {knee.kept:.1%}")

    # 2. The knee's trained network, made physically small.
    net = front.model(knee)
    small, report = moprune.compact(net, example_inputs=x[:2])
    print(f"compacted: {report.parameters_before} -> {report.parameters_after} parameters")
    moprune.save_model(small, f"{out}/knee-compact.pt")  # loads with factory=make_net

    # 3. Tune the full network on the knee's shape (every trial from fresh weights).
    result = moprune.tune(make_net(), data, proxy=small, trials=4, epochs=1,
                          sampler="random", top_k=1, out=f"{out}/hpo")
    print(f"best {result.best_params}: val acc {result.val_acc:.3f}, "
          f"{result.seconds['total']:.1f} s in all")
    return result


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="own-module-"))
