"""The Accountant: recording segments, merging them and composing heterogeneous runs."""

from __future__ import annotations


import numpy as np
import pytest

from dpkit.accounting import ACCOUNTANTS, Accountant, Segment, epsilon, privacy_statement
from dpkit.accounting.rdp import DEFAULT_ORDERS, epsilon_from_rdp, rdp_sampled_gaussian


def test_empty_accountant_spends_nothing():
    acc = Accountant()
    for name in ACCOUNTANTS:
        assert acc.epsilon(delta=1e-5, accountant=name) == 0.0
    assert acc.steps == 0
    assert acc.segments == ()


def test_equal_steps_merge_into_one_segment():
    acc = Accountant()
    for _ in range(100):
        acc.add_sgd(noise_multiplier=1.1, sampling_rate=0.01)
    acc.add_sgd(noise_multiplier=1.1, sampling_rate=0.01, steps=50)
    assert acc.segments == (Segment(1.1, 0.01, 150, "sgd"),)
    assert acc.steps == 150


def test_per_step_records_equal_one_segment():
    per_step, bulk = Accountant(), Accountant()
    for _ in range(300):
        per_step.add_sgd(noise_multiplier=1.3, sampling_rate=0.02)
    bulk.add_sgd(noise_multiplier=1.3, sampling_rate=0.02, steps=300)
    for name in ACCOUNTANTS:
        assert per_step.epsilon(delta=1e-5, accountant=name) == bulk.epsilon(delta=1e-5, accountant=name)


def test_single_segment_matches_epsilon_function():
    acc = Accountant()
    acc.add_sgd(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000)
    for name in ACCOUNTANTS:
        direct = epsilon(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000, delta=1e-5, accountant=name)
        assert acc.epsilon(delta=1e-5, accountant=name) == pytest.approx(direct, rel=1e-12)


def test_changing_noise_starts_new_segment_and_composes_rdp():
    acc = Accountant()
    acc.add_sgd(noise_multiplier=1.0, sampling_rate=0.01, steps=500)
    acc.add_sgd(noise_multiplier=2.0, sampling_rate=0.01, steps=700)
    assert len(acc.segments) == 2
    assert acc.steps == 1200

    # RDP composes by adding the per-order curves of the segments.
    orders = np.array(DEFAULT_ORDERS)
    curve = 500 * rdp_sampled_gaussian(np.array([1.0]), np.array([0.01]), orders)[0]
    curve += 700 * rdp_sampled_gaussian(np.array([2.0]), np.array([0.01]), orders)[0]
    expected, _ = epsilon_from_rdp(curve, orders, np.float64(1e-5))
    assert acc.epsilon(delta=1e-5) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_mixed_run_lies_between_its_pure_runs(accountant):
    """A run at sigma 1 then sigma 2 spends more than all steps at sigma 2, less than all at sigma 1."""
    mixed = Accountant()
    mixed.add_sgd(noise_multiplier=1.0, sampling_rate=0.01, steps=500)
    mixed.add_sgd(noise_multiplier=2.0, sampling_rate=0.01, steps=500)
    low = epsilon(noise_multiplier=2.0, sampling_rate=0.01, steps=1000, delta=1e-5, accountant=accountant)
    high = epsilon(noise_multiplier=1.0, sampling_rate=0.01, steps=1000, delta=1e-5, accountant=accountant)
    value = mixed.epsilon(delta=1e-5, accountant=accountant)
    assert low <= value <= high


def test_gaussian_release_is_full_batch_step():
    acc = Accountant()
    acc.add_gaussian(noise_multiplier=5.0, count=3)
    assert acc.segments == (Segment(5.0, 1.0, 3, "gaussian"),)
    assert acc.steps == 0
    for name in ACCOUNTANTS:
        direct = epsilon(noise_multiplier=5.0, sampling_rate=1.0, steps=3, delta=1e-5, accountant=name)
        assert acc.epsilon(delta=1e-5, accountant=name) == pytest.approx(direct, rel=1e-12)


def test_pca_release_stays_separate():
    acc = Accountant()
    acc.add_gaussian(noise_multiplier=2.0)
    acc.add_sgd(noise_multiplier=2.0, sampling_rate=1.0, steps=5)
    assert [s.kind for s in acc.segments] == ["gaussian", "sgd"]
    assert acc.steps == 5


def test_pca_release_increases_epsilon():
    train_only, with_pca = Accountant(), Accountant()
    with_pca.add_gaussian(noise_multiplier=8.0)
    for acc in (train_only, with_pca):
        acc.add_sgd(noise_multiplier=1.5, sampling_rate=0.01, steps=3000)
    for name in ACCOUNTANTS:
        assert with_pca.epsilon(delta=1e-5, accountant=name) > train_only.epsilon(delta=1e-5, accountant=name)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda a: a.add_sgd(noise_multiplier=-1.0, sampling_rate=0.1), "noise_multiplier"),
        (lambda a: a.add_sgd(noise_multiplier=1.0, sampling_rate=0.0), "sampling_rate"),
        (lambda a: a.add_sgd(noise_multiplier=1.0, sampling_rate=0.1, steps=-2), "steps"),
        (lambda a: a.add_gaussian(noise_multiplier=float("nan")), "noise_multiplier"),
        (lambda a: a.add_gaussian(noise_multiplier=1.0, count=1.5), "count"),
        (lambda a: a.epsilon(delta=0.0), "delta"),
        (lambda a: a.epsilon(delta=1e-5, accountant="gdp"), "accountant"),
    ],
)
def test_invalid_records_rejected(call, name):
    with pytest.raises(ValueError, match=name):
        call(Accountant())


def test_statement_names_guarantee_neighbours_sampling_and_accountant():
    acc = Accountant()
    acc.add_sgd(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000)
    text = privacy_statement(acc, delta=1e-5, accountant="moments")
    assert f"{acc.epsilon(delta=1e-5, accountant='moments'):.3g}" in text
    assert "1e-05" in text
    assert "adding or removing one example" in text
    assert "Poisson sampling" in text
    assert "moments accountant" in text
    assert text.endswith(".")


def test_statement_for_shuffled_lots_says_indicative():
    acc = Accountant()
    acc.add_sgd(noise_multiplier=1.0, sampling_rate=0.01, steps=100)
    text = privacy_statement(acc, delta=1e-5, sampler="shuffle")
    assert "does not hold" in text
    assert "only indicative" in text


def test_statement_rejects_unknown_sampler():
    with pytest.raises(ValueError, match="sampler"):
        privacy_statement(Accountant(), delta=1e-5, sampler="fixed")
