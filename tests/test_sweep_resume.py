"""A `dpkit sweep` killed with SIGTERM midway resumes without losing or repeating a run."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from dpkit.sweep import SweepStore, run

NOISE_MULTIPLIERS = (0.8, 1.0, 1.5, 2.0, 3.0, 4.0)
CLIP_NORMS = (0.5, 2.0)
TOTAL = len(NOISE_MULTIPLIERS) * len(CLIP_NORMS)
SETTINGS = {"lot_size": 32, "epochs": 6, "hidden": (128,), "learning_rate": 0.2}


def _sweep_command(store) -> list[str]:
    return [
        sys.executable, "-m", "dpkit", "sweep", "--dataset", "digits",
        "--noise-multiplier", ",".join(map(str, NOISE_MULTIPLIERS)), "--clip-norm", ",".join(map(str, CLIP_NORMS)),
        "--lot-size", str(SETTINGS["lot_size"]), "--epochs", str(SETTINGS["epochs"]),
        "--hidden", ",".join(map(str, SETTINGS["hidden"])), "--learning-rate", str(SETTINGS["learning_rate"]),
        "--store", str(store), "--workers", "2",
    ]


def _stored_runs(store) -> dict[str, float]:
    """Return key -> finished_at of the stored runs, read-only, or {} while the store is still missing."""
    try:
        connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return {}
    try:
        return dict(connection.execute("SELECT key, finished_at FROM runs"))
    except sqlite3.OperationalError:  # the schema is not written yet
        return {}
    finally:
        connection.close()


def test_sigterm_then_resume_loses_and_repeats_nothing(tmp_path):
    store = tmp_path / "sweep.sqlite"
    process = subprocess.Popen(_sweep_command(store), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # Stop the sweep once two runs are stored, well before all twelve are.
    deadline = time.monotonic() + 120
    while len(_stored_runs(store)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr

    before = _stored_runs(store)
    assert 2 <= len(before) < TOTAL, "the sweep was not stopped midway"
    reported = re.search(r"(\d+) of (\d+) runs are finished and saved", stderr)
    assert reported is not None, stderr
    assert int(reported.group(1)) == len(before)
    assert int(reported.group(2)) == TOTAL

    # The resumed sweep reads every stored run and trains only the others.
    resumed = subprocess.run(_sweep_command(store), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = re.search(r"(\d+) runs: (\d+) read from the store .*, (\d+) trained", resumed.stdout)
    assert summary is not None, resumed.stdout
    assert [int(group) for group in summary.groups()] == [TOTAL, len(before), TOTAL - len(before)]

    after = _stored_runs(store)
    assert len(after) == TOTAL
    assert {key: after[key] for key in before} == before  # finished runs were not rewritten

    # Deterministic training: the stitched-together sweep equals one uninterrupted sweep.
    reference = run(
        {"noise_multiplier": NOISE_MULTIPLIERS, "clip_norm": CLIP_NORMS}, dataset="digits", progress=False,
        as_frame=False, **SETTINGS,
    )
    with SweepStore(store) as opened:
        stored = opened.get(after)
    for row in reference:
        (key,) = row["keys"]
        assert stored[key]["test_accuracy"] == row["test_accuracy"]
        assert stored[key]["epsilon"] == row["epsilon"]


def test_foreign_store_is_one_line_error_and_untouched(tmp_path):
    store = tmp_path / "results.sqlite"
    store.write_text("a spreadsheet export, not a store\n")
    completed = subprocess.run(_sweep_command(store), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dpkit: error: ")
    assert "not a dpkit sweep store" in lines[0]
    assert store.read_text() == "a spreadsheet export, not a store\n"


@pytest.mark.parametrize(("flag", "value", "parameter"), [("--noise-multiplier", "1,0", "noise_multiplier"), ("--lot-size", "64,99999", "lot_size")])
def test_invalid_value_is_one_line_error(tmp_path, flag, value, parameter):
    command = _sweep_command(tmp_path / "s.sqlite")
    command[command.index(flag) + 1] = value
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert parameter in lines[0]
    assert not _stored_runs(tmp_path / "s.sqlite")
