"""Build a :class:`Dataset` for each name in :data:`DATASETS`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dpkit._validate import check_choice
from dpkit.data.dataset import Dataset
from dpkit.data.idx import read_idx
from dpkit.data.locate import locate_files
from dpkit.data.sources import IDX_FILES, IDX_SOURCES

logger = logging.getLogger("dpkit.data")

#: Names accepted by :func:`load`.
DATASETS: tuple[str, ...] = ("digits", "fashion-mnist", "mnist")

#: Fraction of the 1,797 digits images held out for testing.
DIGITS_TEST_FRACTION = 0.2

#: Seed of the digits train/test split; fixed so every run gets the same split.
DIGITS_SPLIT_SEED = 0

#: Side of an MNIST or Fashion-MNIST image in pixels.
IDX_IMAGE_SIDE = 28

#: Classes in MNIST and Fashion-MNIST (digits 0-9, ten kinds of clothing).
IDX_NUM_CLASSES = 10


def load(name: str, *, data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """Load a dataset by name, with features scaled to [0, 1].

    Parameters
    ----------
    name : {"digits", "fashion-mnist", "mnist"}
        ``digits`` is scikit-learn's bundled 8x8 digits (1,797 images, always
        offline). The other two are read from IDX files, found or downloaded
        as :mod:`dpkit.data.locate` describes.
    data_dir : str or Path, optional
        Search only ``data_dir/<name>/`` and ``data_dir``, and download into
        ``data_dir/<name>/``. Ignored for ``digits``.
    download : bool
        Whether a missing IDX dataset may be downloaded.

    Returns
    -------
    Dataset
        ``digits``: 1,438 train and 359 test examples, 64 features,
        image_shape (8, 8). ``fashion-mnist`` and ``mnist``: 60,000 train and
        10,000 test examples, 784 features, image_shape (28, 28).

    Raises
    ------
    ValueError
        For an unknown name, or a malformed IDX file.
    ChecksumError
        A ``ValueError`` subclass: a file on disk or a download has the wrong SHA-256.
    DatasetNotFoundError
        A ``FileNotFoundError`` subclass: the files are not on disk and
        downloading was disabled or failed. The message lists where to put them.
    """
    check_choice("name", name, DATASETS)
    if name == "digits":
        dataset = load_digits()
    else:
        dataset = load_idx_dataset(name, data_dir=data_dir, download=download)
    logger.info(
        "Loaded %s from %s: %d train and %d test examples",
        name,
        dataset.source,
        len(dataset.y_train),
        len(dataset.y_test),
    )
    return dataset


def split_indices(
    num_examples: int, *, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(num_examples)`` at random into train and test indices.

    The first ``round(test_fraction * num_examples)`` entries of a random
    permutation form the test set and the rest the training set.
    """
    permutation = rng.permutation(num_examples)
    num_test = round(test_fraction * num_examples)
    return permutation[num_test:], permutation[:num_test]


def load_digits() -> Dataset:
    """Load scikit-learn's 8x8 digits with a fixed 80/20 train/test split."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()

    # Pixels are counts of set bits in 4x4 blocks of a 32x32 bitmap, so 16 is the maximum.
    features = bunch.data / 16.0
    labels = bunch.target.astype(np.int64)
    train, test = split_indices(
        len(labels),
        test_fraction=DIGITS_TEST_FRACTION,
        rng=np.random.default_rng(DIGITS_SPLIT_SEED),
    )
    return Dataset(
        name="digits",
        x_train=features[train],
        y_train=labels[train],
        x_test=features[test],
        y_test=labels[test],
        num_classes=10,
        image_shape=(8, 8),
        source="scikit-learn",
    )


def load_idx_dataset(name: str, *, data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """Load an MNIST-style dataset from its four IDX files, pixels divided by 255."""
    source = IDX_SOURCES[name]
    paths = locate_files(source, data_dir=data_dir, download=download)

    x_train = _read_images(paths[IDX_FILES["train_images"]])
    y_train = _read_labels(paths[IDX_FILES["train_labels"]], len(x_train))
    x_test = _read_images(paths[IDX_FILES["test_images"]])
    y_test = _read_labels(paths[IDX_FILES["test_labels"]], len(x_test))
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=IDX_NUM_CLASSES,
        image_shape=(IDX_IMAGE_SIDE, IDX_IMAGE_SIDE),
        source=str(paths[IDX_FILES["train_images"]].parent),
    )


def _read_images(path: Path) -> np.ndarray:
    """Read an IDX image file into float64 rows of 784 pixels in [0, 1]."""
    images = read_idx(path)
    expected_tail = (IDX_IMAGE_SIDE, IDX_IMAGE_SIDE)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != expected_tail:
        raise ValueError(
            f"{path}: expected uint8 images of shape (n, {IDX_IMAGE_SIDE}, {IDX_IMAGE_SIDE}); "
            f"got {images.dtype.name} of shape {images.shape}"
        )

    # Cast first, then divide in place: this gives the same values as a mixed-type
    # np.divide, which was 20 times slower on NumPy 2.4 (0.9 s for the 60,000 images).
    pixels = images.reshape(len(images), -1).astype(np.float64)
    pixels /= 255.0
    return pixels


def _read_labels(path: Path, num_images: int) -> np.ndarray:
    """Read an IDX label file into int64 labels, one per image."""
    labels = read_idx(path)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{path}: expected a 1-D array of uint8 labels; got {labels.dtype.name} of shape {labels.shape}"
        )
    if len(labels) != num_images:
        raise ValueError(f"{path}: {len(labels)} labels do not match the {num_images} images")
    return labels.astype(np.int64)
