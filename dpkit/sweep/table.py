"""Sweep results as a table: one row per grid point, mean and spread over seeds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from dpkit.sweep.grid import SWEEP_PARAMETERS, Run


def summarise(runs: Sequence[Run], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group runs by grid point, in grid order, and summarise each point over its seeds.

    ``test_accuracy_std`` is the sample standard deviation (n - 1 in the
    denominator), and 0 for a single seed. Epsilon, delta and steps do not depend
    on the seed, so each row reports the first seed's values.
    """
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.point, []).append(run)

    rows = []
    for point_runs in groups.values():
        found = [records[run.key] for run in point_runs if run.key in records]
        if not found:
            continue
        accuracies = [record["test_accuracy"] for record in found]
        first = found[0]
        rows.append({
            "dataset": first["dataset"],
            **{name: first[name] for name in SWEEP_PARAMETERS},
            "seeds": len(found),
            "test_accuracy": statistics.fmean(accuracies),
            "test_accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
            "test_accuracy_min": min(accuracies),
            "test_accuracy_max": max(accuracies),
            "epsilon": first["epsilon"],
            "delta": first["delta"],
            "steps": first["steps"],
            "seconds": statistics.fmean(record["seconds"] for record in found),
            "cached": sum(bool(record.get("cached", False)) for record in found),
            "keys": [record["key"] for record in found],
        })
    return rows


def to_table(rows: list[dict[str, Any]], *, as_frame: bool | None = None):
    """Return ``rows`` as a pandas DataFrame, or as the list itself.

    ``as_frame=None`` means a DataFrame when pandas is installed; True requires pandas.
    """
    if as_frame is False:
        return rows
    try:
        import pandas
    except ImportError:
        if as_frame:
            raise ImportError("as_frame=True needs pandas; install it with `pip install pandas`") from None
        return rows
    return pandas.DataFrame(rows)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Format summary rows as fixed-width text, one grid point per line, for the command line."""
    has_seeds = any(row["seeds"] > 1 for row in rows)
    header = (
        f"{'noise_multiplier':>16} {'clip_norm':>9} {'lot_size':>8} {'epochs':>6} {'learning_rate':>13} "
        f"{'epsilon':>8} {'test_accuracy':>13}" + (f" {'std':>7} {'seeds':>5}" if has_seeds else "")
    )
    lines = [header]
    for row in rows:
        line = (
            f"{row['noise_multiplier']:>16g} {row['clip_norm']:>9g} {row['lot_size']:>8d} {row['epochs']:>6d} "
            f"{row['learning_rate']:>13g} {_format_epsilon(row['epsilon']):>8} {row['test_accuracy']:>13.4f}"
        )
        if has_seeds:
            line += f" {row['test_accuracy_std']:>7.4f} {row['seeds']:>5d}"
        lines.append(line)
    return "\n".join(lines)


def _format_epsilon(epsilon: float) -> str:
    return "inf" if math.isinf(epsilon) else f"{epsilon:.3f}"
