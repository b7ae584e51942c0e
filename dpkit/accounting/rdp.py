"""Renyi DP of the Poisson-sampled Gaussian mechanism and its conversion to (epsilon, delta).

Sources
-------
- Mironov, Talwar, Zhang, "Renyi Differential Privacy of the Sampled Gaussian
  Mechanism", arXiv:1908.10530: the moment ``A_alpha`` for integer orders
  (section 3.2) and for fractional orders (section 3.3).
- Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy",
  arXiv:2004.00010 v4, Proposition 12: the conversion
  ``epsilon = rdp + log(1 - 1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)``.

Every function works on whole arrays: ``n`` (noise multiplier, sampling rate)
pairs times ``m`` orders, without a Python loop over the pairs.
"""

from __future__ import annotations

import functools
import logging
import warnings

import numpy as np
from scipy.special import gammaln, log_ndtr

logger = logging.getLogger(__name__)

DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10 for x in range(1, 100)] + [float(a) for a in range(11, 64)] + [128.0, 256.0, 512.0, 1024.0]
)

# Rows of (noise multiplier, sampling rate) pairs evaluated at once, so that the
# (rows, terms) work arrays stay near 30 MB with the default orders.
_CHUNK_ROWS = 1024

# The fractional-order series is summed in blocks until its terms fall 30 nats
# below the running total (a relative contribution under 1e-13) or the cap is
# hit. At the cap the last term bounds the remainder; with noise multiplier 0.5,
# q = 0.01 and order 1.1 that bound is about 1e-11 of A.
_FRACTIONAL_BLOCK = 32
_FRACTIONAL_MAX_TERMS = 1024
_CONVERGED_GAP = 30.0

# The conversion of Proposition 12 loses precision as alpha -> 1, so orders at or
# below this value are skipped, as in Google's dp_accounting.
_MIN_CONVERSION_ORDER = 1.01


def rdp_sampled_gaussian(noise_multiplier: np.ndarray, sampling_rate: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Compute the Renyi DP of one step of the Poisson-sampled Gaussian mechanism.

    For add/remove-one neighbours, ``rdp[i, j] = log(A_alpha) / (alpha - 1)`` with
    ``A_alpha = E_{z ~ N(0, s^2)} [((1 - q) + q * exp((2z - 1) / (2 s^2)))^alpha]``
    (Mironov, Talwar, Zhang 2019, Theorem 4), ``s = noise_multiplier[i]``,
    ``q = sampling_rate[i]``, ``alpha = orders[j]``. With ``q = 1`` this is the
    closed form ``alpha / (2 s^2)`` of the Gaussian mechanism.

    Parameters
    ----------
    noise_multiplier, sampling_rate : ndarray of shape (n,)
        Validated values in (0, inf) and (0, 1].
    orders : ndarray of shape (m,)
        Renyi orders > 1.

    Returns
    -------
    ndarray of shape (n, m)
    """
    sigma = np.asarray(noise_multiplier, dtype=np.float64)
    q = np.asarray(sampling_rate, dtype=np.float64)
    orders = np.asarray(orders, dtype=np.float64)
    rdp = np.empty((sigma.size, orders.size))

    # Without subsampling the Renyi divergence of two Gaussians is exact.
    full = q == 1.0
    rdp[full] = orders[None, :] / (2.0 * sigma[full, None] ** 2)

    sub = ~full
    is_integer = orders == np.floor(orders)
    for start in range(0, int(sub.sum()), _CHUNK_ROWS):
        rows = np.flatnonzero(sub)[start : start + _CHUNK_ROWS]
        log_a = np.empty((rows.size, orders.size))
        if is_integer.any():
            log_a[:, is_integer] = _log_a_integer(sigma[rows], q[rows], tuple(orders[is_integer]))
        if (~is_integer).any():
            log_a[:, ~is_integer] = _log_a_fractional(sigma[rows], q[rows], orders[~is_integer])
        rdp[rows] = log_a / (orders - 1.0)
    return rdp


@functools.lru_cache(maxsize=16)
def _integer_terms(orders: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten the binomial terms k = 2..alpha of every integer order into one axis.

    Returns the order and k of each term, log C(alpha, k), and the index where
    each order's terms start (for ``np.ufunc.reduceat``).
    """
    alphas = np.asarray(orders, dtype=np.float64)
    counts = (alphas - 1).astype(np.int64)
    order_of_term = np.repeat(alphas, counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(order_of_term.size) - np.repeat(starts, counts) + 2.0
    log_binom = gammaln(order_of_term + 1) - gammaln(k + 1) - gammaln(order_of_term - k + 1)
    return order_of_term, k, log_binom, starts


def _log_a_integer(sigma: np.ndarray, q: np.ndarray, orders: tuple[float, ...]) -> np.ndarray:
    """Compute log A_alpha for integer orders >= 2 and 0 < q < 1, shape (n, m).

    The binomial expansion A = sum_k C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 s^2))
    (Mironov, Talwar, Zhang 2019, section 3.2) is rewritten as
    A - 1 = sum_{k >= 2} C(alpha, k) (1-q)^(alpha-k) q^k expm1((k^2 - k) / (2 s^2)),
    a sum of positive terms, so that a tiny A - 1 keeps its relative precision.
    """
    order_of_term, k, log_binom, starts = _integer_terms(orders)
    exponent = (k * k - k)[None, :] / (2.0 * sigma[:, None] ** 2)  # (n, terms), > 0
    log_expm1 = exponent + np.log1p(-np.exp(-exponent))
    log_terms = (
        log_binom[None, :]
        + k[None, :] * np.log(q)[:, None]
        + (order_of_term - k)[None, :] * np.log1p(-q)[:, None]
        + log_expm1
    )

    # Log-sum-exp of each order's run of terms, shifted by the run's maximum.
    run_max = np.maximum.reduceat(log_terms, starts, axis=1)  # (n, m)
    index_of_term = np.repeat(np.arange(starts.size), np.diff(np.append(starts, k.size)))
    scaled = np.exp(log_terms - run_max[:, index_of_term])
    log_a_minus_one = run_max + np.log(np.add.reduceat(scaled, starts, axis=1))
    return np.logaddexp(0.0, log_a_minus_one)


def _log_a_fractional(sigma: np.ndarray, q: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Compute log A_alpha for fractional orders and 0 < q < 1, shape (n, m).

    Mironov, Talwar, Zhang 2019, section 3.3: split the integral at
    z0 = s^2 log(1/q - 1) + 1/2, where the two mixture components are equal, and
    expand each side in a generalised binomial series:
    A = sum_i C(alpha, i) [(1-q)^(alpha-i) q^i exp((i^2 - i)/(2 s^2)) Phi((z0 - i)/s)
                           + q^(alpha-i) (1-q)^i exp((j^2 - j)/(2 s^2)) Phi((j - z0)/s)],
    with j = alpha - i. For i > alpha the terms alternate in sign and, far
    beyond z0, shrink only polynomially, so the sum runs block by block on the
    (pair, order) entries that have not converged yet.
    """
    # One entry per (pair, order), flattened so that converged entries drop out.
    s = np.repeat(sigma, orders.size)
    rate = np.repeat(q, orders.size)
    alpha = np.tile(orders, sigma.size)
    z0 = s**2 * (np.log1p(-rate) - np.log(rate)) + 0.5
    log_q, log_1mq = np.log(rate), np.log1p(-rate)

    total_max = np.full(alpha.size, -np.inf)
    total_sum = np.zeros(alpha.size)
    last_log_term = np.full(alpha.size, -np.inf)
    active = np.arange(alpha.size)
    for start in range(0, _FRACTIONAL_MAX_TERMS, _FRACTIONAL_BLOCK):
        i = np.arange(start, start + _FRACTIONAL_BLOCK, dtype=np.float64)[None, :]  # (1, K)
        a, sa, z, lq, l1q = (v[active, None] for v in (alpha, s, z0, log_q, log_1mq))  # (active, 1)
        j = a - i
        log_binom = gammaln(a + 1) - gammaln(i + 1) - gammaln(j + 1)  # log |C(alpha, i)|
        sign = np.where(i > np.ceil(a), (-1.0) ** np.maximum(i - np.ceil(a), 0), 1.0)

        # The two halves of the integral share the coefficient's sign.
        log_below = log_binom + j * l1q + i * lq + (i * i - i) / (2 * sa**2) + log_ndtr((z - i) / sa)
        log_above = log_binom + j * lq + i * l1q + (j * j - j) / (2 * sa**2) + log_ndtr((j - z) / sa)
        log_term = np.logaddexp(log_below, log_above)  # (active, K)

        block_max = log_term.max(axis=1)
        new_max = np.maximum(total_max[active], block_max)
        block_sum = (sign * np.exp(log_term - block_max[:, None])).sum(axis=1)
        total_sum[active] = _scaled(total_sum[active], total_max[active], new_max) + _scaled(
            block_sum, block_max, new_max
        )
        total_max[active] = new_max
        last_log_term[active] = log_term[:, -1]

        decreasing = log_term[:, -1] < log_term[:, -2]
        log_total = new_max + np.log(np.abs(total_sum[active]))
        converged = decreasing & (log_term[:, -1] < log_total - _CONVERGED_GAP)
        active = active[~converged]
        if active.size == 0:
            break

    # The remainder of an alternating series with shrinking terms is at most its
    # last term, so adding that term to unconverged entries keeps A an upper bound.
    if active.size:
        logger.debug("fractional-order series capped at %d terms for %d entries", _FRACTIONAL_MAX_TERMS, active.size)
        total_sum[active] += np.exp(last_log_term[active] - total_max[active])
    return (total_max + np.log(total_sum)).reshape(sigma.size, orders.size)


def _scaled(value: np.ndarray, log_scale: np.ndarray, new_log_scale: np.ndarray) -> np.ndarray:
    """Rescale ``value * exp(log_scale)`` to ``exp(new_log_scale)`` units; -inf scales give 0."""
    factor = np.exp(np.where(np.isfinite(log_scale), log_scale - new_log_scale, -np.inf))
    return value * factor


def epsilon_from_rdp(rdp: np.ndarray, orders: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert Renyi DP curves to the smallest epsilon over the orders.

    Uses Proposition 12 of Canonne, Kamath, Steinke (arXiv:2004.00010 v4):
    ``epsilon = rdp + log1p(-1/alpha) - log(delta * alpha) / (alpha - 1)``. Where
    ``delta^2 > 1 - exp(-rdp)`` the total variation distance is already below
    delta (Bretagnolle-Huber bound on the KL divergence, which rdp bounds), so
    epsilon is 0 at that order.

    Parameters
    ----------
    rdp : ndarray of shape (..., m)
        Renyi DP of the whole run at each order.
    orders : ndarray of shape (m,)
    delta : ndarray broadcastable to rdp.shape[:-1]

    Returns
    -------
    epsilon, best_order : ndarrays of shape rdp.shape[:-1]
    """
    delta = np.asarray(delta, dtype=np.float64)[..., None]
    usable = orders > _MIN_CONVERSION_ORDER
    with np.errstate(divide="ignore"):
        # Orders at or below 1.01 get +inf, so they are never the minimum.
        safe_orders = np.where(usable, orders, 2.0)
        candidates = rdp + np.log1p(-1.0 / safe_orders) - np.log(delta * safe_orders) / (safe_orders - 1.0)
    candidates = np.where(usable, candidates, np.inf)
    candidates = np.where(delta**2 + np.expm1(-rdp) > 0, 0.0, candidates)

    best = np.argmin(candidates, axis=-1)
    eps = np.take_along_axis(candidates, best[..., None], axis=-1)[..., 0]
    return np.maximum(eps, 0.0), orders[best]


def warn_if_edge_order(
    epsilon: np.ndarray, best_order: np.ndarray, orders: np.ndarray, *, name: str, stacklevel: int = 4
) -> None:
    """Warn when a positive epsilon is attained at the smallest or largest order.

    The minimum over orders may then lie outside the list, so a wider list can
    give a smaller epsilon.
    """
    positive = np.asarray(epsilon) > 0
    at_top = positive & (np.asarray(best_order) == orders[-1])
    at_bottom = positive & (np.asarray(best_order) == orders[0])
    if at_top.any() or at_bottom.any():
        edge = orders[-1] if at_top.any() else orders[0]
        warnings.warn(
            f"the best {name} is at the edge of the order list ({edge:g}); "
            "pass a wider `orders` list for a possibly smaller epsilon",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
