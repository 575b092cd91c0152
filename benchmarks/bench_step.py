"""Time per training step: SMGD vs. weighted sum with pruning vs. plain SGD.

All variants run in one process, interleaved over repeats, on the same batch; the
medians and their ratios to plain SGD are printed (targets: SMGD, plain and normalised,
<= 1.10 x plain SGD; the proximal weighted-sum step <= 1.05 x).

    python benchmarks/bench_step.py [--models lenet5,vgg] [--steps 30] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from moprune.config import TrainConfig
from moprune.models import build_model
from moprune.solvers import CrossEntropySolver, SMGDSolver, WeightedSumSolver

VARIANTS = {
    "plain SGD": lambda: CrossEntropySolver(),
    "weighted sum + pruning": lambda: WeightedSumSolver(0.9, tau=1e-3),
    "weighted sum, proximal step": lambda: WeightedSumSolver(0.9, tau=None, prox=True),
    "SMGD (momentum) + pruning": lambda: SMGDSolver(variant="sgd", tau=1e-3),
    "SMGD normalised (l2) + pruning": lambda: SMGDSolver(variant="sgd", tau=1e-3,
                                                         normalize="l2"),
    "SMGD (Adam moments) + pruning": lambda: SMGDSolver(variant="adam", tau=1e-3),
}


def batch(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of real Fashion-MNIST images when installed, random ones otherwise."""
    try:
        from moprune.config import DataConfig
        from moprune.data import prepare_data

        data = prepare_data(DataConfig(limit_train=size, limit_eval=1))
        return next(iter(data.loader("train", batch_size=size, device=device)))
    except Exception:  # the timing does not depend on the pixels
        return torch.randn(size, 1, 28, 28, device=device), torch.randint(0, 10, (size,),
                                                                           device=device)


def time_steps(solver, model, x, y, steps: int) -> float:
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        solver.step(x, y)
    sync()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lenet5,vgg")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x, y = batch(args.batch_size, device)
    results = {}
    print(f"device {device}, {torch.get_num_threads()} threads, batch {args.batch_size}, "
          f"{args.steps} steps x {args.repeats} repeats (medians)")
    for name in args.models.split(","):
        runs = {}
        for variant, make in VARIANTS.items():
            torch.manual_seed(0)
            model = build_model(name, in_channels=1, num_classes=10, image_size=28).to(device)
            solver = make()
            adam = variant.startswith("SMGD (Adam")
            solver.bind(model, TrainConfig(lr=1e-3 if adam else 0.01,
                                           optimizer="adam" if adam else "sgd"))
            time_steps(solver, model, x, y, 3)  # warm-up
            runs[variant] = (solver, model)
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(args.repeats):
            for variant, (solver, model) in runs.items():
                times[variant].append(time_steps(solver, model, x, y, args.steps))
        base = statistics.median(times["plain SGD"])
        print(f"\n{name}")
        print(f"  {'variant':32s} {'ms/step':>8s} {'x plain SGD':>12s}")
        results[name] = {}
        for variant, ts in times.items():
            med = statistics.median(ts)
            results[name][variant] = {"ms_per_step": 1e3 * med, "ratio": med / base}
            print(f"  {variant:32s} {1e3 * med:8.2f} {med / base:12.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
