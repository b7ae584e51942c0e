"""Datasets for dpkit: scikit-learn's digits, Fashion-MNIST and MNIST.

``load(name)`` returns a validated :class:`Dataset` with features in [0, 1].
``digits`` is bundled with scikit-learn and always works offline. The two IDX
datasets are looked up on disk (``DPKIT_DATA``, ``data/`` of a checkout, the
Debian package folder, the user cache), checked against SHA-256 digests, and
downloaded with pooch when missing; :mod:`dpkit.data.locate` gives the details.
"""

from dpkit.data.dataset import Dataset
from dpkit.data.idx import parse_idx, read_idx
from dpkit.data.loaders import DATASETS, load, load_digits, split_indices
from dpkit.data.locate import ChecksumError, DatasetNotFoundError, search_folders

__all__ = [
    "DATASETS",
    "ChecksumError",
    "Dataset",
    "DatasetNotFoundError",
    "load",
    "load_digits",
    "parse_idx",
    "read_idx",
    "search_folders",
    "split_indices",
]
