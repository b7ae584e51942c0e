"""Properties of every accountant over wide parameter ranges (hypothesis).

Ranges: sampling rate 1e-6..1, noise multiplier 0.3..1e3, steps 1..1e7, delta 1e-12..0.1.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpkit.accounting import epsilon, noise_multiplier_for

rates = st.floats(min_value=1e-6, max_value=1.0)
sigmas = st.floats(min_value=0.3, max_value=1e3)
step_counts = st.integers(min_value=1, max_value=10**7)
deltas = st.floats(min_value=1e-12, max_value=0.1)
factors = st.floats(min_value=1.0, max_value=10.0)

FAST = ["rdp", "moments", "strong_composition", "naive_composition"]
# Relative and absolute slack for floating-point noise in monotonicity checks.
REL, ABS = 1e-9, 1e-12


def _eps(accountant: str, **kwargs: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # order-edge advice is expected at extremes
        return epsilon(accountant=accountant, **kwargs)


def _no_larger(a: float, b: float) -> bool:
    return a <= b * (1 + REL) + ABS


@pytest.mark.parametrize("accountant", FAST)
@settings(max_examples=40, deadline=None)
@given(q=rates, sigma=sigmas, steps=step_counts, delta=deltas)
def test_epsilon_finite_and_non_negative(accountant, q, sigma, steps, delta):
    value = _eps(accountant, noise_multiplier=sigma, sampling_rate=q, steps=steps, delta=delta)
    assert math.isfinite(value)
    assert value >= 0


@pytest.mark.parametrize("accountant", FAST)
@settings(max_examples=30, deadline=None)
@given(q=rates, sigma=sigmas, steps=step_counts, delta=deltas, factor=factors)
def test_epsilon_monotone_in_each_argument(accountant, q, sigma, steps, delta, factor):
    base = dict(noise_multiplier=sigma, sampling_rate=q, steps=steps, delta=delta)
    value = _eps(accountant, **base)
    more_steps = _eps(accountant, **{**base, "steps": min(int(steps * factor) + 1, 10**7)})
    more_rate = _eps(accountant, **{**base, "sampling_rate": min(q * factor, 1.0)})
    more_noise = _eps(accountant, **{**base, "noise_multiplier": sigma * factor})
    more_delta = _eps(accountant, **{**base, "delta": min(delta * factor, 0.1)})
    assert _no_larger(value, more_steps)
    assert _no_larger(value, more_rate)
    assert _no_larger(more_noise, value)
    assert _no_larger(more_delta, value)


@settings(max_examples=40, deadline=None)
@given(q=rates, sigma=sigmas, steps=step_counts, delta=deltas)
def test_rdp_never_above_moments(q, sigma, steps, delta):
    """The default RDP orders contain 2..33 and its conversion is never looser than the tail bound."""
    args = dict(noise_multiplier=sigma, sampling_rate=q, steps=steps, delta=delta)
    assert _no_larger(_eps("rdp", **args), _eps("moments", **args))


@settings(max_examples=12, deadline=None)
@given(q=rates, sigma=sigmas, steps=step_counts, delta=st.floats(min_value=1e-10, max_value=0.1))
def test_pld_finite_and_at_most_rdp(q, sigma, steps, delta):
    """PLD is near-exact, so it stays below RDP up to its discretisation error (2% or 0.005)."""
    args = dict(noise_multiplier=sigma, sampling_rate=q, steps=steps, delta=delta)
    pld_value = _eps("pld", **args)
    assert math.isfinite(pld_value)
    assert pld_value >= 0
    assert pld_value <= _eps("rdp", **args) * 1.02 + 0.005


@pytest.mark.parametrize("accountant", ["rdp", "moments"])
@settings(max_examples=15, deadline=None)
@given(q=st.floats(min_value=1e-4, max_value=1.0), sigma=st.floats(min_value=0.5, max_value=50.0),
       steps=st.integers(min_value=1, max_value=10**5), delta=st.floats(min_value=1e-10, max_value=1e-2))
def test_calibration_round_trips(accountant, q, sigma, steps, delta):
    args = dict(sampling_rate=q, steps=steps, delta=delta)
    target = _eps(accountant, noise_multiplier=sigma, **args)
    if target <= 0 or (accountant == "moments" and target <= math.log(1 / delta) / 32 * 1.001):
        return  # no smallest noise multiplier exists at epsilon 0 or at the moments floor
    found = noise_multiplier_for(target_epsilon=target, accountant=accountant, **args)
    assert _eps(accountant, noise_multiplier=found, **args) <= target
    assert found <= sigma * 1.01
