"""`dpkit sweep`: a grid of DP-SGD runs from the command line, with a store and a plot.

Example::

    dpkit sweep --dataset digits --noise-multiplier 0.8,1.2,2 --clip-norm 0.5,1,4 \\
        --lot-size 64,256 --epochs 10 --store out/sweep.sqlite --plot out/sweep.png

Runs already in the store are read instead of trained. SIGTERM and Ctrl-C stop the
sweep, keep every finished run in the store, and report how many are done.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

DEFAULT_STORE = "out/sweep.sqlite"


def add_commands(
    subparsers,
    *,
    add_training_flags: Callable[[argparse.ArgumentParser], None],
    training_settings: Callable[[argparse.Namespace], dict],
) -> None:
    """Add the ``sweep`` subcommand.

    ``add_training_flags`` adds the flags it shares with ``dpkit train`` and
    ``training_settings`` turns the parsed flags into ``dpkit.train`` settings.
    """
    parser = subparsers.add_parser(
        "sweep",
        help="train a grid of noise multipliers, clipping norms and lot sizes; table, store and plot",
        # The swept flags below replace the single-value ones of `dpkit train`.
        conflict_handler="resolve",
    )
    add_training_flags(parser)
    parser.add_argument("--noise-multiplier", type=_float_list, default=(1.1,), help="comma-separated σ values (default: 1.1)")
    parser.add_argument("--clip-norm", type=_float_list, default=(1.0,), help="comma-separated C values (default: 1)")
    parser.add_argument("--lot-size", type=_int_list, default=(64,), help="comma-separated L values (default: 64)")
    parser.add_argument("--epochs", type=_int_list, default=(10,), help="comma-separated epoch counts (default: 10)")
    parser.add_argument("--learning-rate", type=_float_list, default=(0.1,), help="comma-separated SGD step sizes (default: 0.1)")
    parser.add_argument(
        "--seed", type=_int_list, default=(0,), help="seed, or comma-separated seeds: several give mean and spread (default: 0)"
    )
    parser.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite result store; finished runs are reused (default: {DEFAULT_STORE})")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--plot", metavar="PATH", help="save the accuracy-against-epsilon plot (PNG) to PATH")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV to PATH")
    parser.set_defaults(func=run_sweep_command, training_settings=training_settings)


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep that ``args`` describes, print the table and save the plot; return the exit status."""
    from dpkit.sweep import SweepInterrupted, format_table, run

    grid = {
        "noise_multiplier": args.noise_multiplier,
        "clip_norm": args.clip_norm,
        "lot_size": args.lot_size,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
    }
    # The swept settings and the seeds come from the grid, every other one from the shared flags.
    fixed = {name: value for name, value in args.training_settings(args).items() if name not in grid and name != "seed"}
    _stop_on_sigterm()
    try:
        rows = run(
            grid, dataset=args.dataset, seeds=args.seed, store=args.store, max_workers=args.workers,
            progress=sys.stderr.isatty(), as_frame=False, **fixed,
        )
    except SweepInterrupted as interrupted:
        print(f"dpkit: {interrupted}", file=sys.stderr)
        return 130

    print(format_table(rows))
    runs = sum(row["seeds"] for row in rows)
    cached = sum(row["cached"] for row in rows)
    print(f"{runs} runs: {cached} read from the store {args.store}, {runs - cached} trained")
    if args.csv:
        write_csv(rows, Path(args.csv))
        print(f"wrote {args.csv}")
    if args.plot:
        save_plot(rows, Path(args.plot), title=f"DP-SGD on {args.dataset}")
        print(f"wrote {args.plot}")
    return 0


def save_plot(rows: list[dict], path: Path, *, title: str) -> None:
    """Save the accuracy-against-epsilon plot of sweep ``rows``, with the Pareto frontier, as PNG."""
    from dpkit.plots import accuracy_vs_epsilon

    path.parent.mkdir(parents=True, exist_ok=True)
    figure = accuracy_vs_epsilon(rows, title=title)
    figure.savefig(path, dpi=120)


def write_csv(rows: list[dict], path: Path) -> None:
    """Write sweep ``rows`` as CSV, without the store keys."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [name for name in rows[0] if name != "keys"] if rows else []
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _stop_on_sigterm() -> None:
    """Make SIGTERM stop the sweep the way Ctrl-C does, so finished runs are reported and workers end."""
    parent = os.getpid()

    def handle(signum, frame):
        if os.getpid() != parent:
            # A forked worker inherited this handler: die the default way.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
