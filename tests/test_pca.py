"""PCA and the DP-PCA of Abadi et al.: sensitivity, symmetry of the noise, recovery of directions."""

import numpy as np
import pytest

from dpkit.pca import fit_dp_pca, fit_pca, normalised_rows


def _low_rank_data(rng, n=2000, features=20, rank=3):
    basis = np.linalg.qr(rng.normal(size=(features, rank)))[0]
    coefficients = rng.normal(size=(n, rank)) * np.array([5.0, 3.0, 2.0])
    return coefficients @ basis.T + 0.01 * rng.normal(size=(n, features)), basis


def test_covariance_sensitivity_is_at_most_one():
    rng = np.random.default_rng(0)
    for _ in range(100):
        row = normalised_rows(rng.normal(size=(1, 30)) * rng.uniform(0.01, 100))[0]
        contribution = np.outer(row, row)
        # Released entries: the upper triangle with the diagonal.
        assert np.linalg.norm(contribution[np.triu_indices(30)]) <= 1 + 1e-12


def test_public_pca_recovers_the_subspace():
    data, basis = _low_rank_data(np.random.default_rng(1))
    projection = fit_pca(data, n_components=3)
    # The projection onto the fitted components keeps the true basis whole.
    captured = np.linalg.norm(projection.components.T @ basis, axis=0)
    np.testing.assert_allclose(captured, 1.0, atol=1e-3)
    assert not projection.private


def test_dp_pca_with_small_noise_recovers_the_subspace():
    data, basis = _low_rank_data(np.random.default_rng(2))
    projection = fit_dp_pca(data, n_components=3, noise_multiplier=0.5, rng=np.random.default_rng(0))
    captured = np.linalg.norm(projection.components.T @ basis, axis=0)
    assert captured.min() > 0.99
    assert projection.private and projection.noise_multiplier == 0.5


def test_dp_pca_components_are_orthonormal():
    data, _ = _low_rank_data(np.random.default_rng(3))
    projection = fit_dp_pca(data, n_components=5, noise_multiplier=50.0, rng=np.random.default_rng(0))
    np.testing.assert_allclose(projection.components.T @ projection.components, np.eye(5), atol=1e-10)


def test_dp_pca_noise_follows_seed():
    data, _ = _low_rank_data(np.random.default_rng(4))
    first = fit_dp_pca(data, n_components=4, noise_multiplier=200.0, rng=np.random.default_rng(7))
    again = fit_dp_pca(data, n_components=4, noise_multiplier=200.0, rng=np.random.default_rng(7))
    other = fit_dp_pca(data, n_components=4, noise_multiplier=200.0, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(first.components, again.components)
    assert not np.allclose(np.abs(first.components), np.abs(other.components))


def test_transform_shapes():
    data, _ = _low_rank_data(np.random.default_rng(5))
    projection = fit_pca(data, n_components=2)
    assert projection.transform(data[:7]).shape == (7, 2)


@pytest.mark.parametrize("components", [0, 21])
def test_rejects_components_out_of_range(components):
    data, _ = _low_rank_data(np.random.default_rng(6))
    with pytest.raises(ValueError, match=rf"pca must be an integer in \[1, 20\]; got {components}"):
        fit_pca(data, n_components=components)


@pytest.mark.parametrize("noise", [0.0, -1.0, float("nan")])
def test_dp_pca_rejects_bad_noise(noise):
    data, _ = _low_rank_data(np.random.default_rng(6))
    with pytest.raises(ValueError, match="pca_noise_multiplier"):
        fit_dp_pca(data, n_components=2, noise_multiplier=noise, rng=np.random.default_rng(0))
