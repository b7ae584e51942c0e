"""The moments accountant of Abadi et al., "Deep Learning with Differential Privacy" (2016).

Section 3.2 of the paper (arXiv:1607.00133) tracks the log moments
``alpha(lambda)`` of the privacy loss at integer ``lambda = 1..32``, adds them
over the steps (Theorem 2, composability) and converts with the tail bound
``delta = min_lambda exp(alpha(lambda) - lambda * epsilon)``, i.e.
``epsilon = min_lambda (T * alpha(lambda) + log(1/delta)) / lambda``.

The log moment of one Poisson-sampled Gaussian step is computed exactly as
``alpha(lambda) = log A_{lambda+1}``, the binomial expansion of Mironov, Talwar,
Zhang (arXiv:1908.10530, section 3.2), who show that this direction of the
privacy loss dominates the other. It reproduces the paper's epsilon of about
1.26 for q = 0.01, sigma = 4, T = 10,000, delta = 1e-5. In dpkit's vocabulary
the Renyi order is ``orders = lambda + 1``.
"""

from __future__ import annotations

import numpy as np

from dpkit.accounting.rdp import rdp_sampled_gaussian, warn_if_edge_order

# lambda = 1..32 as in the paper, i.e. Renyi orders 2..33.
DEFAULT_MOMENT_ORDERS: tuple[float, ...] = tuple(float(lam + 1) for lam in range(1, 33))


def log_moments(noise_multiplier: np.ndarray, sampling_rate: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Compute the log moments alpha(lambda) of one step at ``lambda = orders - 1``.

    Parameters
    ----------
    noise_multiplier, sampling_rate : ndarray of shape (n,)
    orders : ndarray of shape (m,)
        Whole numbers >= 2.

    Returns
    -------
    ndarray of shape (n, m)
        ``lambda * rdp(lambda + 1)``, which equals ``log A_{lambda+1}``.
    """
    lambdas = np.asarray(orders, dtype=np.float64) - 1.0
    return rdp_sampled_gaussian(noise_multiplier, sampling_rate, orders) * lambdas


def epsilon_from_log_moments(
    total_log_moments: np.ndarray, orders: np.ndarray, delta: np.ndarray, *, warn: bool = True
) -> np.ndarray:
    """Apply the paper's tail bound to log moments summed over the steps.

    Parameters
    ----------
    total_log_moments : ndarray of shape (..., m)
        ``sum over steps of alpha(lambda)`` at ``lambda = orders - 1``.
    orders : ndarray of shape (m,)
    delta : ndarray broadcastable to total_log_moments.shape[:-1]

    Returns
    -------
    ndarray of shape total_log_moments.shape[:-1]
    """
    lambdas = np.asarray(orders, dtype=np.float64) - 1.0
    delta = np.asarray(delta, dtype=np.float64)[..., None]
    candidates = (total_log_moments - np.log(delta)) / lambdas
    best = np.argmin(candidates, axis=-1)
    eps = np.take_along_axis(candidates, best[..., None], axis=-1)[..., 0]
    if warn:
        warn_if_edge_order(eps, orders[best], orders, name="moment order", stacklevel=5)
    return eps
