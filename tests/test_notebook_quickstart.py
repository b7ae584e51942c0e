"""notebooks/01_quickstart.ipynb runs headless, and its training panel works when driven from code."""

import re

import pytest

from dpkit.accounting import epsilon
from dpkit.widgets import TrainingPanel
from notebook_runner import execute_notebook, image_count, text_output


def test_quickstart_notebook_runs_and_reports_a_private_run():
    notebook = execute_notebook("01_quickstart.ipynb")
    text = text_output(notebook)
    assert notebook.cells[0].cell_type == "markdown"
    assert "What you will learn" in notebook.cells[0].source

    match = re.search(r"test accuracy ([0-9.]+), epsilon ([0-9.]+) at delta", text)
    assert match, text[:2000]
    assert float(match.group(1)) > 0.8
    assert 0 < float(match.group(2)) < 10
    assert "adding or removing one example" in text

    # The what-if table at L=64 uses the same step count as the 30-epoch run above, so the epsilons agree.
    what_if = re.search(r"L=  64: .*epsilon after 30 epochs ([0-9.]+)", text)
    assert what_if, text[:3000]
    assert what_if.group(1) == match.group(2)
    # Training curves, the clipping histogram and the panel's first point.
    assert image_count(notebook) >= 2


def test_training_panel_adds_a_point_per_run():
    panel = TrainingPanel(dataset="digits", epochs=2, hidden=(16,))
    panel.noise_multiplier.value = 2.0
    panel.clip_norm.value = 0.5
    panel.lot_size.value = 128
    panel.run_button.click()

    assert len(panel.records) == 1
    record = panel.records[0]
    assert record["noise_multiplier"] == pytest.approx(2.0)
    assert record["lot_size"] == 128
    # The plotted epsilon is the accountant's for the run's steps: 2 epochs of ceil(1438 / 128) lots.
    expected = epsilon(noise_multiplier=2.0, sampling_rate=128 / 1438, steps=2 * 12, delta=1e-5)
    assert record["epsilon"] == pytest.approx(expected, rel=1e-9)

    panel.noise_multiplier.value = 0.8
    panel.run_button.click()
    assert len(panel.records) == 2
    assert panel.records[1]["epsilon"] > panel.records[0]["epsilon"]
    plotted = panel.figure.axes[0].collections[0].get_offsets()
    assert plotted.shape == (2, 2)
    assert plotted[1][0] == pytest.approx(panel.records[1]["epsilon"])
