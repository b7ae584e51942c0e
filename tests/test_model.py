"""The MLP's per-example gradients against finite differences, and the two clipping paths against each other."""

import numpy as np
import pytest

from dpkit.model import (
    clipped_gradient_sum_fast,
    clipped_gradient_sum_plain,
    forward,
    init_mlp,
    mean_loss_and_gradient,
    per_example_gradient_norms,
    per_example_gradients,
    softmax_cross_entropy,
)


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(1)
    params = init_mlp((5, 7, 6, 3), rng=rng)
    # Non-zero biases so that the bias gradients are exercised too.
    params = [p + rng.normal(0, 0.1, size=p.shape) for p in params]
    x = rng.normal(size=(4, 5))
    labels = np.array([0, 2, 1, 2])
    return params, x, labels


def _example_loss(params, x_row, label):
    logits, _ = forward(params, x_row[None, :])
    losses, _ = softmax_cross_entropy(logits, np.array([label]))
    return losses[0]


def test_per_example_gradients_match_finite_differences(small_problem):
    params, x, labels = small_problem
    gradients = per_example_gradients(params, x, labels)
    step = 1e-6
    for example in range(len(x)):
        for index, param in enumerate(params):
            numeric = np.zeros_like(param)
            for position in np.ndindex(param.shape):
                shifted_up = [p.copy() for p in params]
                shifted_down = [p.copy() for p in params]
                shifted_up[index][position] += step
                shifted_down[index][position] -= step
                difference = _example_loss(shifted_up, x[example], labels[example]) - _example_loss(
                    shifted_down, x[example], labels[example]
                )
                numeric[position] = difference / (2 * step)
            np.testing.assert_allclose(gradients[index][example], numeric, rtol=1e-5, atol=1e-7)


def test_mean_of_per_example_gradients_is_batch_gradient(small_problem):
    params, x, labels = small_problem
    per_example = per_example_gradients(params, x, labels)
    _, batch_gradient = mean_loss_and_gradient(params, x, labels)
    for rows, expected in zip(per_example, batch_gradient):
        np.testing.assert_allclose(rows.mean(axis=0), expected, rtol=1e-12, atol=1e-14)


def test_norm_trick_matches_materialised_norms(small_problem):
    params, x, labels = small_problem
    flat = np.concatenate([g.reshape(len(x), -1) for g in per_example_gradients(params, x, labels)], axis=1)
    np.testing.assert_allclose(per_example_gradient_norms(params, x, labels), np.linalg.norm(flat, axis=1), rtol=1e-12)


@pytest.mark.parametrize("clip_norm", [1e-3, 0.3, 1.0, 1e3])
def test_fast_and_plain_clipping_agree(small_problem, clip_norm):
    params, x, labels = small_problem
    fast_sum, fast_norms = clipped_gradient_sum_fast(params, x, labels, clip_norm=clip_norm)
    plain_sum, plain_norms = clipped_gradient_sum_plain(params, x, labels, clip_norm=clip_norm)
    np.testing.assert_allclose(fast_norms, plain_norms, rtol=1e-12)
    for fast, plain in zip(fast_sum, plain_sum):
        np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-14)


def test_fast_and_plain_agree_without_hidden_layer():
    rng = np.random.default_rng(2)
    params = init_mlp((6, 4), rng=rng)
    x = rng.normal(size=(9, 6))
    labels = rng.integers(0, 4, size=9)
    fast_sum, _ = clipped_gradient_sum_fast(params, x, labels, clip_norm=0.2)
    plain_sum, _ = clipped_gradient_sum_plain(params, x, labels, clip_norm=0.2)
    for fast, plain in zip(fast_sum, plain_sum):
        np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-14)


def test_single_example_clipped_to_clip_norm(small_problem):
    params, x, labels = small_problem
    for example in range(len(x)):
        clipped, norms = clipped_gradient_sum_fast(params, x[example : example + 1], labels[example : example + 1], clip_norm=0.05)
        total_norm = np.sqrt(sum(float((part**2).sum()) for part in clipped))
        assert norms[0] > 0.05  # the bound below is a real clip, not a no-op
        assert total_norm == pytest.approx(0.05, rel=1e-10)


def test_small_gradients_are_not_scaled(small_problem):
    params, x, labels = small_problem
    clipped, _ = clipped_gradient_sum_fast(params, x, labels, clip_norm=1e6)
    _, mean_gradient = mean_loss_and_gradient(params, x, labels)
    for part, mean_part in zip(clipped, mean_gradient):
        np.testing.assert_allclose(part, mean_part * len(x), rtol=1e-12, atol=1e-14)


def test_softmax_cross_entropy_is_stable_for_large_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    losses, gradient = softmax_cross_entropy(logits, np.array([1]))
    assert losses[0] == pytest.approx(1000.0)
    assert np.isfinite(gradient).all()
    np.testing.assert_allclose(gradient, [[1.0, -1.0, 0.0]], atol=1e-12)


def test_init_rejects_zero_width():
    with pytest.raises(ValueError, match="layer_sizes entry.*got 0"):
        init_mlp((4, 0, 2), rng=np.random.default_rng(0))
