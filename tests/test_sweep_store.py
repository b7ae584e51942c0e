"""The sweep store: keys, one row per run, concurrent writers, and refusal of foreign files."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3

import pytest

from dpkit.sweep import StoreError, SweepStore, config_key
from dpkit.sweep.grid import normalise_config
from dpkit.training import TrainConfig


def _result(accuracy: float = 0.5) -> dict:
    history = [{"epoch": 1, "steps": 3, "loss": 1.0, "test_accuracy": accuracy, "epsilon": 2.0}]
    return {"test_accuracy": accuracy, "epsilon": 2.0, "delta": 1e-5, "steps": 3, "history": history, "pca": "none"}


def _config(**changes) -> dict:
    return normalise_config(TrainConfig(**changes))


def test_key_is_sha256_of_canonical_json():
    config = _config(noise_multiplier=2.0)
    text = json.dumps({"config": config, "dpkit_version": "9.9"}, sort_keys=True, separators=(",", ":"))
    assert config_key(config, version="9.9") == hashlib.sha256(text.encode()).hexdigest()


def test_key_ignores_int_float_spelling():
    assert config_key(_config(clip_norm=1, lot_size=64.0), version="1") == config_key(
        _config(clip_norm=1.0, lot_size=64), version="1"
    )


def test_key_changes_with_any_setting_and_version():
    base = config_key(_config(), version="1")
    assert config_key(_config(seed=1), version="1") != base
    assert config_key(_config(hidden=(64,)), version="1") != base
    assert config_key(_config(delta=1e-6), version="1") != base
    assert config_key(_config(), version="2") != base


def test_add_then_read_back(tmp_path):
    config = _config()
    key = config_key(config, version="1")
    with SweepStore(tmp_path / "s.sqlite") as store:
        assert store.add(key, config, _result(0.75), version="1", seconds=1.5)
    with SweepStore(tmp_path / "s.sqlite") as store:
        (record,) = store.records()
    assert record["key"] == key
    assert record["test_accuracy"] == 0.75
    assert record["noise_multiplier"] == config["noise_multiplier"]
    assert record["history"] == _result(0.75)["history"]


def test_same_key_is_stored_once(tmp_path):
    config = _config()
    key = config_key(config, version="1")
    with SweepStore(tmp_path / "s.sqlite") as store:
        assert store.add(key, config, _result(0.75), version="1", seconds=1.0)
        assert not store.add(key, config, _result(0.10), version="1", seconds=1.0)
        assert len(store) == 1
        assert store.get([key])[key]["test_accuracy"] == 0.75


def _write_many(path: str, seeds: range) -> None:
    with SweepStore(path) as store:
        for seed in seeds:
            config = _config(seed=seed)
            store.add(config_key(config, version="1"), config, _result(), version="1", seconds=0.0)


def test_two_processes_write_one_store(tmp_path):
    """Two writers with overlapping keys: every key once, and SQLite's integrity check passes."""
    path = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(path, range(start, start + 60))) for start in (0, 30)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]

    with SweepStore(path) as store:
        assert len(store) == 90
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()


def test_text_file_is_rejected_and_untouched(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes, not a database\n")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not an SQLite database"):
        SweepStore(path)
    assert path.read_bytes() == before


def test_foreign_sqlite_is_rejected_and_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (name TEXT)")
    connection.execute("INSERT INTO customers VALUES ('Ada')")
    connection.commit()
    connection.close()
    before = path.read_bytes()

    with pytest.raises(ValueError, match="not a dpkit sweep store"):
        SweepStore(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "other.sqlite-wal").exists()


def test_corrupt_sqlite_is_rejected_and_untouched(tmp_path):
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a usable dpkit sweep store"):
        SweepStore(path)
    assert path.read_bytes() == before


def test_folder_is_rejected(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        SweepStore(tmp_path)
