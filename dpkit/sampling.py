"""Lot samplers: which examples take part in each noisy update.

The accountants in :mod:`dpkit.accounting` analyse Poisson sampling: every example
joins each lot independently with probability ``sampling_rate = lot_size / N``, so a
lot's size is random (Binomial(N, q)) and may be zero. :func:`poisson_lots` does
exactly that. An empty lot is still a step: it gets zero signal and full noise, and
the accountant counts it.

:func:`shuffled_lots` draws fixed-size lots from a fresh permutation each epoch, as
most non-private training does. The Poisson analysis does not cover it, so training
with it warns and marks the result.

A lot can be larger than what fits in memory, so :func:`split_into_batches` cuts it
into physical batches whose clipped gradients are summed before the noise is added
once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dpkit._validate import check_integer, check_number

SAMPLERS = ("poisson", "shuffle")


def poisson_lot(num_examples: int, sampling_rate: float, *, rng: np.random.Generator) -> np.ndarray:
    """Return the sorted indices of one Poisson-sampled lot.

    Each of the ``num_examples`` examples is included independently with
    probability ``sampling_rate``; the result may be empty.
    """
    check_integer("num_examples", num_examples, low=1)
    check_number("sampling_rate", sampling_rate, low=0.0, low_inclusive=False, high=1.0)
    return np.flatnonzero(rng.random(num_examples) < sampling_rate)


def poisson_lots(num_examples: int, sampling_rate: float, steps: int, *, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield ``steps`` independent Poisson lots, one per noisy update."""
    check_integer("steps", steps, low=0)
    for _ in range(steps):
        yield poisson_lot(num_examples, sampling_rate, rng=rng)


def shuffled_lots(num_examples: int, lot_size: int, steps: int, *, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield ``steps`` lots of exactly ``lot_size`` examples, walking through a fresh permutation each epoch.

    The Poisson accounting does not hold for these lots: each example appears once
    per epoch at a position that depends on the others, not independently.
    """
    check_integer("num_examples", num_examples, low=1)
    check_integer("lot_size", lot_size, low=1, high=num_examples)
    check_integer("steps", steps, low=0)

    lots_per_epoch = num_examples // lot_size
    order = rng.permutation(num_examples)
    position = 0
    for _ in range(steps):
        if position == lots_per_epoch:
            order = rng.permutation(num_examples)
            position = 0
        yield np.sort(order[position * lot_size : (position + 1) * lot_size])
        position += 1


def split_into_batches(lot: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Cut a lot's indices into physical batches of at most ``batch_size``; an empty lot gives no batch."""
    check_integer("batch_size", batch_size, low=1)
    return [lot[start : start + batch_size] for start in range(0, len(lot), batch_size)]


def steps_per_epoch(num_examples: int, lot_size: int) -> int:
    """Return the number of lots in one epoch: ``ceil(N / L)``, so that E = T·L/N rounds up."""
    return -(-num_examples // lot_size)
