"""DP-SGD on Fashion-MNIST with DP-PCA: the accuracy and total epsilon the kit promises."""

import pytest

import dpkit
from dpkit.accounting import Accountant


def test_fashion_mnist_reaches_80_percent_within_epsilon_2(fashion_mnist):
    result = dpkit.train(
        dataset=fashion_mnist,
        pca=60,
        pca_noise_multiplier=16.0,
        hidden=(1000,),
        lot_size=600,
        noise_multiplier=1.5,
        clip_norm=1.0,
        learning_rate=0.1,
        momentum=0.9,
        epochs=20,
        delta=1e-5,
        seed=0,
    )
    assert result.test_accuracy >= 0.80
    assert result.epsilon <= 2.0
    assert result.pca == "dp"

    # The reported epsilon covers the DP-PCA release and all 20 * 100 steps.
    accountant = Accountant()
    accountant.add_gaussian(noise_multiplier=16.0)
    accountant.add_sgd(noise_multiplier=1.5, sampling_rate=600 / 60000, steps=2000)
    assert result.steps == 2000
    assert result.epsilon == pytest.approx(accountant.epsilon(delta=1e-5), rel=1e-12)
