"""Poisson and shuffled lot samplers: inclusion rates, empty lots, epochs, batches."""

import numpy as np
import pytest

from dpkit.sampling import poisson_lot, poisson_lots, shuffled_lots, split_into_batches, steps_per_epoch


def test_poisson_inclusion_frequency_matches_sampling_rate():
    num_examples, sampling_rate, steps = 200, 0.05, 4000
    counts = np.zeros(num_examples)
    for lot in poisson_lots(num_examples, sampling_rate, steps, rng=np.random.default_rng(0)):
        counts[lot] += 1

    # Each count is Binomial(steps, q); 5 standard deviations keeps the test from flaking.
    spread = np.sqrt(steps * sampling_rate * (1 - sampling_rate))
    assert np.abs(counts - steps * sampling_rate).max() < 5 * spread
    # The pooled rate over all steps * N independent draws is much tighter.
    pooled_spread = np.sqrt(sampling_rate * (1 - sampling_rate) / (steps * num_examples))
    assert abs(counts.sum() / (steps * num_examples) - sampling_rate) < 5 * pooled_spread


def test_poisson_lots_are_independent_between_examples():
    num_examples, sampling_rate, steps = 2, 0.5, 20000
    together = 0
    for lot in poisson_lots(num_examples, sampling_rate, steps, rng=np.random.default_rng(3)):
        together += len(lot) == 2
    # Under independence both are in a lot with probability q^2 = 0.25.
    assert abs(together / steps - 0.25) < 5 * np.sqrt(0.25 * 0.75 / steps)


def test_poisson_lot_size_varies_and_can_be_empty():
    rng = np.random.default_rng(0)
    sizes = [len(poisson_lot(10, 0.1, rng=rng)) for _ in range(2000)]
    # P(empty) = 0.9^10 ≈ 0.349.
    assert abs(np.mean(np.equal(sizes, 0)) - 0.9**10) < 0.05
    assert len(set(sizes)) > 3


def test_poisson_lot_indices_are_sorted_and_unique():
    lot = poisson_lot(1000, 0.3, rng=np.random.default_rng(5))
    assert np.all(np.diff(lot) > 0)


def test_shuffled_lots_cover_each_example_once_per_epoch():
    lots = list(shuffled_lots(12, 4, 6, rng=np.random.default_rng(0)))
    assert all(len(lot) == 4 for lot in lots)
    first_epoch = np.sort(np.concatenate(lots[:3]))
    second_epoch = np.sort(np.concatenate(lots[3:]))
    np.testing.assert_array_equal(first_epoch, np.arange(12))
    np.testing.assert_array_equal(second_epoch, np.arange(12))


def test_split_into_batches_keeps_every_index_once():
    lot = np.arange(10)
    batches = split_into_batches(lot, 4)
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), lot)
    assert split_into_batches(np.zeros(0, dtype=int), 4) == []


def test_steps_per_epoch_rounds_up():
    assert steps_per_epoch(60000, 600) == 100
    assert steps_per_epoch(1438, 64) == 23


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5, float("nan")])
def test_poisson_rejects_bad_sampling_rate(rate):
    with pytest.raises(ValueError, match="sampling_rate"):
        poisson_lot(10, rate, rng=np.random.default_rng(0))


def test_shuffled_rejects_lot_larger_than_dataset():
    with pytest.raises(ValueError, match=r"lot_size must be an integer in \[1, 10\]; got 11"):
        next(shuffled_lots(10, 11, 1, rng=np.random.default_rng(0)))
