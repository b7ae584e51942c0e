"""Time a 27-point sweep (3 noise multipliers x 3 clipping norms x 3 lot sizes) on digits.

Prints the median wall time of:

* a cold sweep into an empty store, on the default pool of 2 worker processes
  (target: under 30 s on 2 cores);
* a rerun of the same sweep from the store, in process (target: under 2 s);
* the same rerun as a `dpkit sweep` command, interpreter start-up included.

Usage: python benchmarks/sweep.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dpkit.sweep import run

GRID = {"noise_multiplier": [0.8, 1.2, 2.0], "clip_norm": [0.5, 1.0, 4.0], "lot_size": [64, 128, 256]}
SETTINGS = {"epochs": 10, "hidden": (128,), "learning_rate": 0.2, "delta": 1e-5}


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _cli_command(store: Path) -> list[str]:
    def joined(values):
        return ",".join(str(value) for value in values)

    return [
        sys.executable, "-m", "dpkit", "sweep", "--dataset", "digits",
        "--noise-multiplier", joined(GRID["noise_multiplier"]), "--clip-norm", joined(GRID["clip_norm"]),
        "--lot-size", joined(GRID["lot_size"]), "--epochs", str(SETTINGS["epochs"]),
        "--hidden", joined(SETTINGS["hidden"]), "--learning-rate", str(SETTINGS["learning_rate"]),
        "--delta", str(SETTINGS["delta"]), "--store", str(store),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cold sweeps to time (default: 3); reruns are timed 5 times")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        cold = []
        for repeat in range(args.repeats):
            store = Path(folder) / f"cold{repeat}.sqlite"
            cold.append(_timed(lambda: run(GRID, dataset="digits", store=store, max_workers=2, progress=False, **SETTINGS)))
        store = Path(folder) / "cold0.sqlite"
        rerun = [_timed(lambda: run(GRID, dataset="digits", store=store, progress=False, **SETTINGS)) for _ in range(5)]
        command = _cli_command(store)
        cli = [_timed(lambda: subprocess.run(command, check=True, capture_output=True)) for _ in range(5)]

    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"27-point sweep on digits ({SETTINGS['epochs']} epochs, hidden {SETTINGS['hidden']}), 2 worker processes")
    print(f"cold sweep:             median {statistics.median(cold):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in cold)})  target < 30 s")
    print(f"rerun from the store:   median {statistics.median(rerun):6.3f} s  (runs: {', '.join(f'{t:.3f}' for t in rerun)})  target < 2 s")
    print(f"`dpkit sweep` rerun:    median {statistics.median(cli):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in cli)}), start-up included")


if __name__ == "__main__":
    main()
