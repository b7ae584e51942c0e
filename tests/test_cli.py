"""The `dpkit` command line: the README's commands, JSON output, and one-line errors with status 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dpkit.accounting import epsilon

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "dpkit", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def test_train_on_digits_reaches_the_target(tmp_path):
    """The documented digits run: accuracy at least 0.90 with epsilon at most 5."""
    output = tmp_path / "run.json"
    completed = run_cli(
        "train", "--dataset", "digits", "--noise-multiplier", "1.5", "--clip-norm", "1", "--lot-size", "64",
        "--epochs", "30", "--delta", "1e-5", "--seed", "0", "--json", str(output),
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("epoch ") >= 30

    result = json.loads(output.read_text())
    assert result["test_accuracy"] >= 0.90
    assert result["epsilon"] <= 5.0
    assert result["delta"] == 1e-5
    assert result["accountant"] == "rdp"
    assert len(result["history"]) == 30
    steps = result["steps"]
    expected = epsilon(noise_multiplier=1.5, sampling_rate=64 / 1438, steps=steps, delta=1e-5)
    assert result["epsilon"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("flags", "parameter"),
    [
        (["--noise-multiplier", "0"], "noise_multiplier"),
        (["--noise-multiplier", "-1"], "noise_multiplier"),
        (["--clip-norm", "0"], "clip_norm"),
        (["--lot-size", "0"], "lot_size"),
        (["--lot-size", "5000"], "lot_size"),
        (["--delta", "1.5"], "delta"),
        (["--dataset", "cifar"], "dataset"),
    ],
)
def test_bad_input_is_one_line_and_status_2(flags, parameter):
    completed = run_cli("train", "--epochs", "1", *flags)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dpkit: error: ")
    assert parameter in lines[0]


def test_demo_writes_table_and_plot(tmp_path):
    """`dpkit demo`, the README's main job, prints its table and saves the PNG."""
    completed = run_cli("demo", "--output", str(tmp_path / "demo"), timeout=120)
    assert completed.returncode == 0, completed.stderr
    table_rows = [line for line in completed.stdout.splitlines() if line.strip() and line.split()[0][0].isdigit()]
    assert len(table_rows) >= 8
    png = tmp_path / "demo" / "accuracy_vs_epsilon.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    commands = [line for line in first_block.splitlines()[1:] if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("dpkit demo")
    assert "-m pytest" in commands[1]
