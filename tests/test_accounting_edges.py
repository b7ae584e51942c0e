"""Edge cases of ``dpkit.accounting.epsilon``: closed forms, extremes and invalid input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dpkit.accounting import ACCOUNTANTS, epsilon
from dpkit.accounting.rdp import DEFAULT_ORDERS

VALID = dict(noise_multiplier=1.0, sampling_rate=0.01, steps=1000, delta=1e-5)


@pytest.fixture(autouse=True)
def _floating_point_errors_raise():
    """Any overflow, invalid operation or division by zero inside NumPy fails the test; underflow to 0 is fine."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield


def test_full_batch_rdp_is_composed_gaussian_closed_form():
    """q = 1: T Gaussian steps have RDP T * a / (2 sigma^2); convert with Proposition 12 by hand."""
    sigma, steps, delta = 3.0, 50, 1e-6
    orders = np.array(DEFAULT_ORDERS)
    rdp = steps * orders / (2 * sigma**2)
    candidates = rdp + np.log1p(-1 / orders) - np.log(delta * orders) / (orders - 1)
    expected = candidates[orders > 1.01].min()
    got = epsilon(noise_multiplier=sigma, sampling_rate=1.0, steps=steps, delta=delta, accountant="rdp")
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_zero_steps_give_zero_epsilon(accountant):
    assert epsilon(**{**VALID, "steps": 0}, accountant=accountant) == 0.0


def test_tiny_noise_warns_order_edge():
    with pytest.warns(RuntimeWarning, match="edge of the order list"):
        got = epsilon(noise_multiplier=0.1, sampling_rate=0.01, steps=100_000, delta=1e-5, accountant="rdp")
    assert math.isfinite(got)
    assert got > 0


@pytest.mark.parametrize("accountant", ["rdp", "moments", "pld", "strong_composition", "naive_composition"])
def test_ten_million_steps_finite(accountant):
    """10^7 steps give a finite epsilon; benchmarks/accounting.py times this case (under 1 s is the target)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an order-edge warning is allowed here
        got = epsilon(noise_multiplier=1.0, sampling_rate=0.01, steps=10**7, delta=1e-5, accountant=accountant)
    assert math.isfinite(got)
    assert got > 0


@pytest.mark.parametrize("orders", [[1.0, 2.0], [0.5, 3.0], [2.0, -4.0], [2.0, float("nan")]])
def test_orders_at_or_below_one_rejected(orders):
    with pytest.raises(ValueError, match="orders"):
        epsilon(**VALID, orders=orders)


def test_fractional_moment_orders_rejected():
    with pytest.raises(ValueError, match="orders"):
        epsilon(**VALID, accountant="moments", orders=[2.5, 3.0])


@pytest.mark.parametrize("delta", [0.0, 1.0, 1.5, -1e-5, float("nan")])
def test_invalid_delta_rejected(delta):
    with pytest.raises(ValueError, match="delta"):
        epsilon(**{**VALID, "delta": delta})


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.01, float("nan")])
def test_invalid_sampling_rate_rejected(rate):
    with pytest.raises(ValueError, match="sampling_rate"):
        epsilon(**{**VALID, "sampling_rate": rate})


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_invalid_noise_multiplier_rejected(sigma):
    with pytest.raises(ValueError, match="noise_multiplier"):
        epsilon(**{**VALID, "noise_multiplier": sigma})


@pytest.mark.parametrize("steps", [-1, 2.5, float("nan")])
def test_invalid_steps_rejected(steps):
    with pytest.raises(ValueError, match="steps"):
        epsilon(**{**VALID, "steps": steps})


def test_invalid_entry_in_array_rejected():
    with pytest.raises(ValueError, match="noise_multiplier"):
        epsilon(**{**VALID, "noise_multiplier": np.array([1.0, np.nan])})


def test_unknown_accountant_rejected():
    with pytest.raises(ValueError, match="accountant"):
        epsilon(**VALID, accountant="gdp")


def test_orders_rejected_for_accountants_without_orders():
    with pytest.raises(ValueError, match="orders"):
        epsilon(**VALID, accountant="pld", orders=[2.0, 3.0])


def test_scalar_arguments_give_float():
    assert type(epsilon(**VALID)) is float


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_grid_matches_pointwise(accountant):
    sigmas = np.array([0.8, 2.0])[:, None]
    steps = np.array([0, 100, 1000])[None, :]
    grid = epsilon(noise_multiplier=sigmas, sampling_rate=0.02, steps=steps, delta=1e-5, accountant=accountant)
    assert grid.shape == (2, 3)
    for i, sigma in enumerate(sigmas[:, 0]):
        for j, t in enumerate(steps[0]):
            point = epsilon(noise_multiplier=sigma, sampling_rate=0.02, steps=int(t), delta=1e-5, accountant=accountant)
            assert grid[i, j] == pytest.approx(point, rel=1e-12)


def test_shapes_that_do_not_broadcast_rejected():
    with pytest.raises(ValueError, match="broadcast"):
        epsilon(**{**VALID, "noise_multiplier": np.ones(2), "steps": np.ones(3)})
