"""Tests for dpkit.data: digits split, IDX reader, search order, checksums, downloads.

IDX files are written here by a small writer that follows the format
description (not by dpkit), and downloads come from an HTTP server on
127.0.0.1 that the test starts, so no test touches the network.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_load_digits

import dpkit.data.locate as locate
from dpkit.data import (
    DATASETS,
    ChecksumError,
    Dataset,
    DatasetNotFoundError,
    load,
    read_idx,
    search_folders,
    split_indices,
)
from dpkit.data.sources import IDX_FILES, IDX_SOURCES, IdxSource

NUM_TRAIN, NUM_TEST = 6, 4

# Type codes from the IDX format description (LeCun et al., "The MNIST database").
TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


# ---------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when the name ends in .gz."""
    kind = array.dtype.kind + str(array.dtype.itemsize)
    header = bytes([0, 0, TYPE_CODES[kind], array.ndim])
    header += b"".join(size.to_bytes(4, "big") for size in array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_tiny_dataset(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write four small MNIST-shaped IDX files into ``folder``; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(NUM_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(NUM_TRAIN, dtype=np.uint8) % 10,
        "test_images": rng.integers(0, 256, size=(NUM_TEST, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(NUM_TEST, dtype=np.uint8)[::-1] % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for role, filename in IDX_FILES.items():
        write_idx(folder / filename, arrays[role])
    return arrays


def tiny_source(folder: Path, mirrors: tuple[str, ...] = ()) -> IdxSource:
    """Registry entry for the files in ``folder``, served from ``mirrors``."""
    return IdxSource(
        name="mnist",
        mirrors=mirrors,
        sha256={filename: (sha256_of(folder / filename),) for filename in IDX_FILES.values()},
        homepage="http://127.0.0.1/",
        licence="test data",
    )


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 in a thread; yield the base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """Return a base URL on 127.0.0.1 where no server listens any more."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every default search folder into ``tmp_path`` so the host's data is not seen."""
    monkeypatch.delenv("DPKIT_DATA", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(locate, "SYSTEM_DATA_ROOT", tmp_path / "system")
    monkeypatch.setattr(locate, "REPOSITORY_ROOT", tmp_path / "installed")
    monkeypatch.setattr(locate, "cache_root", lambda: tmp_path / "cache")
    return tmp_path


# ---------------------------------------------------------------- digits


def test_digits_shapes_and_range():
    dataset = load("digits")
    assert dataset.x_train.shape == (1438, 64)
    assert dataset.x_test.shape == (359, 64)
    assert dataset.y_train.shape == (1438,)
    assert dataset.y_test.shape == (359,)
    assert dataset.x_train.dtype == np.float64
    assert dataset.y_train.dtype == np.int64
    assert dataset.x_train.min() == 0.0
    assert dataset.x_train.max() == 1.0
    assert dataset.image_shape == (8, 8)
    assert dataset.num_classes == 10
    assert dataset.source == "scikit-learn"


def test_digits_split_repeatable():
    first, second = load("digits"), load("digits")
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


def test_digits_split_disjoint_and_matches_sklearn():
    bunch = sklearn_load_digits()
    train, test = split_indices(len(bunch.target), test_fraction=0.2, rng=np.random.default_rng(0))
    assert len(set(train) & set(test)) == 0
    assert sorted(np.concatenate([train, test])) == list(range(len(bunch.target)))

    # The loaded rows are exactly sklearn's rows at those indices, scaled by 1/16.
    dataset = load("digits")
    np.testing.assert_array_equal(dataset.x_train, bunch.data[train] / 16.0)
    np.testing.assert_array_equal(dataset.x_test, bunch.data[test] / 16.0)
    np.testing.assert_array_equal(dataset.y_test, bunch.target[test])


def test_unknown_name_rejected():
    with pytest.raises(ValueError, match=r"name must be one of .*'digits'.*; got 'cifar10'"):
        load("cifar10")
    assert DATASETS == ("digits", "fashion-mnist", "mnist")


# ---------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(1)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"values-idx3{suffix}"
    write_idx(path, array)
    result = read_idx(path)
    assert result.shape == (3, 4, 5)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, array)


def test_idx_bad_magic(tmp_path):
    path = tmp_path / "bad-magic.gz"
    path.write_bytes(gzip.compress(b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc"))
    with pytest.raises(ValueError, match=r"bad-magic\.gz: not an IDX file.*two zero bytes.*0x01000801"):
        read_idx(path)


def test_idx_unknown_type_code(tmp_path):
    path = tmp_path / "bad-type"
    path.write_bytes(b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match=r"bad-type: unknown IDX type code 0x07"):
        read_idx(path)


def test_idx_truncated_values(tmp_path):
    path = tmp_path / "short-idx1.gz"
    write_idx(path, np.arange(10, dtype=np.uint8))
    payload = gzip.decompress(path.read_bytes())[:-3]
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match=r"short-idx1\.gz: .*\(10 bytes of values\) but the file has 7"):
        read_idx(path)


def test_idx_extra_bytes(tmp_path):
    path = tmp_path / "long-idx1"
    write_idx(path, np.arange(10, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match=r"long-idx1: .*\(10 bytes of values\) but the file has 11"):
        read_idx(path)


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    write_idx(path, np.arange(1000, dtype=np.uint8).reshape(10, 100))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"cut\.gz: truncated gzip file"):
        read_idx(path)


def test_idx_not_gzip(tmp_path):
    path = tmp_path / "plain.gz"
    write_idx(tmp_path / "plain", np.arange(4, dtype=np.uint8))
    path.write_bytes((tmp_path / "plain").read_bytes())
    with pytest.raises(ValueError, match=r"plain\.gz: not a valid gzip file"):
        read_idx(path)


# ---------------------------------------------------------------- search and checksums


def test_load_from_data_dir(isolated, monkeypatch):
    folder = isolated / "given" / "mnist"
    arrays = make_tiny_dataset(folder)
    monkeypatch.setitem(IDX_SOURCES, "mnist", tiny_source(folder))

    dataset = load("mnist", data_dir=isolated / "given", download=False)
    assert dataset.source == str(folder)
    assert dataset.image_shape == (28, 28)
    np.testing.assert_array_equal(dataset.x_train, arrays["train_images"].reshape(NUM_TRAIN, 784) / 255.0)
    np.testing.assert_array_equal(dataset.y_test, arrays["test_labels"])


def test_dpkit_data_env_var(isolated, monkeypatch):
    # Files directly in $DPKIT_DATA, and the same dataset in the Debian folder: the variable wins.
    direct = isolated / "env"
    make_tiny_dataset(direct)
    make_tiny_dataset(isolated / "system" / "mnist")
    monkeypatch.setitem(IDX_SOURCES, "mnist", tiny_source(direct))
    monkeypatch.setenv("DPKIT_DATA", str(direct))
    assert load("mnist", download=False).source == str(direct)

    # $DPKIT_DATA/<name>/ is searched before $DPKIT_DATA itself.
    make_tiny_dataset(direct / "mnist")
    assert load("mnist", download=False).source == str(direct / "mnist")


def test_search_order_in_checkout(isolated, monkeypatch):
    repository = isolated / "repo"
    (repository / "data").mkdir(parents=True)
    (repository / "pyproject.toml").write_text("")
    (repository / "data" / "README.md").write_text("")
    monkeypatch.setattr(locate, "REPOSITORY_ROOT", repository)
    monkeypatch.setenv("DPKIT_DATA", str(isolated / "env"))

    assert search_folders("mnist") == [
        isolated / "env" / "mnist",
        isolated / "env",
        repository / "data" / "mnist",
        isolated / "system" / "mnist",
    ]
    assert locate.download_folder("mnist") == repository / "data" / "mnist"


def test_search_order_installed(isolated):
    assert search_folders("mnist") == [isolated / "system" / "mnist", isolated / "cache" / "mnist"]
    assert locate.download_folder("mnist") == isolated / "cache" / "mnist"


def test_checksum_mismatch_rejected(isolated, monkeypatch):
    folder = isolated / "given" / "mnist"
    make_tiny_dataset(folder)
    source = tiny_source(folder)
    monkeypatch.setitem(IDX_SOURCES, "mnist", source)

    # Replace the test labels with other valid labels: a readable file, but not the registered one.
    damaged = folder / IDX_FILES["test_labels"]
    write_idx(damaged, np.zeros(NUM_TEST, dtype=np.uint8))
    expected = source.sha256[damaged.name][0]
    actual = sha256_of(damaged)

    with pytest.raises(ChecksumError) as raised:
        load("mnist", data_dir=isolated / "given", download=False)
    message = str(raised.value)
    assert str(damaged) in message
    assert expected in message
    assert actual in message
    assert "Delete it" in message
    assert "DPKIT_DATA" in message


def test_download_false_lists_folders(isolated, monkeypatch):
    monkeypatch.setenv("DPKIT_DATA", str(isolated / "env"))
    with pytest.raises(DatasetNotFoundError) as raised:
        load("fashion-mnist", download=False)
    message = str(raised.value)
    for folder in search_folders("fashion-mnist"):
        assert f"  {folder}\n" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert "t10k-labels-idx1-ubyte.gz" in message
    assert IDX_SOURCES["fashion-mnist"].mirrors[0] in message
    assert "apt install dataset-fashion-mnist" in message
    assert isinstance(raised.value, FileNotFoundError)


# ---------------------------------------------------------------- downloads


def test_download_from_local_server(isolated, monkeypatch):
    served = isolated / "served"
    arrays = make_tiny_dataset(served)
    target = isolated / "downloads"
    with serve_folder(served) as url:
        monkeypatch.setitem(IDX_SOURCES, "mnist", tiny_source(served, mirrors=(closed_port_url(), url)))
        dataset = load("mnist", data_dir=target)

    for filename in IDX_FILES.values():
        assert sha256_of(target / "mnist" / filename) == sha256_of(served / filename)
    assert dataset.source == str(target / "mnist")
    np.testing.assert_array_equal(dataset.y_train, arrays["train_labels"])

    # A second load finds the downloaded files; no server is needed.
    assert load("mnist", data_dir=target, download=False).source == str(target / "mnist")


def test_download_corrupt_file_not_kept(isolated, monkeypatch):
    served = isolated / "served"
    make_tiny_dataset(served)
    source = tiny_source(served)
    corrupted = served / IDX_FILES["train_images"]
    corrupted.write_bytes(corrupted.read_bytes()[:-10])
    target = isolated / "downloads"

    with serve_folder(served) as url:
        # The registry contains the digests of the good files; the server now sends a damaged one.
        good_digests = IdxSource(
            name="mnist", mirrors=(url,), sha256=source.sha256, homepage=url, licence="test data"
        )
        monkeypatch.setitem(IDX_SOURCES, "mnist", good_digests)
        with pytest.raises(ChecksumError, match=r"Every download of train-images-idx3-ubyte\.gz"):
            load("mnist", data_dir=target)

    download_dir = target / "mnist"
    remaining_files = sorted(path.name for path in download_dir.iterdir()) if download_dir.exists() else []
    assert remaining_files == []


def test_download_server_down(isolated, monkeypatch):
    monkeypatch.setitem(
        IDX_SOURCES,
        "mnist",
        IdxSource(
            name="mnist",
            mirrors=(closed_port_url(),),
            sha256={filename: ("0" * 64,) for filename in IDX_FILES.values()},
            homepage="http://127.0.0.1/",
            licence="test data",
        ),
    )
    target = isolated / "downloads"
    with pytest.raises(DatasetNotFoundError) as raised:
        load("mnist", data_dir=target)
    message = str(raised.value)
    assert "the download failed" in message
    assert f"  {target / 'mnist'}\n" in message
    assert f"  {target}\n" in message
    assert f"put them, still gzip-compressed, in {target / 'mnist'}" in message


# ---------------------------------------------------------------- real data


def test_fashion_mnist_real(fashion_mnist):
    assert fashion_mnist.x_train.shape == (60000, 784)
    assert fashion_mnist.x_test.shape == (10000, 784)
    assert fashion_mnist.image_shape == (28, 28)
    assert fashion_mnist.x_train.min() == 0.0
    assert fashion_mnist.x_train.max() == 1.0
    assert set(np.unique(fashion_mnist.y_train)) == set(range(10))
    assert set(np.unique(fashion_mnist.y_test)) == set(range(10))
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    assert np.bincount(fashion_mnist.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion_mnist.y_test).tolist() == [1000] * 10


# ---------------------------------------------------------------- Dataset validation


def small_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x_train = np.full((4, 9), 0.5)
    x_test = np.full((2, 9), 0.25)
    return x_train, np.array([0, 1, 2, 1]), x_test, np.array([2, 0])


def test_from_arrays_valid():
    dataset = Dataset.from_arrays(*small_arrays())
    assert dataset.num_classes == 3
    assert dataset.image_shape == (3, 3)
    assert dataset.y_train.dtype == np.int64
    assert dataset.name == "custom"


@pytest.mark.parametrize("parameter", ["x_train", "x_test"])
def test_from_arrays_nan(parameter):
    x_train, y_train, x_test, y_test = small_arrays()
    features = {"x_train": x_train, "x_test": x_test}[parameter]
    features[1, 2] = np.nan
    with pytest.raises(ValueError, match=rf"^{parameter} must contain finite numbers in \[0, 1\]; got nan at row 1, column 2$"):
        Dataset.from_arrays(x_train, y_train, x_test, y_test)


def test_from_arrays_pixel_above_one():
    x_train, y_train, x_test, y_test = small_arrays()
    x_test[0, 0] = 255.0
    with pytest.raises(ValueError, match=r"^x_test must contain finite numbers in \[0, 1\]; got 255\.0 at row 0"):
        Dataset.from_arrays(x_train, y_train, x_test, y_test)


def test_from_arrays_label_out_of_range():
    x_train, y_train, x_test, y_test = small_arrays()
    y_test = np.array([2, 7])
    with pytest.raises(ValueError, match=r"^y_test must contain labels in \[0, 3\) for num_classes=3; got 7 at index 1$"):
        Dataset.from_arrays(x_train, y_train, x_test, y_test, num_classes=3)


def test_from_arrays_negative_label():
    x_train, y_train, x_test, y_test = small_arrays()
    y_train = np.array([0, -1, 2, 1])
    with pytest.raises(ValueError, match=r"^y_train must contain labels in \[0, 3\) .*; got -1 at index 1$"):
        Dataset.from_arrays(x_train, y_train, x_test, y_test)


def test_from_arrays_fractional_label():
    x_train, y_train, x_test, y_test = small_arrays()
    with pytest.raises(ValueError, match=r"^y_train must contain integer labels; got 0\.5 at index 2$"):
        Dataset.from_arrays(x_train, np.array([0.0, 1.0, 0.5, 1.0]), x_test, y_test)


def test_from_arrays_length_mismatch():
    x_train, y_train, x_test, y_test = small_arrays()
    with pytest.raises(ValueError, match=r"^y_train must have one label per row of x_train \(4\); got 3 labels$"):
        Dataset.from_arrays(x_train, y_train[:3], x_test, y_test)


def test_from_arrays_feature_count_mismatch():
    x_train, y_train, x_test, y_test = small_arrays()
    with pytest.raises(ValueError, match=r"^x_test must have the same number of features as x_train \(9\); got 8$"):
        Dataset.from_arrays(x_train, y_train, x_test[:, :8], y_test)


def test_from_arrays_empty_and_1d():
    x_train, y_train, x_test, y_test = small_arrays()
    with pytest.raises(ValueError, match=r"^x_train must contain at least 1 example and 1 feature; got shape \(0, 9\)$"):
        Dataset.from_arrays(x_train[:0], y_train[:0], x_test, y_test)
    with pytest.raises(ValueError, match=r"^x_train must be a 2-D array .*; got shape \(9,\)$"):
        Dataset.from_arrays(x_train[0], y_train, x_test, y_test)


def test_constructor_validates_too():
    x_train, y_train, x_test, y_test = small_arrays()
    with pytest.raises(ValueError, match=r"^image_shape must multiply to the number of features \(9\); got \(2, 4\)$"):
        Dataset("direct", x_train, y_train, x_test, y_test, 3, (2, 4), "arrays")
    with pytest.raises(ValueError, match=r"^num_classes must be an integer in \[1, inf\]; got 0$"):
        Dataset("direct", x_train, y_train, x_test, y_test, 0, (3, 3), "arrays")
