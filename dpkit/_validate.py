"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` whose message names the parameter, the allowed
range and the value received, so that a caller never sees a NaN or a traceback
from deep inside NumPy. The command line turns these errors into one line.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _describe(value: object) -> str:
    """Format a received value for an error message."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    return repr(value)


def check_number(
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float after checking it is a finite number in the range.

    The range is written in interval notation in the message, for example
    "noise_multiplier must be in (0, inf); got -1.0".
    """
    interval = _interval(low, high, low_inclusive, high_inclusive)

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in {interval}; got {_describe(value)}")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{name} must be a number in {interval}; got nan")

    too_low = number < low or (number == low and not low_inclusive)
    too_high = number > high or (number == high and not high_inclusive)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}; got {_describe(value)}")
    return number


def check_integer(name: str, value: object, *, low: int = 0, high: int | None = None) -> int:
    """Return ``value`` as an int after checking it is a whole number in [low, high]."""
    interval = f"[{low}, {'inf' if high is None else high}]"
    is_whole_float = isinstance(value, float) and value.is_integer()
    if isinstance(value, bool) or not (isinstance(value, numbers.Integral) or is_whole_float):
        raise ValueError(f"{name} must be an integer in {interval}; got {_describe(value)}")

    number = int(value)
    if number < low or (high is not None and number > high):
        raise ValueError(f"{name} must be an integer in {interval}; got {number}")
    return number


def check_choice(name: str, value: object, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {_describe(value)}")
    return value  # type: ignore[return-value]


def check_array(
    name: str,
    values: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> np.ndarray:
    """Return ``values`` as a float64 array after checking every entry is finite and in range.

    The message quotes the first offending entry, so a grid with one bad point
    is easy to fix.
    """
    interval = _interval(low, high, low_inclusive, high_inclusive)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers in {interval}; got {_describe(values)}") from None

    if np.isnan(array).any():
        raise ValueError(f"{name} must be numbers in {interval}; got nan")
    too_low = (array < low) | ((array == low) & (not low_inclusive))
    too_high = (array > high) | ((array == high) & (not high_inclusive))
    bad = too_low | too_high
    if bad.any():
        first = float(array[bad].flat[0])
        raise ValueError(f"{name} must be in {interval}; got {first!r}")
    return array


def _interval(low: float, high: float, low_inclusive: bool, high_inclusive: bool) -> str:
    """Write a range in interval notation, such as "(0, inf)" or "[1, 10]"."""
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    return f"{left}{_format_bound(low)}, {_format_bound(high)}{right}"


def _format_bound(bound: float) -> str:
    if math.isinf(bound):
        return "inf" if bound > 0 else "-inf"
    if float(bound).is_integer():
        return str(int(bound))
    return repr(bound)
