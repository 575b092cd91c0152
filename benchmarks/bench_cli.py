"""How fast the command line answers: ``moprune --version``, ``--help`` and a one-line
error (each a fresh interpreter, as a user types it; median of N runs).

    python benchmarks/bench_cli.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "--version": ["--version"],
    "--help": ["--help"],
    "front --help": ["front", "--help"],
    "a bad flag (front --lr -1)": ["front", "--out", "/tmp/never", "--lr", "-1"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'command':<28} median s   (of {args.repeats})")
    for name, argv in CASES.items():
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "moprune.cli", *argv],
                           capture_output=True, check=False)
            times.append(time.perf_counter() - t0)
        print(f"{name:<28} {statistics.median(times):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
