"""The ``epsilon`` and ``calibrate`` subcommands, driven through an ArgumentParser."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from dpkit.accounting import ACCOUNTANTS, epsilon, noise_multiplier_for, steps_for
from dpkit.accounting.cli import add_commands


def _run(argv: list[str], capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="dpkit")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.func(args)
    return status, capsys.readouterr().out


PAPER = ["--noise-multiplier", "4", "--sampling-rate", "0.01", "--steps", "10000", "--delta", "1e-5"]


def test_epsilon_json_matches_library(capsys):
    status, out = _run(["epsilon", *PAPER, "--accountant", "moments", "--json"], capsys)
    record = json.loads(out)
    assert status == 0
    expected = epsilon(noise_multiplier=4, sampling_rate=0.01, steps=10000, delta=1e-5, accountant="moments")
    assert record["epsilon"]["moments"] == expected
    assert record["steps"] == 10000


def test_epsilon_all_prints_one_row_per_accountant(capsys):
    status, out = _run(["epsilon", *PAPER, "--accountant", "all"], capsys)
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0] in ACCOUNTANTS]
    assert status == 0
    assert [row[0] for row in rows] == list(ACCOUNTANTS)
    for name, value in rows:
        expected = epsilon(noise_multiplier=4, sampling_rate=0.01, steps=10000, delta=1e-5, accountant=name)
        assert float(value) == pytest.approx(expected, rel=1e-5)


def test_epochs_become_ceil_of_epochs_over_rate(capsys):
    _, out = _run(["epsilon", "--noise-multiplier", "1", "--sampling-rate", "0.03", "--epochs", "10",
                   "--delta", "1e-5", "--json"], capsys)
    assert json.loads(out)["steps"] == math.ceil(10 / 0.03)


def test_calibrate_noise_multiplier_json(capsys):
    _, out = _run(["calibrate", "--target-epsilon", "2", "--sampling-rate", "0.01", "--steps", "3000",
                   "--delta", "1e-5", "--json"], capsys)
    record = json.loads(out)
    assert record["noise_multiplier"] == noise_multiplier_for(target_epsilon=2, sampling_rate=0.01, steps=3000, delta=1e-5)
    assert record["epsilon"] <= 2


def test_calibrate_max_steps_json(capsys):
    _, out = _run(["calibrate", "--target-epsilon", "2", "--sampling-rate", "0.01", "--noise-multiplier", "1.1",
                   "--delta", "1e-5", "--json"], capsys)
    record = json.loads(out)
    assert record["steps"] == steps_for(target_epsilon=2, noise_multiplier=1.1, sampling_rate=0.01, delta=1e-5)
    assert record["epochs"] == pytest.approx(record["steps"] * 0.01)


def test_invalid_value_raises_value_error(capsys):
    with pytest.raises(ValueError, match="noise_multiplier"):
        _run(["epsilon", "--noise-multiplier", "-1", "--sampling-rate", "0.01", "--steps", "10", "--delta", "1e-5"],
             capsys)


def test_negative_epochs_rejected(capsys):
    with pytest.raises(ValueError, match="epochs"):
        _run(["epsilon", "--noise-multiplier", "1", "--sampling-rate", "0.01", "--epochs", "-3", "--delta", "1e-5"],
             capsys)
