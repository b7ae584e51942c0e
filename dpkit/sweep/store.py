"""The sweep result store: one SQLite row per finished (configuration, seed).

Each row is keyed by :func:`config_key`, the SHA-256 of the canonical JSON of the
full training configuration (every :class:`dpkit.TrainConfig` field, the seed
included) and the dpkit version, so a row is reused only for exactly the run that
produced it. Rows are written one per transaction the moment a run finishes, in
WAL mode with a busy timeout, so several processes may write one store at once and
a killed sweep loses at most the runs that had not finished.

A file that is not SQLite, or is SQLite without dpkit's marker table, is rejected
with a ``ValueError`` before anything is written to it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

#: Value of the ``format`` entry in the marker table; a store without it is foreign.
STORE_FORMAT = "dpkit-sweep-store"
SCHEMA_VERSION = "1"
MEMORY = ":memory:"

_SQLITE_HEADER = b"SQLite format 3\x00"
# Seconds a writer waits for another process's transaction before failing.
_BUSY_TIMEOUT_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dpkit_store (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    dpkit_version TEXT NOT NULL,
    config TEXT NOT NULL,
    dataset TEXT NOT NULL,
    noise_multiplier REAL NOT NULL,
    clip_norm REAL NOT NULL,
    lot_size INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    learning_rate REAL NOT NULL,
    seed INTEGER NOT NULL,
    test_accuracy REAL NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    steps INTEGER NOT NULL,
    seconds REAL NOT NULL,
    finished_at REAL NOT NULL,
    result TEXT NOT NULL
);
"""

_SUMMARY_COLUMNS = (
    "key", "dataset", "noise_multiplier", "clip_norm", "lot_size", "epochs", "learning_rate", "seed",
    "test_accuracy", "epsilon", "delta", "steps", "seconds",
)


def canonical_json(value: Any) -> str:
    """Serialise ``value`` with sorted keys and no spaces, so equal configurations give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_key(config: Mapping[str, Any], *, version: str) -> str:
    """Return the hex SHA-256 of the canonical JSON of ``config`` and the dpkit ``version``.

    ``config`` must already be normalised (see :func:`dpkit.sweep.grid.normalise_config`),
    so that ``1`` and ``1.0`` for a float setting give the same key.
    """
    text = canonical_json({"config": dict(config), "dpkit_version": version})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StoreError(ValueError):
    """The store file is corrupt, foreign or from an incompatible schema."""


class SweepStore:
    """A sweep result store in one SQLite file (or in memory for ``":memory:"``).

    Parameters
    ----------
    path : str or Path
        The store file. It is created with dpkit's schema when missing or empty. An
        existing file must already be a dpkit store; anything else raises
        :class:`StoreError` (a ``ValueError``) and the file is left untouched.

    Notes
    -----
    Open one ``SweepStore`` per process; the connection is not shared across
    threads. Only the process that owns it writes: sweep workers return results to
    the parent, which calls :meth:`add`.
    """

    def __init__(self, path: str | Path = MEMORY) -> None:
        self.path = path if path == MEMORY else Path(path)
        if self.path != MEMORY:
            _check_existing_file(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = self._open_with_retries()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a usable dpkit sweep store: {error}. Choose another store path.") from None

    def _open_with_retries(self) -> sqlite3.Connection:
        # Switching a new file to WAL can fail at once with "database is locked" while another
        # process opens the same store, because SQLite does not call the busy handler for it.
        deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
        delay = 0.01
        while True:
            try:
                return self._open()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are opened explicitly below.
        connection = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            _check_marker(connection, self.path)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_SECONDS * 1000)}")

            # BEGIN IMMEDIATE takes the write lock, so two processes creating one
            # new store cannot interleave their schema statements.
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(
                "INSERT OR IGNORE INTO dpkit_store (name, value) VALUES ('format', ?), ('schema_version', ?)",
                (STORE_FORMAT, SCHEMA_VERSION),
            )
            connection.execute("COMMIT")
            _check_schema_version(connection, self.path)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        """Close the connection; the file stays as it is."""
        self._connection.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        (count,) = self._connection.execute("SELECT COUNT(*) FROM runs").fetchone()
        return int(count)

    def __repr__(self) -> str:
        return f"SweepStore({str(self.path)!r}, runs={len(self)})"

    def add(self, key: str, config: Mapping[str, Any], result: Mapping[str, Any], *, version: str, seconds: float) -> bool:
        """Write one finished run in its own transaction; return False if ``key`` was already stored.

        ``result`` is :meth:`dpkit.TrainResult.to_dict` output. A run another
        process stored first is kept as it is, so no key is ever stored twice.
        """
        row = (
            key, version, canonical_json(dict(config)), config["dataset"], float(config["noise_multiplier"]),
            float(config["clip_norm"]), int(config["lot_size"]), int(config["epochs"]), float(config["learning_rate"]),
            int(config["seed"]), float(result["test_accuracy"]), float(result["epsilon"]), float(result["delta"]),
            int(result["steps"]), float(seconds), time.time(), canonical_json(dict(result)),
        )
        with closing(self._connection.cursor()) as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute(f"INSERT OR IGNORE INTO runs VALUES ({', '.join('?' * len(row))})", row)
                inserted = cursor.rowcount == 1
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return inserted

    def keys(self) -> set[str]:
        """Return the key of every stored run."""
        return {key for (key,) in self._connection.execute("SELECT key FROM runs")}

    def get(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the stored runs among ``keys``, as summary records with a ``history`` list."""
        requested = list(keys)
        found: dict[str, dict[str, Any]] = {}

        # SQLite limits the number of bound parameters, so look keys up in chunks.
        for start in range(0, len(requested), 500):
            chunk = requested[start : start + 500]
            placeholders = ", ".join("?" * len(chunk))
            query = f"SELECT {', '.join(_SUMMARY_COLUMNS)}, result FROM runs WHERE key IN ({placeholders})"
            for row in self._connection.execute(query, chunk):
                found[row[0]] = _row_to_record(row)
        return found

    def records(self) -> list[dict[str, Any]]:
        """Return every stored run, oldest first, as summary records with a ``history`` list."""
        query = f"SELECT {', '.join(_SUMMARY_COLUMNS)}, result FROM runs ORDER BY finished_at, key"
        return [_row_to_record(row) for row in self._connection.execute(query)]


def _row_to_record(row: tuple) -> dict[str, Any]:
    record = dict(zip(_SUMMARY_COLUMNS, row[:-1]))
    result = json.loads(row[-1])
    record["history"] = result["history"]
    record["pca"] = result.get("pca", "none")
    record["poisson_accounting"] = result.get("poisson_accounting", True)
    return record


def _check_existing_file(path: Path) -> None:
    """Raise StoreError unless ``path`` is missing, empty, or starts with the SQLite header."""
    if path.is_dir():
        raise StoreError(f"store path {path} is a folder; give a file name such as {path / 'sweep.sqlite'}")
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a dpkit sweep store (not an SQLite database); it was left untouched. "
            "Choose another store path."
        )


def _check_marker(connection: sqlite3.Connection, path: object) -> None:
    """Raise StoreError if the database has tables but not dpkit's marker table with the right format."""
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return
    if "dpkit_store" not in tables:
        raise StoreError(
            f"{path} is an SQLite database but not a dpkit sweep store (no dpkit_store table); it was left "
            "untouched. Choose another store path."
        )
    row = connection.execute("SELECT value FROM dpkit_store WHERE name = 'format'").fetchone()
    if row is None or row[0] != STORE_FORMAT:
        raise StoreError(f"{path} has a dpkit_store table without format {STORE_FORMAT!r}; it was left untouched.")


def _check_schema_version(connection: sqlite3.Connection, path: object) -> None:
    (version,) = connection.execute("SELECT value FROM dpkit_store WHERE name = 'schema_version'").fetchone()
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{path} is a dpkit sweep store of schema version {version}, but this dpkit reads version "
            f"{SCHEMA_VERSION}. Choose another store path."
        )
