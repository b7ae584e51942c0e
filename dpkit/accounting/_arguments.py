"""Checks and broadcasting for the accounting entry points.

Every public function of :mod:`dpkit.accounting` accepts scalars or arrays for
``noise_multiplier``, ``sampling_rate``, ``steps`` and ``delta``. This module
validates them once (a ``ValueError`` names the parameter, the allowed range and
the value) and broadcasts them to one shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dpkit._validate import check_array, check_choice, check_number

ACCOUNTANTS: tuple[str, ...] = (
    "moments",
    "rdp",
    "pld",
    "strong_composition",
    "naive_composition",
)


@dataclass(frozen=True)
class SgdArguments:
    """Validated DP-SGD parameters, all broadcast to ``shape``."""

    noise_multiplier: np.ndarray
    sampling_rate: np.ndarray
    steps: np.ndarray
    delta: np.ndarray
    shape: tuple[int, ...]
    is_scalar: bool


def _check_values(name: str, values: object, **bounds: object) -> np.ndarray:
    """Check a scalar with ``check_number`` (plainer message) or an array with ``check_array``."""
    if np.ndim(values) == 0 and not isinstance(values, np.ndarray):
        number = values.item() if isinstance(values, np.generic) else values
        return np.asarray(check_number(name, number, **bounds), dtype=np.float64)
    return check_array(name, values, **bounds)


def check_accountant(accountant: object) -> str:
    """Return ``accountant`` after checking it names one of :data:`ACCOUNTANTS`."""
    return check_choice("accountant", accountant, ACCOUNTANTS)


def check_steps(values: object, *, name: str = "steps") -> np.ndarray:
    """Return ``values`` as a float64 array of whole numbers >= 0.

    Float64 represents every integer up to 2**53 exactly, far beyond any step count.
    """
    steps = _check_values(name, values, low=0.0, high=math.inf, high_inclusive=False)
    fractional = steps != np.floor(steps)
    if fractional.any():
        first = steps[fractional].flat[0]
        raise ValueError(f"{name} must be whole numbers in [0, inf); got {first!r}")
    return steps


def check_delta(values: object) -> np.ndarray:
    """Return ``delta`` as a float64 array after checking it lies in (0, 1)."""
    return _check_values("delta", values, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)


def check_noise_multiplier(values: object) -> np.ndarray:
    """Return ``noise_multiplier`` as a float64 array after checking it lies in (0, inf)."""
    return _check_values("noise_multiplier", values, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)


def check_sampling_rate(values: object) -> np.ndarray:
    """Return ``sampling_rate`` as a float64 array after checking it lies in (0, 1]."""
    return _check_values("sampling_rate", values, low=0.0, high=1.0, low_inclusive=False)


def check_sgd_arguments(
    *, noise_multiplier: object, sampling_rate: object, steps: object, delta: object
) -> SgdArguments:
    """Validate the four DP-SGD parameters and broadcast them to one shape."""
    sigma = check_noise_multiplier(noise_multiplier)
    q = check_sampling_rate(sampling_rate)
    t = check_steps(steps)
    d = check_delta(delta)
    try:
        sigma, q, t, d = np.broadcast_arrays(sigma, q, t, d)
    except ValueError:
        shapes = ", ".join(str(np.shape(a)) for a in (noise_multiplier, sampling_rate, steps, delta))
        raise ValueError(
            "noise_multiplier, sampling_rate, steps and delta must broadcast to one shape; "
            f"got shapes {shapes}"
        ) from None
    is_scalar = all(np.ndim(a) == 0 for a in (noise_multiplier, sampling_rate, steps, delta))
    return SgdArguments(sigma, q, t, d, sigma.shape, is_scalar)


def check_orders(orders: object, *, integer: bool = False) -> np.ndarray:
    """Return Renyi ``orders`` as a sorted 1-D float64 array of distinct values > 1.

    With ``integer=True`` (the moments accountant) every order must also be a
    whole number, because the paper's log moments are defined at integer lambda.
    """
    values = check_array("orders", orders, low=1.0, high=math.inf, low_inclusive=False, high_inclusive=False)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"orders must be a non-empty 1-D sequence of numbers > 1; got shape {values.shape}")
    if integer:
        fractional = values != np.floor(values)
        if fractional.any():
            raise ValueError(
                "orders must be whole numbers >= 2 for the moments accountant; "
                f"got {values[fractional][0]!r}"
            )
    return np.unique(values)
