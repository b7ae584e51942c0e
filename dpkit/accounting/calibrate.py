"""Inverse queries: the noise multiplier or step count that meets a target epsilon.

Each search first brackets the result, then bisects, and always returns the
end of the bracket on the safe side: the returned noise multiplier (or step
count) has been evaluated and spends at most ``target_epsilon``. Epsilon is
non-increasing in the noise multiplier and non-decreasing in the step count
for every accountant here, which is what makes bisection valid.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from dpkit._validate import check_integer, check_number
from dpkit.accounting._arguments import check_accountant
from dpkit.accounting.epsilon import epsilon
from dpkit.accounting.moments import DEFAULT_MOMENT_ORDERS

# The bisection stops when the bracket's ends differ by this relative amount,
# well inside the promised 1%.
_RELATIVE_TOLERANCE = 1e-4
# Bracketing doubles or halves at most this many times: noise multipliers from
# 2^-60 to 2^60 and step counts up to 2^50, far outside any practical run.
_MAX_DOUBLINGS = 60
_MAX_STEPS = 2**50


def noise_multiplier_for(
    *, target_epsilon: float, sampling_rate: float, steps: int, delta: float, accountant: str = "rdp"
) -> float:
    """Return the smallest noise multiplier (within 0.01%) whose epsilon is at most ``target_epsilon``.

    The returned value itself has been evaluated and meets the target.

    Raises
    ------
    ValueError
        If an argument is out of range, or the target is below what any noise
        multiplier can reach (the moments accountant cannot go below
        ``log(1/delta) / 32``, because its largest moment order is lambda = 32).
    """
    target, q, d, accountant = _check_common(target_epsilon, sampling_rate, delta, accountant)
    t = check_integer("steps", steps, low=1)

    def eps_at(sigma: float) -> float:
        with warnings.catch_warnings():
            # Order-edge advice about the intermediate points of the search is noise here.
            warnings.simplefilter("ignore", RuntimeWarning)
            return epsilon(noise_multiplier=sigma, sampling_rate=q, steps=t, delta=d, accountant=accountant)

    # The moments accountant keeps a floor as the noise grows: its tail bound
    # log(1/delta)/lambda does not vanish at the largest lambda.
    if accountant == "moments":
        floor = math.log(1.0 / d) / (DEFAULT_MOMENT_ORDERS[-1] - 1.0)
        if target <= floor:
            raise ValueError(
                f"target_epsilon={target!r} is unreachable with the moments accountant at delta={d!r}: "
                f"its epsilon stays above log(1/delta)/32 = {floor:.4g} for every noise multiplier; "
                "raise target_epsilon or delta, or use accountant='rdp'"
            )

    # Bracket: high meets the target, low does not.
    high = 1.0
    for _ in range(_MAX_DOUBLINGS):
        if eps_at(high) <= target:
            break
        high *= 2.0
    else:
        raise ValueError(
            f"target_epsilon={target!r} is unreachable: even noise_multiplier={high:.3g} spends "
            f"epsilon {eps_at(high):.4g} with accountant {accountant!r}"
        )
    low = high / 2.0
    for _ in range(_MAX_DOUBLINGS):
        if eps_at(low) > target:
            break
        high, low = low, low / 2.0
    else:
        raise ValueError(
            f"every noise multiplier down to {low:.3g} meets target_epsilon={target!r} with accountant "
            f"{accountant!r}, so there is no smallest one to return"
        )

    while high / low - 1.0 > _RELATIVE_TOLERANCE:
        middle = math.sqrt(low * high)
        if eps_at(middle) <= target:
            high = middle
        else:
            low = middle
    return high


def steps_for(
    *, target_epsilon: float, noise_multiplier: float, sampling_rate: float, delta: float, accountant: str = "rdp"
) -> int:
    """Return the largest number of steps whose epsilon is at most ``target_epsilon``.

    Raises
    ------
    ValueError
        If an argument is out of range, if a single step already spends more
        than the target, or if the budget is not spent within 2^50 steps.
    """
    target, q, d, accountant = _check_common(target_epsilon, sampling_rate, delta, accountant)
    sigma = check_number("noise_multiplier", noise_multiplier, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)

    def eps_at(t: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return epsilon(noise_multiplier=sigma, sampling_rate=q, steps=t, delta=d, accountant=accountant)

    first = eps_at(1)
    if first > target:
        raise ValueError(
            f"target_epsilon={target!r} is unreachable: a single step already spends epsilon {first:.4g} "
            f"with noise_multiplier={sigma!r}, sampling_rate={q!r}, delta={d!r} ({accountant!r}); "
            "raise the noise multiplier or the target"
        )

    # Bracket: low meets the target, high does not.
    low, high = 1, 2
    while eps_at(high) <= target:
        if high >= _MAX_STEPS:
            raise ValueError(
                f"the budget target_epsilon={target!r} is not spent within {_MAX_STEPS} steps "
                f"(noise_multiplier={sigma!r}, sampling_rate={q!r}); there is no largest step count to return"
            )
        low, high = high, high * 2

    while high - low > 1:
        middle = (low + high) // 2
        if eps_at(middle) <= target:
            low = middle
        else:
            high = middle
    return low


def epochs_for(
    *, target_epsilon: float, noise_multiplier: float, sampling_rate: float, delta: float, accountant: str = "rdp"
) -> float:
    """Return the largest number of epochs, ``steps * sampling_rate``, within ``target_epsilon``.

    The result is :func:`steps_for` expressed in epochs, so it lies on the grid
    of whole steps; ``ceil(epochs / sampling_rate)`` gives those steps back.
    """
    steps = steps_for(
        target_epsilon=target_epsilon,
        noise_multiplier=noise_multiplier,
        sampling_rate=sampling_rate,
        delta=delta,
        accountant=accountant,
    )
    return float(np.float64(steps) * sampling_rate)


def _check_common(
    target_epsilon: object, sampling_rate: object, delta: object, accountant: object
) -> tuple[float, float, float, str]:
    """Validate the arguments shared by every inverse query."""
    target = check_number("target_epsilon", target_epsilon, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)
    q = check_number("sampling_rate", sampling_rate, low=0.0, high=1.0, low_inclusive=False)
    d = check_number("delta", delta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    return target, q, d, check_accountant(accountant)
