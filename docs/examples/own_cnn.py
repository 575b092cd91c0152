"""Your own CNN, made physically small by the default recipe and tuned on its knee.

    python docs/examples/own_cnn.py [OUT_DIR]

The recipe (:mod:`moprune.hpo.proxy`) trains a continuation path that cuts whole
channels along the FLOPs (complexity ``flops``, the channel corrector), takes its knee
above 5% of the FLOPs, and removes the dead channels: a network with fewer channels, not
one with scattered zeros. Random images stand in for your data; replace ``x``/``y``.
"""

from __future__ import annotations

import sys
import tempfile

import torch
from torch import nn

import moprune
from moprune.hpo.proxy import make_proxy
from moprune.pruning import count_flops


def make_cnn() -> nn.Module:
    """The user's network: two convolutions and a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 4))


def data() -> moprune.DataSplits:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (3000,), generator=g)  # four classes: which quadrant is lit
    x = torch.randn(3000, 1, 16, 16, generator=g)
    for c, (r, s) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
        x[y == c, 0, r:r + 8, s:s + 8] += 0.6
    return moprune.from_tensors(x, y, val_fraction=0.2, test_fraction=0.2, seed=0)


def main(out: str) -> moprune.HPOResult:
    splits = data()
    train = moprune.TrainConfig(epochs=6, lr=0.05, batch_size=64)

    # 1. The recipe's proxy: the channel path of the CNN, its knee, compacted.
    proxy, creation, knee = make_proxy(make_cnn(), splits, train, f"{out}/proxy")
    image = torch.zeros(1, 1, 16, 16)
    dense, small = count_flops(make_cnn(), image), count_flops(proxy["model"], image)
    print(f"knee {knee['point']}: {knee['flops_share']:.1%} of the FLOPs by the path's "
          f"count; compacted {dense:,} -> {small:,} FLOPs per image ({small / dense:.1%}), "
          f"{sum(p.numel() for p in make_cnn().parameters()):,} -> "
          f"{sum(p.numel() for p in proxy['model'].parameters()):,} parameters; made in "
          f"{sum(creation.values()):.0f} s")

    # 2. Tune the CNN on that proxy (proxy="auto" with the path just made: the pay check
    #    decides whether its trials are cheaper), the top 3 trained as long as a real
    #    training (6 epochs), and judged against the defaults trained as long.
    result = moprune.tune(make_cnn(), splits, proxy="auto", proxy_front=f"{out}/proxy",
                          trials=12, epochs=2, train=train, out=f"{out}/hpo")
    raw = result.to_dict()
    default = raw["default"]["val_acc"]
    print(f"{raw['proxy_decision']['reason']}; tuned validation accuracy "
          f"{result.val_acc:.4f} against {default:.4f} with the default hyperparameters")
    for verdict in raw["verdicts"]:
        print(f"  {verdict['stage']}: {'ok' if verdict['ok'] else 'PROBLEM'}: "
              f"{verdict['finding']}")
    return result


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="own-cnn-"))
