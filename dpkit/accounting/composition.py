"""The paper's baselines: strong (advanced) and naive composition of per-step guarantees.

Both start from the classic Gaussian mechanism bound: noise of standard
deviation ``noise_multiplier`` times the sensitivity gives (eps0, delta0)-DP with
``eps0 = sqrt(2 log(1.25 / delta0)) / noise_multiplier`` (Dwork and Roth,
"The Algorithmic Foundations of Differential Privacy", Theorem A.1). Poisson
sampling at rate q turns it into (q eps0, q delta0) per step, the amplification
used in Abadi et al. (2016), section 3.1.

NOTE: Theorem A.1 is proved only for eps0 < 1. Like the comparison in Abadi
et al. (2016), these baselines apply the formula at every noise multiplier, so
treat them as the textbook reference points, not as guarantees, when eps0 >= 1.

Both functions take segments on the last axis: a run of ``steps[..., k]`` steps
with ``noise_multiplier[..., k]`` and ``sampling_rate[..., k]`` for each k.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
# The split of delta is searched on its log-odds in this range, which covers
# shares from 1e-13 to 1 - 1e-13; 90 golden-section steps shrink the bracket
# below 1e-17 of its width.
_LOGIT_RANGE = (-30.0, 30.0)
_GOLDEN_STEPS = 90


def naive_composition_epsilon(
    noise_multiplier: np.ndarray, sampling_rate: np.ndarray, steps: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Compose per-step (q eps0, q delta0) guarantees by adding them up.

    Basic composition: the epsilons and deltas of the steps add. The delta budget
    is spent evenly over the expected number of lots containing an example,
    ``delta0 = delta / sum(q * T)``. When ``sum(q * T) <= delta`` the chance that
    the example is ever sampled is below delta, so epsilon is 0.

    Parameters
    ----------
    noise_multiplier, sampling_rate, steps : ndarray of shape (..., k)
    delta : ndarray of shape (...)

    Returns
    -------
    ndarray of shape (...)
    """
    expected_uses = (sampling_rate * steps).sum(axis=-1)
    trivial = expected_uses <= delta
    delta0 = np.where(trivial, 0.5, delta / np.where(trivial, 1.0, expected_uses))
    eps0 = np.sqrt(2.0 * np.log(1.25 / delta0))[..., None] / noise_multiplier
    total = (steps * sampling_rate * eps0).sum(axis=-1)
    return np.where(trivial, 0.0, total)


def strong_composition_epsilon(
    noise_multiplier: np.ndarray, sampling_rate: np.ndarray, steps: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Compose per-step guarantees with advanced composition and the best split of delta.

    Advanced composition (Dwork, Rothblum, Vadhan 2010; Dwork and Roth, Theorem
    3.20), written for steps with different epsilons e_i:
    ``epsilon = sqrt(2 log(1/delta'') * sum(e_i^2)) + sum(e_i * (e^{e_i} - 1))``,
    ``delta = delta'' + delta0 * sum(q_i * T_i)``, with ``e_i = q_i * eps0_i(delta0)``.
    The share ``f = delta'' / delta`` is chosen to minimise epsilon by a
    golden-section search on ``log(f / (1 - f))``, run on all grid points at once.

    Parameters
    ----------
    noise_multiplier, sampling_rate, steps : ndarray of shape (..., k)
    delta : ndarray of shape (...)

    Returns
    -------
    ndarray of shape (...)
    """
    expected_uses = (sampling_rate * steps).sum(axis=-1)
    trivial = expected_uses <= delta
    uses = np.where(trivial, 1.0, expected_uses)
    budget = np.where(trivial, 0.5, delta)

    def objective(logit: np.ndarray) -> np.ndarray:
        share = 1.0 / (1.0 + np.exp(-logit))  # delta'' / delta
        delta0 = (1.0 - share) * budget / uses
        eps_step = sampling_rate * np.sqrt(2.0 * np.log(1.25 / delta0))[..., None] / noise_multiplier
        spread = np.sqrt(2.0 * np.log(1.0 / (share * budget)) * (steps * eps_step**2).sum(axis=-1))
        # A per-step epsilon above about 709 overflows expm1 to inf, which is the true bound's limit.
        with np.errstate(over="ignore"):
            drift = (steps * eps_step * np.expm1(eps_step)).sum(axis=-1)
        return spread + drift

    low = np.full(np.shape(budget), _LOGIT_RANGE[0])
    high = np.full(np.shape(budget), _LOGIT_RANGE[1])
    left = high - _GOLDEN * (high - low)
    right = low + _GOLDEN * (high - low)
    f_left, f_right = objective(left), objective(right)
    for _ in range(_GOLDEN_STEPS):
        # Keep the sub-bracket that contains the smaller value, which is valid because the objective is unimodal in the share.
        keep_left = f_left <= f_right
        high = np.where(keep_left, right, high)
        low = np.where(keep_left, low, left)
        new_left = high - _GOLDEN * (high - low)
        new_right = low + _GOLDEN * (high - low)
        left, right = new_left, new_right
        f_left, f_right = objective(left), objective(right)
    best = np.minimum(f_left, f_right)
    return np.where(trivial, 0.0, best)
