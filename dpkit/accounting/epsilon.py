"""``epsilon()``: the privacy spent by DP-SGD runs, for scalars or whole grids.

A run is a list of segments, each ``steps`` Poisson-sampled Gaussian steps with
one noise multiplier and sampling rate. :func:`epsilon_of_segments` composes such
a list with any accountant; :func:`epsilon` evaluates single-segment runs on a
broadcast grid, without a Python loop over grid points except for ``"pld"``.
"""

from __future__ import annotations

import warnings

import numpy as np

from dpkit.accounting import composition, moments, pld, rdp
from dpkit.accounting._arguments import check_accountant, check_orders, check_sgd_arguments


def epsilon(
    *,
    noise_multiplier: float | np.ndarray,
    sampling_rate: float | np.ndarray,
    steps: int | np.ndarray,
    delta: float | np.ndarray,
    accountant: str = "rdp",
    orders: object = None,
) -> float | np.ndarray:
    """Return the epsilon of DP-SGD for add/remove-one neighbours at the given delta.

    Parameters
    ----------
    noise_multiplier : float or array, in (0, inf)
        Noise standard deviation divided by the clipping norm.
    sampling_rate : float or array, in (0, 1]
        Each example's chance to be in a lot (Poisson sampling).
    steps : int or array of whole numbers >= 0
        Number of lots (noisy updates). Zero steps spend epsilon 0.
    delta : float or array, in (0, 1)
    accountant : {"moments", "rdp", "pld", "strong_composition", "naive_composition"}
    orders : sequence of numbers > 1, optional
        Renyi orders for "rdp" (default :data:`rdp.DEFAULT_ORDERS`) or "moments"
        (whole numbers, default 2..33, i.e. lambda = 1..32). Rejected by the others.

    Returns
    -------
    float when every argument is a scalar, otherwise an ndarray of the broadcast shape.

    Warns
    -----
    RuntimeWarning
        For "rdp" and "moments" when the best order is the smallest or largest in the list.
    """
    accountant = check_accountant(accountant)
    args = check_sgd_arguments(
        noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, steps=steps, delta=delta
    )
    order_array = _orders_for(accountant, orders)

    if accountant in ("rdp", "moments"):
        result = _epsilon_rdp_grid(args, order_array, accountant)
    elif accountant == "pld":
        result = _epsilon_pld_grid(args)
    else:
        segments = [a[..., None] for a in (args.noise_multiplier, args.sampling_rate, args.steps)]
        baseline = {
            "strong_composition": composition.strong_composition_epsilon,
            "naive_composition": composition.naive_composition_epsilon,
        }[accountant]
        result = baseline(*segments, args.delta)

    # Zero steps release nothing, whatever the accountant's formula gives at T = 0.
    result = np.where(args.steps == 0, 0.0, result)
    return float(result) if args.is_scalar else result


def epsilon_of_segments(
    noise_multiplier: np.ndarray,
    sampling_rate: np.ndarray,
    steps: np.ndarray,
    *,
    delta: float,
    accountant: str,
    orders: object = None,
) -> float:
    """Compose validated segments (arrays of shape (k,)) and return epsilon at ``delta``."""
    accountant = check_accountant(accountant)
    order_array = _orders_for(accountant, orders)
    active = steps > 0
    sigma, q, t = noise_multiplier[active], sampling_rate[active], steps[active]
    if t.size == 0:
        return 0.0

    if accountant == "rdp":
        curve = (t[:, None] * rdp.rdp_sampled_gaussian(sigma, q, order_array)).sum(axis=0)
        eps, best = rdp.epsilon_from_rdp(curve, order_array, np.float64(delta))
        rdp.warn_if_edge_order(eps, best, order_array, name="Renyi order")
        return float(eps)
    if accountant == "moments":
        total = (t[:, None] * moments.log_moments(sigma, q, order_array)).sum(axis=0)
        return float(moments.epsilon_from_log_moments(total, order_array, np.float64(delta)))
    if accountant == "pld":
        return _pld_or_rdp(sigma, q, t, delta)
    if accountant == "strong_composition":
        return float(composition.strong_composition_epsilon(sigma, q, t, np.float64(delta)))
    return float(composition.naive_composition_epsilon(sigma, q, t, np.float64(delta)))


def _orders_for(accountant: str, orders: object) -> np.ndarray | None:
    """Return the validated orders for ``accountant``, or None for the accountants without orders."""
    if accountant == "rdp":
        return check_orders(rdp.DEFAULT_ORDERS if orders is None else orders)
    if accountant == "moments":
        return check_orders(moments.DEFAULT_MOMENT_ORDERS if orders is None else orders, integer=True)
    if orders is not None:
        raise ValueError(f"orders applies only to accountant 'rdp' or 'moments'; got accountant {accountant!r}")
    return None


def _epsilon_rdp_grid(args, orders: np.ndarray, accountant: str) -> np.ndarray:
    """Evaluate "rdp" or "moments" on the broadcast grid of ``args``.

    The per-step curve depends only on (noise multiplier, sampling rate), so it
    is computed once per distinct pair and scaled by each point's step count.
    """
    pairs = np.stack([args.noise_multiplier.ravel(), args.sampling_rate.ravel()], axis=1)
    unique_pairs, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)

    if accountant == "rdp":
        per_step = rdp.rdp_sampled_gaussian(unique_pairs[:, 0], unique_pairs[:, 1], orders)
        total = args.steps.reshape(-1, 1) * per_step[inverse]  # (points, orders)
        eps, best = rdp.epsilon_from_rdp(total, orders, args.delta.reshape(-1))
        positive = args.steps.reshape(-1) > 0
        rdp.warn_if_edge_order(eps[positive], best[positive], orders, name="Renyi order")
    else:
        per_step = moments.log_moments(unique_pairs[:, 0], unique_pairs[:, 1], orders)
        total = args.steps.reshape(-1, 1) * per_step[inverse]
        positive = args.steps.reshape(-1) > 0
        eps = np.zeros(total.shape[0])
        if positive.any():
            eps[positive] = moments.epsilon_from_log_moments(total[positive], orders, args.delta.reshape(-1)[positive])
    return eps.reshape(args.shape)


def _epsilon_pld_grid(args) -> np.ndarray:
    """Evaluate "pld" point by point; each point needs its own FFT composition."""
    result = np.zeros(args.shape)
    for index in np.ndindex(args.shape):
        if args.steps[index] > 0:
            result[index] = _pld_or_rdp(
                np.array([args.noise_multiplier[index]]),
                np.array([args.sampling_rate[index]]),
                np.array([args.steps[index]]),
                float(args.delta[index]),
            )
    return result


def _pld_or_rdp(sigma: np.ndarray, q: np.ndarray, t: np.ndarray, delta: float) -> float:
    """Return the pld epsilon, or the rdp one, also an upper bound, where the loss grid cannot be built."""
    try:
        return pld.epsilon_pld(sigma, q, t, delta=delta)
    except pld.PldGridTooLargeError as error:
        warnings.warn(f"{error}; reporting the rdp bound instead, which is also a valid upper bound", RuntimeWarning, stacklevel=3)
        return epsilon_of_segments(sigma, q, t, delta=delta, accountant="rdp")
