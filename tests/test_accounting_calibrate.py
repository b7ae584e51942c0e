"""Inverse queries: noise multiplier and step budget for a target epsilon."""

from __future__ import annotations

import math

import pytest

from dpkit.accounting import ACCOUNTANTS, epochs_for, epsilon, noise_multiplier_for, steps_for

SETTING = dict(sampling_rate=0.01, delta=1e-5)


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_noise_multiplier_meets_target_and_is_near_smallest(accountant):
    target, steps = 2.0, 3000
    sigma = noise_multiplier_for(target_epsilon=target, steps=steps, accountant=accountant, **SETTING)
    assert epsilon(noise_multiplier=sigma, steps=steps, accountant=accountant, **SETTING) <= target
    # One percent less noise must overshoot, so sigma is within 1% of the smallest that meets the target.
    assert epsilon(noise_multiplier=sigma / 1.01, steps=steps, accountant=accountant, **SETTING) > target


@pytest.mark.parametrize("accountant", ["rdp", "moments", "strong_composition"])
def test_steps_for_is_largest_within_budget(accountant):
    target, sigma = 2.0, 1.5
    steps = steps_for(target_epsilon=target, noise_multiplier=sigma, accountant=accountant, **SETTING)
    assert epsilon(noise_multiplier=sigma, steps=steps, accountant=accountant, **SETTING) <= target
    assert epsilon(noise_multiplier=sigma, steps=steps + 1, accountant=accountant, **SETTING) > target


def test_epochs_for_converts_steps():
    steps = steps_for(target_epsilon=3.0, noise_multiplier=1.1, **SETTING)
    epochs = epochs_for(target_epsilon=3.0, noise_multiplier=1.1, **SETTING)
    assert epochs == pytest.approx(steps * 0.01)
    assert math.ceil(epochs / 0.01 - 1e-9) == steps


def test_moments_floor_rejected_at_once():
    with pytest.raises(ValueError, match="unreachable.*moments"):
        noise_multiplier_for(target_epsilon=0.3, steps=1000, accountant="moments", **SETTING)


def test_single_step_over_budget_rejected():
    with pytest.raises(ValueError, match="single step"):
        steps_for(target_epsilon=0.1, noise_multiplier=0.5, sampling_rate=1.0, delta=1e-5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(target_epsilon=0.0, steps=10), "target_epsilon"),
        (dict(target_epsilon=float("nan"), steps=10), "target_epsilon"),
        (dict(target_epsilon=1.0, steps=0), "steps"),
        (dict(target_epsilon=1.0, steps=10, accountant="gdp"), "accountant"),
    ],
)
def test_invalid_calibration_arguments_rejected(kwargs, name):
    with pytest.raises(ValueError, match=name):
        noise_multiplier_for(**SETTING, **kwargs)
