"""`dpkit.train` end to end on digits: reproducibility, step counting, PCA cost, bad input."""

import math
import warnings

import numpy as np
import pytest

import dpkit
from dpkit.accounting import Accountant, epsilon
from dpkit.data import Dataset, load
from dpkit.sampling import steps_per_epoch

FAST = dict(dataset="digits", epochs=2, hidden=(32,), lot_size=64, noise_multiplier=1.2, clip_norm=1.0, seed=3)


def test_same_seed_gives_identical_results():
    first = dpkit.train(**FAST)
    second = dpkit.train(**FAST)
    assert first.history == second.history
    for a, b in zip(first.params, second.params):
        np.testing.assert_array_equal(a, b)


def test_different_seed_gives_different_parameters():
    first = dpkit.train(**FAST)
    other = dpkit.train(**{**FAST, "seed": 4})
    assert not np.array_equal(first.params[0], other.params[0])


def test_every_step_is_counted_and_accounted():
    result = dpkit.train(**FAST)
    num_examples = len(load("digits").x_train)
    expected_steps = FAST["epochs"] * steps_per_epoch(num_examples, FAST["lot_size"])
    assert result.steps == expected_steps
    assert result.history[-1]["steps"] == expected_steps

    expected = epsilon(
        noise_multiplier=FAST["noise_multiplier"], sampling_rate=FAST["lot_size"] / num_examples, steps=expected_steps, delta=1e-5
    )
    assert result.epsilon == pytest.approx(expected, rel=1e-12)
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert result.history[0]["epsilon"] < result.history[1]["epsilon"]


def test_dp_pca_cost_is_composed_into_epsilon():
    with_pca = dpkit.train(**FAST, pca=20, pca_noise_multiplier=8.0)
    without = dpkit.train(**FAST)
    assert with_pca.pca == "dp"
    assert with_pca.epsilon > without.epsilon

    accountant = Accountant()
    accountant.add_gaussian(noise_multiplier=8.0)
    num_examples = len(load("digits").x_train)
    accountant.add_sgd(noise_multiplier=FAST["noise_multiplier"], sampling_rate=FAST["lot_size"] / num_examples, steps=with_pca.steps)
    assert with_pca.epsilon == pytest.approx(accountant.epsilon(delta=1e-5), rel=1e-12)


def test_public_pca_is_marked_and_not_charged():
    public = dpkit.train(**FAST, pca=20, pca_public=True)
    without = dpkit.train(**FAST)
    assert public.pca == "public"
    assert public.epsilon == pytest.approx(without.epsilon, rel=1e-12)
    assert "public" in public.privacy_statement


def test_shuffled_lots_warn_and_are_marked():
    with pytest.warns(dpkit.ShuffledLotsWarning, match="not a proven bound"):
        result = dpkit.train(**FAST, sampler="shuffle")
    assert result.poisson_accounting is False
    assert result.sampler == "shuffle"


def test_poisson_run_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", dpkit.ShuffledLotsWarning)
        assert dpkit.train(**FAST).poisson_accounting is True


def test_result_dict_has_the_documented_keys():
    record = dpkit.train(**FAST).to_dict()
    for key in ("test_accuracy", "epsilon", "delta", "accountant", "history"):
        assert key in record
    assert "params" not in record
    assert set(record["history"][0]) == {"epoch", "steps", "loss", "test_accuracy", "epsilon"}


def test_callback_sees_each_epoch():
    seen = []
    dpkit.train(**FAST, callback=seen.append)
    assert [r["epoch"] for r in seen] == [1, 2]


def test_training_learns_something():
    result = dpkit.train(dataset="digits", epochs=5, hidden=(64,), lot_size=64, noise_multiplier=1.0, clip_norm=1.0, learning_rate=0.2)
    assert result.history[-1]["loss"] < result.history[0]["loss"] or result.test_accuracy > 0.8
    assert result.test_accuracy > 0.5  # chance is 0.1


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("noise_multiplier", 0.0, r"noise_multiplier must be in \(0, inf\); got 0.0"),
        ("noise_multiplier", -1.0, r"noise_multiplier must be in \(0, inf\); got -1.0"),
        ("noise_multiplier", math.nan, r"noise_multiplier must be a number in \(0, inf\); got nan"),
        ("clip_norm", 0.0, r"clip_norm must be in \(0, inf\); got 0.0"),
        ("clip_norm", -2.0, r"clip_norm must be in \(0, inf\); got -2.0"),
        ("lot_size", 0, r"lot_size must be an integer in \[1, inf\]; got 0"),
        ("lot_size", 100000, r"lot_size must be an integer in \[1, 1438\]; got 100000"),
        ("delta", 0.0, r"delta must be in \(0, 1\); got 0.0"),
        ("delta", 1.0, r"delta must be in \(0, 1\); got 1.0"),
        ("epochs", 0, r"epochs must be an integer in \[1, inf\]; got 0"),
        ("accountant", "magic", r"accountant must be one of .*got 'magic'"),
    ],
)
def test_bad_settings_name_parameter_range_and_value(setting, value, message):
    with pytest.raises(ValueError, match=message):
        dpkit.train(**{**FAST, setting: value})


def test_unknown_dataset_is_rejected():
    with pytest.raises(ValueError, match=r"dataset must be one of .*got 'cifar'"):
        dpkit.train(dataset="cifar")


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match="unknown training setting.*noise_multipler"):
        dpkit.train(dataset="digits", noise_multipler=1.0)


def test_nan_in_data_is_rejected():
    x = np.ones((10, 3))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="x_train"):
        Dataset.from_arrays(x, np.zeros(10, dtype=int), np.ones((2, 3)), np.zeros(2, dtype=int), num_classes=2)


def test_labels_out_of_range_are_rejected():
    with pytest.raises(ValueError, match="y_train"):
        Dataset.from_arrays(np.ones((10, 3)), np.full(10, 5), np.ones((2, 3)), np.zeros(2, dtype=int), num_classes=2)


def test_custom_dataset_trains():
    rng = np.random.default_rng(0)
    x = rng.random(size=(1000, 4))
    labels = (x[:, 0] > 0.5).astype(int)
    data = Dataset.from_arrays(x[:800], labels[:800], x[800:], labels[800:], num_classes=2)
    result = dpkit.train(dataset=data, epochs=10, hidden=(8,), lot_size=100, noise_multiplier=0.8, clip_norm=1.0, learning_rate=1.0)
    assert result.config["dataset"] == data.name
    assert result.test_accuracy > 0.7
