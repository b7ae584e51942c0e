"""Short pinned runs of the named configurations on Fashion-MNIST subsets.

The accuracies were measured with seed 0 on 2 CPU cores, 3 epochs each. The
tolerances allow floating-point drift between machines. A broken step (no
clipping, a wrong noise scale, a lost PCA release) moves the result further.
"""

import warnings

import pytest

import dpkit
from dpkit.accounting import Accountant
from dpkit.data import Dataset

from conftest import require_torch

# The moments accountant stops at lambda = 32 by definition, so its order-edge advice is expected.
pytestmark = pytest.mark.filterwarnings("ignore:the best moment order is at the edge:RuntimeWarning")


def subset(data: Dataset, train: int, test: int) -> Dataset:
    return Dataset.from_arrays(
        data.x_train[:train], data.y_train[:train], data.x_test[:test], data.y_test[:test],
        name=f"{data.name}-{train}", num_classes=data.num_classes, image_shape=data.image_shape,
    )


def moments_epsilon(*, sigma, pca_sigma, sampling_rate, steps):
    record = Accountant()
    record.add_gaussian(noise_multiplier=pca_sigma)
    record.add_sgd(noise_multiplier=sigma, sampling_rate=sampling_rate, steps=steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return record.epsilon(delta=1e-5, accountant="moments")


@pytest.fixture(scope="module")
def abadi_runs(fashion_mnist):
    data = subset(fashion_mnist, 20_000, 5_000)
    return {level: dpkit.train(dataset=data, config="abadi2016", noise=level, epochs=3, seed=0) for level in ("small", "medium", "large")}


# (noise multiplier, PCA noise multiplier, test accuracy after 3 epochs) per level.
ABADI_PINNED = {"small": (2.0, 4.0, 0.705), "medium": (4.0, 7.0, 0.695), "large": (8.0, 16.0, 0.670)}


@pytest.mark.parametrize("level", ["small", "medium", "large"])
def test_abadi2016_short_run_pinned(abadi_runs, level):
    sigma, pca_sigma, accuracy = ABADI_PINNED[level]
    result = abadi_runs[level]
    assert result.config["noise_multiplier"] == sigma
    assert result.config["pca_noise_multiplier"] == pca_sigma
    assert result.steps == 3 * 34  # ceil(20000 / 600) lots per epoch
    assert result.pca == "dp"
    expected = moments_epsilon(sigma=sigma, pca_sigma=pca_sigma, sampling_rate=600 / 20_000, steps=result.steps)
    assert result.epsilon == pytest.approx(expected, rel=1e-9)
    assert result.test_accuracy == pytest.approx(accuracy, abs=0.02)


def test_abadi2016_noise_orders_accuracy(abadi_runs):
    """Large noise trains worse than small noise over the same epochs, as in Abadi et al. 2016 (section 5.2)."""
    assert abadi_runs["large"].test_accuracy < abadi_runs["medium"].test_accuracy
    assert abadi_runs["large"].test_accuracy < abadi_runs["small"].test_accuracy


def test_abadi2016_budget_epochs_meet_target(fashion_mnist):
    """Without an epoch override, the large-noise level on 20,000 images trains the epochs its budget allows."""
    data = subset(fashion_mnist, 20_000, 2_000)
    result = dpkit.train(dataset=data, config="abadi2016", noise="large", seed=0)
    assert result.epsilon <= 0.5
    one_more = moments_epsilon(sigma=8.0, pca_sigma=16.0, sampling_rate=600 / 20_000, steps=result.steps + 34)
    assert one_more > 0.5


def test_modern_short_run_pinned(fashion_mnist):
    """Three epochs of the CNN recipe on 10,000 images, noise calibrated to epsilon 3 under pld."""
    require_torch()
    data = subset(fashion_mnist, 10_000, 5_000)
    result = dpkit.train(dataset=data, config="modern", noise="medium", epochs=3, seed=0)
    assert result.config["model"] == "cnn"
    assert result.pca == "none"
    assert result.accountant == "pld"
    assert 0.97 * 3.0 <= result.epsilon <= 3.0
    assert result.test_accuracy == pytest.approx(0.459, abs=0.04)
