"""Project inputs onto principal directions, privately or not.

Abadi et al. (2016, section 4, "Differentially private PCA") reduce MNIST to 60
dimensions before training. Their private variant, implemented by :func:`fit_dp_pca`:

1. Normalise each training example to unit L2 norm; these are the rows of A.
2. Form A^T A and add a symmetric matrix of Gaussian noise with standard deviation
   ``noise_multiplier`` in each entry of the upper triangle (mirrored below it).
3. Take the top eigenvectors of the noisy matrix as the projection.

Guarantee: adding or removing one example changes A^T A by ``x x^T`` with
``|x| = 1``, whose upper triangle has L2 norm at most ``|x x^T|_F = |x|^2 = 1``. So
step 2 is the Gaussian mechanism with L2 sensitivity 1 and noise multiplier
``noise_multiplier``, and it must be composed with training: the trainer records it
with ``Accountant.add_gaussian``. The eigen-decomposition and the projection of
training and test data are post-processing and cost nothing more.

:func:`fit_pca` is ordinary PCA on the same normalised rows. Use it only when the data
it is fitted on is public, because its cost is not in the reported epsilon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpkit._validate import check_integer, check_number


@dataclass(frozen=True)
class Projection:
    """A linear projection onto ``components``, shape (n_features, n_components)."""

    components: np.ndarray
    private: bool
    noise_multiplier: float | None

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Project examples of shape (n, n_features) to (n, n_components)."""
        return x @ self.components


def normalised_rows(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm; an all-zero row stays zero, which keeps its norm at most 1."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _top_eigenvectors(matrix: np.ndarray, n_components: int) -> np.ndarray:
    # eigh returns ascending eigenvalues, so the last columns are the principal ones.
    _, vectors = np.linalg.eigh(matrix)
    return vectors[:, ::-1][:, :n_components].copy()


def _check_components(x: np.ndarray, n_components: int) -> int:
    return check_integer("pca", n_components, low=1, high=x.shape[1])


def fit_pca(x: np.ndarray, *, n_components: int) -> Projection:
    """Fit ordinary (non-private) PCA on unit-normalised rows of ``x``, shape (n, n_features)."""
    n_components = _check_components(x, n_components)
    rows = normalised_rows(x)
    return Projection(_top_eigenvectors(rows.T @ rows, n_components), private=False, noise_multiplier=None)


def fit_dp_pca(x: np.ndarray, *, n_components: int, noise_multiplier: float, rng: np.random.Generator) -> Projection:
    """Fit the differentially private PCA of Abadi et al. (2016, section 4).

    Parameters
    ----------
    x : ndarray of shape (n, n_features)
        The private training examples.
    n_components : int
        Projection dimension, in [1, n_features].
    noise_multiplier : float
        Noise standard deviation on each covariance entry; the sensitivity is 1,
        so this is also the Gaussian mechanism's noise multiplier.
    rng : numpy.random.Generator
        Source of the noise.
    """
    n_components = _check_components(x, n_components)
    noise_multiplier = check_number(
        "pca_noise_multiplier", noise_multiplier, low=0.0, low_inclusive=False, high=np.inf, high_inclusive=False
    )
    rows = normalised_rows(x)
    covariance = rows.T @ rows  # (n_features, n_features)

    # Draw the upper triangle once and mirror it, so each released entry carries one noise draw.
    noise = rng.normal(0.0, noise_multiplier, size=covariance.shape)
    symmetric_noise = np.triu(noise) + np.triu(noise, 1).T
    components = _top_eigenvectors(covariance + symmetric_noise, n_components)
    return Projection(components, private=True, noise_multiplier=noise_multiplier)
