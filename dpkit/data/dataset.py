"""The validated container every dpkit loader returns.

A :class:`Dataset` checks its arrays when it is built, so code downstream can
rely on the contract without checking again. Features are finite float64 in
[0, 1] and labels are int64 in [0, num_classes). The train and test parts each
contain at least one example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dpkit._validate import check_integer


@dataclass(frozen=True)
class Dataset:
    """A classification dataset split into train and test parts.

    Attributes
    ----------
    name : str
        Dataset name, for example ``"digits"``.
    x_train : ndarray of shape (n_train, n_features), float64
        Training features, every entry finite and in [0, 1].
    y_train : ndarray of shape (n_train,), int64
        Training labels in [0, num_classes).
    x_test : ndarray of shape (n_test, n_features), float64
        Test features, same range as ``x_train``.
    y_test : ndarray of shape (n_test,), int64
        Test labels in [0, num_classes).
    num_classes : int
        Number of classes, at least 1.
    image_shape : tuple of (int, int)
        Height and width of one image; their product equals ``n_features``.
    source : str
        Folder the files were read from, or ``"scikit-learn"`` for ``digits``.

    Raises
    ------
    ValueError
        When any field breaks the contract above. The message names the field
        and the value received. Arrays are converted with ``numpy.asarray``
        first, so lists and other dtypes are accepted where the values fit.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    image_shape: tuple[int, int]
    source: str

    def __post_init__(self) -> None:
        # The dataclass is frozen, so converted fields are written with object.__setattr__.
        num_classes = check_integer("num_classes", self.num_classes, low=1)
        object.__setattr__(self, "num_classes", num_classes)

        x_train = _check_features("x_train", self.x_train)
        x_test = _check_features("x_test", self.x_test)
        if x_test.shape[1] != x_train.shape[1]:
            raise ValueError(
                f"x_test must have the same number of features as x_train ({x_train.shape[1]}); "
                f"got {x_test.shape[1]}"
            )
        y_train = _check_labels("y_train", self.y_train, len(x_train), num_classes)
        y_test = _check_labels("y_test", self.y_test, len(x_test), num_classes)

        image_shape = _check_image_shape(self.image_shape, x_train.shape[1])
        for field, value in (
            ("x_train", x_train),
            ("y_train", y_train),
            ("x_test", x_test),
            ("y_test", y_test),
            ("image_shape", image_shape),
        ):
            object.__setattr__(self, field, value)

    @classmethod
    def from_arrays(
        cls,
        x_train: object,
        y_train: object,
        x_test: object,
        y_test: object,
        *,
        name: str = "custom",
        num_classes: int | None = None,
        image_shape: tuple[int, int] | None = None,
    ) -> Dataset:
        """Build a validated dataset from user arrays.

        Parameters
        ----------
        x_train, x_test : array_like of shape (n, n_features)
            Features, finite and already scaled to [0, 1].
        y_train, y_test : array_like of shape (n,)
            Integer labels.
        name : str
            Name shown in results and logs.
        num_classes : int, optional
            Number of classes. By default the largest label plus one.
        image_shape : tuple of (int, int), optional
            By default ``(s, s)`` when ``n_features`` is a perfect square ``s*s``,
            otherwise ``(1, n_features)``.

        Raises
        ------
        ValueError
            When an array is not 2-D (features) or 1-D (labels), contains NaN,
            infinity or values outside [0, 1], has a label that is not an
            integer in [0, num_classes), or when lengths do not match.
        """
        x_train = _check_features("x_train", x_train)
        x_test = _check_features("x_test", x_test)
        if num_classes is None:
            y_train_array = _as_integer_labels("y_train", y_train)
            y_test_array = _as_integer_labels("y_test", y_test)
            num_classes = int(max(y_train_array.max(initial=0), y_test_array.max(initial=0))) + 1
        if image_shape is None:
            image_shape = _default_image_shape(x_train.shape[1])
        return cls(
            name=name,
            x_train=x_train,
            y_train=y_train,  # type: ignore[arg-type]
            x_test=x_test,
            y_test=y_test,  # type: ignore[arg-type]
            num_classes=num_classes,
            image_shape=image_shape,
            source="arrays",
        )

    @property
    def num_features(self) -> int:
        """Number of features per example (pixels for image datasets)."""
        return int(self.x_train.shape[1])


def _check_features(name: str, values: object) -> np.ndarray:
    """Return ``values`` as a 2-D float64 array after checking it is finite and in [0, 1]."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 2-D array of numbers in [0, 1]; got {values!r}") from None

    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_examples, n_features); got shape {array.shape}"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(
            f"{name} must contain at least 1 example and 1 feature; got shape {array.shape}"
        )

    # min and max are NaN when any entry is NaN, so one pair of reductions covers
    # NaN, infinities and the range. The slow search below runs only on failure.
    low, high = array.min(), array.max()
    if not (low >= 0.0 and high <= 1.0):
        bad = ~((array >= 0.0) & (array <= 1.0))
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must contain finite numbers in [0, 1]; "
            f"got {float(array[row, column])!r} at row {row}, column {column}"
        )
    return array


def _as_integer_labels(name: str, values: object) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array after checking every entry is a whole number."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels; got shape {array.shape}")
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name} must contain integer labels; got dtype {array.dtype}")

    if np.issubdtype(array.dtype, np.floating):
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            index = int(np.argmin(whole))
            raise ValueError(
                f"{name} must contain integer labels; got {array[index].item()!r} at index {index}"
            )
    return array.astype(np.int64)


def _check_labels(name: str, values: object, num_examples: int, num_classes: int) -> np.ndarray:
    """Return ``values`` as int64 labels after checking the length and the range."""
    labels = _as_integer_labels(name, values)
    features_name = "x_" + name.removeprefix("y_")
    if len(labels) != num_examples:
        raise ValueError(
            f"{name} must have one label per row of {features_name} ({num_examples}); "
            f"got {len(labels)} labels"
        )

    outside = (labels < 0) | (labels >= num_classes)
    if outside.any():
        index = int(np.argmax(outside))
        raise ValueError(
            f"{name} must contain labels in [0, {num_classes}) for num_classes={num_classes}; "
            f"got {labels[index]} at index {index}"
        )
    return labels


def _check_image_shape(image_shape: object, num_features: int) -> tuple[int, int]:
    """Return ``image_shape`` as a pair of ints whose product is ``num_features``."""
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise ValueError(f"image_shape must be a pair (height, width); got {image_shape!r}")
    height = check_integer("image_shape[0]", image_shape[0], low=1)
    width = check_integer("image_shape[1]", image_shape[1], low=1)
    if height * width != num_features:
        raise ValueError(
            f"image_shape must multiply to the number of features ({num_features}); "
            f"got {image_shape!r}"
        )
    return (height, width)


def _default_image_shape(num_features: int) -> tuple[int, int]:
    side = math.isqrt(num_features)
    if side * side == num_features:
        return (side, side)
    return (1, num_features)
