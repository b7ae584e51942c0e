"""The DP-SGD step functions: sensitivity of the clipped sum, noise scale, averaging, schedules."""

import numpy as np
import pytest

from dpkit.dpsgd import (
    NumpyMLPBackend,
    add_gaussian_noise,
    average_over_expected_lot,
    clipped_gradient_sum,
    learning_rate_at,
    sgd_update,
)
from dpkit.model import init_mlp


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    params = init_mlp((8, 16, 4), rng=rng)
    x = rng.normal(size=(50, 8)) * 3.0
    labels = rng.integers(0, 4, size=50)
    return params, x, labels


def _flat(parts):
    return np.concatenate([p.ravel() for p in parts])


@pytest.mark.parametrize("method", ["fast", "plain"])
def test_clipped_sum_sensitivity_is_clip_norm(problem, method):
    params, x, labels = problem
    clip_norm = 0.7
    lot = np.arange(len(x))
    full, norms = clipped_gradient_sum(params, x, labels, lot, clip_norm=clip_norm, batch_size=16, method=method)
    assert (norms > clip_norm).sum() > 10  # most examples are really clipped

    for removed in range(len(x)):
        neighbour = np.delete(lot, removed)
        reduced, _ = clipped_gradient_sum(params, x, labels, neighbour, clip_norm=clip_norm, batch_size=16, method=method)
        assert np.linalg.norm(_flat(full) - _flat(reduced)) <= clip_norm * (1 + 1e-12)


def test_batch_size_does_not_change_the_clipped_sum(problem):
    params, x, labels = problem
    lot = np.arange(0, 50, 2)
    whole, _ = clipped_gradient_sum(params, x, labels, lot, clip_norm=1.0, batch_size=100)
    pieces, _ = clipped_gradient_sum(params, x, labels, lot, clip_norm=1.0, batch_size=3)
    np.testing.assert_allclose(_flat(whole), _flat(pieces), rtol=1e-12, atol=1e-14)


def test_empty_lot_gives_zero_signal(problem):
    params, x, labels = problem
    total, norms = clipped_gradient_sum(params, x, labels, np.zeros(0, dtype=int), clip_norm=1.0, batch_size=8)
    assert len(norms) == 0
    assert not _flat(total).any()


def test_averaged_gradient_noise_std():
    noise_multiplier, clip_norm, lot_size = 1.3, 0.8, 50
    zeros = [np.zeros((200, 100)), np.zeros(100)]
    noisy = add_gaussian_noise(zeros, noise_multiplier=noise_multiplier, clip_norm=clip_norm, rng=np.random.default_rng(0))
    averaged = _flat(average_over_expected_lot(noisy, lot_size=lot_size))

    expected = noise_multiplier * clip_norm / lot_size
    # The sample std of n = 20100 normals has relative standard error 1 / sqrt(2n) ≈ 0.5%.
    assert averaged.std() == pytest.approx(expected, rel=0.025)
    assert abs(averaged.mean()) < 5 * expected / np.sqrt(averaged.size)


def test_backend_step_noise_matches_sigma_c_over_l(problem):
    """Two steps from the same parameters and lot differ only by noise of std sqrt(2)·σC/L per coordinate."""
    _, x, labels = problem
    settings = dict(layer_sizes=(8, 64, 4), clip_norm=0.5, noise_multiplier=2.0, lot_size=10, batch_size=7)
    first = NumpyMLPBackend(**settings, init_rng=np.random.default_rng(1))
    second = NumpyMLPBackend(**settings, init_rng=np.random.default_rng(1))
    lot = np.arange(12)
    first.noisy_step(x, labels, lot, learning_rate=1.0, noise_rng=np.random.default_rng(2))
    second.noisy_step(x, labels, lot, learning_rate=1.0, noise_rng=np.random.default_rng(3))

    difference = _flat(first.params) - _flat(second.params)
    expected = np.sqrt(2) * 2.0 * 0.5 / 10
    assert difference.std() == pytest.approx(expected, rel=0.05)


def test_empty_lot_step_still_adds_noise(problem):
    _, x, labels = problem
    backend = NumpyMLPBackend(layer_sizes=(8, 16, 4), clip_norm=1.0, noise_multiplier=1.0, lot_size=10, batch_size=8)
    before = _flat(backend.params)
    backend.noisy_step(x, labels, np.zeros(0, dtype=int), learning_rate=1.0, noise_rng=np.random.default_rng(0))
    change = _flat(backend.params) - before
    assert change.std() == pytest.approx(1.0 * 1.0 / 10, rel=0.1)


def test_linear_decay_schedule():
    settings = dict(learning_rate=0.1, final_learning_rate=0.052, decay_epochs=10)
    assert learning_rate_at(0, **settings) == pytest.approx(0.1)
    assert learning_rate_at(5, **settings) == pytest.approx(0.076)
    assert learning_rate_at(10, **settings) == pytest.approx(0.052)
    assert learning_rate_at(30, **settings) == pytest.approx(0.052)
    assert learning_rate_at(7, learning_rate=0.3, final_learning_rate=None, decay_epochs=None) == 0.3


def test_momentum_accumulates_gradients():
    params = [np.array([1.0])]
    gradient = [np.array([1.0])]
    params, velocity = sgd_update(params, gradient, learning_rate=0.1, momentum=0.5)
    params, velocity = sgd_update(params, gradient, learning_rate=0.1, momentum=0.5, velocity=velocity)
    # Velocities 1 and 1.5: 1 - 0.1 * (1 + 1.5).
    assert params[0][0] == pytest.approx(0.75)
