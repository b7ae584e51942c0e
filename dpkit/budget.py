"""Fit a run into a privacy budget, with the DP-PCA release counted.

Two inverse queries for a whole training run, PCA included:

- :func:`epochs_within_budget`: the largest whole number of epochs whose total
  epsilon stays within a target (how Abadi et al. 2016, section 5.2, chose how
  long to train at each noise level).
- :func:`noise_multiplier_within_budget`: the smallest noise multiplier that
  lets a fixed number of epochs meet the target.

``dpkit.accounting.steps_for`` and ``noise_multiplier_for`` solve the same
queries for DP-SGD alone. DP-PCA is one more Gaussian release on the full
training set, and its privacy loss composes with the DP-SGD steps, so the
budget left for training is not simply ``target - epsilon(PCA)``. Both
functions therefore start from the DP-SGD-only result, which bounds the search
(the PCA release can only raise epsilon), and then search with an
:class:`dpkit.accounting.Accountant` that records both mechanisms. Epsilon is
non-decreasing in the step count and non-increasing in the noise multiplier
for every accountant, which is what makes the bisection valid.
"""

from __future__ import annotations

import math
import warnings

from dpkit._validate import check_integer, check_number
from dpkit.accounting import Accountant, noise_multiplier_for, steps_for
from dpkit.accounting._arguments import check_accountant
from dpkit.sampling import steps_per_epoch

# The noise search stops when its bracket's ends differ by this relative amount.
_RELATIVE_TOLERANCE = 1e-4
# The noise search doubles its upper end at most this many times (a factor 2^40).
_MAX_DOUBLINGS = 40


def run_epsilon(
    *,
    noise_multiplier: float,
    sampling_rate: float,
    steps: int,
    delta: float,
    accountant: str,
    pca_noise_multiplier: float | None = None,
) -> float:
    """Return the epsilon of one DP-PCA release (when ``pca_noise_multiplier`` is given) followed by ``steps`` DP-SGD steps.

    This is the composition that :func:`dpkit.train` records for a run with
    ``pca`` set and ``pca_public=False``.
    """
    record = Accountant()
    if pca_noise_multiplier is not None:
        record.add_gaussian(noise_multiplier=pca_noise_multiplier)
    record.add_sgd(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, steps=steps)
    with warnings.catch_warnings():
        # Order-edge advice about intermediate points of a search is noise here.
        warnings.simplefilter("ignore", RuntimeWarning)
        return record.epsilon(delta=delta, accountant=accountant)


def epochs_within_budget(
    *,
    target_epsilon: float,
    noise_multiplier: float,
    lot_size: int,
    num_examples: int,
    delta: float,
    accountant: str = "moments",
    pca_noise_multiplier: float | None = None,
) -> int:
    """Return the largest whole number of epochs whose epsilon, PCA included, is at most ``target_epsilon``.

    An epoch is ``ceil(num_examples / lot_size)`` steps at sampling rate
    ``lot_size / num_examples``, as in :func:`dpkit.train`.

    Parameters
    ----------
    target_epsilon : float in (0, inf)
    noise_multiplier : float in (0, inf)
        DP-SGD noise multiplier.
    lot_size : int in [1, num_examples]
    num_examples : int >= 1
        Training examples N.
    delta : float in (0, 1)
    accountant : str
        One of ``dpkit.accounting.ACCOUNTANTS``; the paper used "moments".
    pca_noise_multiplier : float, optional
        Noise multiplier of one DP-PCA release on the full training set; None
        when the run has no private PCA.

    Raises
    ------
    ValueError
        If an argument is out of range, or if not even one epoch fits the target.
    """
    target = check_number("target_epsilon", target_epsilon, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)
    sigma = check_number("noise_multiplier", noise_multiplier, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)
    n = check_integer("num_examples", num_examples, low=1)
    lot = check_integer("lot_size", lot_size, low=1, high=n)
    d = check_number("delta", delta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    accountant = check_accountant(accountant)
    _check_pca_noise(pca_noise_multiplier)
    sampling_rate = lot / n
    lots_per_epoch = steps_per_epoch(n, lot)

    def fits(epochs: int) -> bool:
        eps = run_epsilon(
            noise_multiplier=sigma, sampling_rate=sampling_rate, steps=epochs * lots_per_epoch, delta=d,
            accountant=accountant, pca_noise_multiplier=pca_noise_multiplier,
        )
        return eps <= target

    # DP-SGD alone bounds the epoch count from above, because the PCA release only adds to epsilon.
    sgd_only_steps = steps_for(target_epsilon=target, noise_multiplier=sigma, sampling_rate=sampling_rate, delta=d, accountant=accountant)
    high = sgd_only_steps // lots_per_epoch + 1  # does not fit
    if not fits(1):
        raise ValueError(
            f"target_epsilon={target!r} is too small for even one epoch ({lots_per_epoch} steps) with "
            f"noise_multiplier={sigma!r}, lot_size={lot}, num_examples={n}, pca_noise_multiplier={pca_noise_multiplier!r} "
            f"({accountant!r}); raise the target or the noise multipliers"
        )

    # Bisect between an epoch count that fits (low) and one that does not (high).
    low = 1
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def noise_multiplier_within_budget(
    *,
    target_epsilon: float,
    epochs: int,
    lot_size: int,
    num_examples: int,
    delta: float,
    accountant: str = "pld",
    pca_noise_multiplier: float | None = None,
) -> float:
    """Return the smallest noise multiplier (within 0.01%) that trains ``epochs`` epochs within ``target_epsilon``, PCA included.

    The returned value has itself been evaluated and meets the target.

    Raises
    ------
    ValueError
        If an argument is out of range, or if the PCA release alone, or the
        accountant's floor, leaves no room for training (no noise multiplier
        up to 2^40 times the DP-SGD-only value meets the target).
    """
    target = check_number("target_epsilon", target_epsilon, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)
    count = check_integer("epochs", epochs, low=1)
    n = check_integer("num_examples", num_examples, low=1)
    lot = check_integer("lot_size", lot_size, low=1, high=n)
    d = check_number("delta", delta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    accountant = check_accountant(accountant)
    _check_pca_noise(pca_noise_multiplier)
    sampling_rate = lot / n
    steps = count * steps_per_epoch(n, lot)

    def fits(sigma: float) -> bool:
        eps = run_epsilon(
            noise_multiplier=sigma, sampling_rate=sampling_rate, steps=steps, delta=d,
            accountant=accountant, pca_noise_multiplier=pca_noise_multiplier,
        )
        return eps <= target

    # DP-SGD alone gives the smallest candidate: with the PCA release added, the noise must be at least this.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = noise_multiplier_for(target_epsilon=target, sampling_rate=sampling_rate, steps=steps, delta=d, accountant=accountant)
    if pca_noise_multiplier is None:
        return low
    low *= 1.0 - _RELATIVE_TOLERANCE  # strictly below the result, so the bracket [low, high] contains it

    high = low * 2.0
    for _ in range(_MAX_DOUBLINGS):
        if fits(high):
            break
        low, high = high, high * 2.0
    else:
        raise ValueError(
            f"target_epsilon={target!r} leaves no room for training: even noise_multiplier={high:.3g} exceeds it "
            f"after the PCA release with pca_noise_multiplier={pca_noise_multiplier!r} ({accountant!r}); "
            "raise the target or pca_noise_multiplier"
        )

    while high / low - 1.0 > _RELATIVE_TOLERANCE:
        middle = math.sqrt(low * high)
        if fits(middle):
            high = middle
        else:
            low = middle
    return high


def _check_pca_noise(pca_noise_multiplier: float | None) -> None:
    if pca_noise_multiplier is not None:
        check_number(
            "pca_noise_multiplier", pca_noise_multiplier, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False
        )
