"""`dpkit demo`: the main job on the embedded digits dataset, as one sweep.

A small grid over noise multiplier, clipping norm and lot size, each point trained
with DP-SGD for a fixed number of epochs by :func:`dpkit.sweep.run`. The table is
printed and the accuracy-against-epsilon plot is saved as PNG. Finished runs go to a
store in the output folder, so a second ``dpkit demo`` reads them instead of training.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dpkit.sweep import format_table, run
from dpkit.sweep.cli import save_plot

DEMO_GRID = {
    "noise_multiplier": (0.8, 1.5, 4.0),
    "clip_norm": (0.5, 2.0),
    "lot_size": (32, 128),
}
DEMO_SETTINGS = {"epochs": 15, "hidden": (128,), "learning_rate": 0.2, "delta": 1e-5}
STORE_NAME = "sweep.sqlite"


def run_demo(*, output: Path, max_workers: int = 2) -> list[dict]:
    """Sweep the demo grid, print the table, and save ``accuracy_vs_epsilon.png`` in ``output``.

    Returns the sweep's summary rows (one dict per grid point).
    """
    output.mkdir(parents=True, exist_ok=True)
    rows = run(
        DEMO_GRID, dataset="digits", seeds=(0,), store=output / STORE_NAME, max_workers=max_workers,
        progress=sys.stderr.isatty(), as_frame=False, **DEMO_SETTINGS,
    )
    print(format_table(rows))
    cached = sum(row["cached"] for row in rows)
    print(f"{len(rows)} runs: {cached} read from the store {output / STORE_NAME}, {len(rows) - cached} trained")

    path = output / "accuracy_vs_epsilon.png"
    save_plot(rows, path, title="DP-SGD on digits")
    print(f"wrote {path}")
    return rows
