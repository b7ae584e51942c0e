"""The PLD accountant: an upper bound that tightens as the grid gets finer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from dpkit.accounting import epsilon
from dpkit.accounting.pld import discretise_loss, epsilon_pld


def _gaussian_delta(eps: float, mu: float) -> float:
    """Exact delta(eps) of the Gaussian mechanism with sensitivity/std ratio mu (Balle and Wang 2018, Theorem 8)."""
    return ndtr(-eps / mu + mu / 2) - math.exp(eps) * ndtr(-eps / mu - mu / 2)


def _gaussian_epsilon(mu: float, delta: float) -> float:
    low, high = 0.0, 100.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if _gaussian_delta(middle, mu) > delta else (low, middle)
    return high


@pytest.mark.parametrize("sigma, steps", [(2.0, 1), (5.0, 40), (20.0, 1000)])
def test_full_batch_matches_exact_gaussian_from_above(sigma, steps):
    """q = 1: T Gaussian steps equal one Gaussian with ratio sqrt(T)/sigma, whose delta(eps) is exact."""
    exact = _gaussian_epsilon(math.sqrt(steps) / sigma, 1e-5)
    got = epsilon(noise_multiplier=sigma, sampling_rate=1.0, steps=steps, delta=1e-5, accountant="pld")
    assert got >= exact
    assert got == pytest.approx(exact, rel=1e-3)


def test_finer_grid_never_raises_epsilon():
    args = (np.array([1.1]), np.array([0.01]), np.array([3000.0]))
    coarse = epsilon_pld(*args, delta=1e-5, value_interval=4e-4)
    fine = epsilon_pld(*args, delta=1e-5, value_interval=1e-4)
    finest = epsilon_pld(*args, delta=1e-5, value_interval=2.5e-5)
    assert coarse >= fine >= finest
    assert fine == pytest.approx(finest, rel=5e-4)


@pytest.mark.parametrize("direction", ["remove", "add"])
@pytest.mark.parametrize("q, sigma", [(0.01, 4.0), (0.3, 0.7), (1.0, 2.0)])
def test_discretisation_keeps_mass_and_validity(direction, q, sigma):
    """Connect-the-dots keeps total P-mass 1 and Q-mass at most 1 (E_P[exp(-loss)] <= 1)."""
    pmf = discretise_loss(sigma, q, 1e-3, direction=direction)
    assert pmf.masses.min() >= 0
    assert pmf.masses.sum() + pmf.infinity_mass == pytest.approx(1.0, abs=1e-12)
    losses = (pmf.offset + np.arange(pmf.masses.size)) * pmf.value_interval
    assert (pmf.masses * np.exp(-losses)).sum() <= 1.0 + 1e-12


def test_pld_below_rdp_on_paper_example():
    setting = dict(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000, delta=1e-5)
    assert epsilon(**setting, accountant="pld") < epsilon(**setting, accountant="rdp")
