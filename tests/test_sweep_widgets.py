"""The sweep panel driven from code: typed grids, the Run button, errors shown in the panel."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from dpkit.plots import plotted_points  # noqa: E402
from dpkit.sweep import SweepStore  # noqa: E402
from dpkit.widgets_sweep import SweepPanel, datasets_on_disk, parse_values  # noqa: E402


def _panel(tmp_path) -> SweepPanel:
    panel = SweepPanel(store=tmp_path / "panel.sqlite", hidden=(16,), max_workers=1)
    panel.noise_multiplier.value = "1, 3"
    panel.clip_norm.value = "1"
    panel.lot_size.value = "64"
    panel.epochs.value = 2
    return panel


def test_run_button_plots_what_the_store_holds(tmp_path):
    panel = _panel(tmp_path)
    panel.run_button.click()

    with SweepStore(tmp_path / "panel.sqlite") as store:
        stored = sorted((r["epsilon"], r["test_accuracy"]) for r in store.records())
    assert len(stored) == 2
    assert np.allclose(sorted(map(tuple, plotted_points(panel.figure))), stored)
    assert panel.status.value.startswith("2 runs: 0 read from the store")


def test_delta_and_epochs_reach_the_runs(tmp_path):
    panel = _panel(tmp_path)
    panel.delta.value = 1e-6
    panel.epochs.value = 3
    panel.run_button.click()
    assert all(record["delta"] == pytest.approx(1e-6) for record in panel.records)
    assert all(len(record["history"]) == 3 for record in panel.records)


def test_invalid_text_is_shown_and_trains_nothing(tmp_path):
    panel = _panel(tmp_path)
    panel.lot_size.value = "64, many"
    panel.run_button.click()
    assert panel.status.value == "Invalid setting: lot_size must be comma-separated integers; got '64, many'"
    panel.lot_size.value = "64"
    panel.noise_multiplier.value = "1, -2"
    panel.run_button.click()
    assert panel.status.value == "Invalid setting: noise_multiplier must be in (0, inf); got -2.0"
    assert panel.records == []


def test_parse_values_reads_commas_and_semicolons():
    assert parse_values("clip_norm", "0.5, 1;4") == [0.5, 1.0, 4.0]
    with pytest.raises(ValueError, match="clip_norm must list at least one value"):
        parse_values("clip_norm", " , ")


def test_digits_is_always_offered():
    assert datasets_on_disk()[0] == "digits"
