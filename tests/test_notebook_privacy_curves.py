"""notebooks/02_privacy_curves.ipynb runs headless and reproduces the comparison of Abadi et al. (2016): moments accountant against strong composition."""

from __future__ import annotations

import re

import pytest

from dpkit.accounting import epsilon

notebook_runner = pytest.importorskip("notebook_runner", reason="tests/notebook_runner.py is missing")


def test_privacy_curves_notebook_reproduces_paper():
    notebook = notebook_runner.execute_notebook("02_privacy_curves.ipynb", timeout=180)
    text = notebook_runner.text_output(notebook)
    printed = dict(re.findall(r"^(\w+)\s+epsilon = ([0-9.]+)$", text, flags=re.MULTILINE))
    assert float(printed["moments"]) == pytest.approx(1.26, abs=0.005)
    assert float(printed["strong_composition"]) == pytest.approx(9.34, abs=0.02)
    paper = dict(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000, delta=1e-5)
    assert float(printed["rdp"]) == pytest.approx(epsilon(**paper, accountant="rdp"), abs=1e-4)
    assert float(printed["pld"]) == pytest.approx(epsilon(**paper, accountant="pld"), abs=1e-4)
    assert notebook_runner.image_count(notebook) >= 1
    assert "differential privacy for datasets differing by adding or removing one example" in text
