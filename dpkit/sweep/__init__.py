"""Sweeps over noise multiplier, clipping norm, lot size, epochs and learning rate.

:func:`run` trains each point of a grid once per seed on any
:class:`concurrent.futures.Executor` and writes each finished run to a
:class:`SweepStore` at once, so a rerun or a resumed sweep trains only what is
missing. ``python -m dpkit sweep`` is the command-line front end.
"""

from dpkit.sweep.grid import SWEEP_PARAMETERS, Run, expand_grid
from dpkit.sweep.engine import SweepFailed, SweepInterrupted, run
from dpkit.sweep.store import StoreError, SweepStore, config_key
from dpkit.sweep.table import format_table

__all__ = [
    "SWEEP_PARAMETERS",
    "Run",
    "StoreError",
    "SweepFailed",
    "SweepInterrupted",
    "SweepStore",
    "config_key",
    "expand_grid",
    "format_table",
    "run",
]
