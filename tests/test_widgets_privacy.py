"""The privacy-curves panel, driven through its widgets from code."""

from __future__ import annotations

import numpy as np
import pytest

from dpkit.accounting import epsilon, noise_multiplier_for
from dpkit.accounting.pld import epsilon_pld
from dpkit.widgets_privacy import PrivacyCurvesPanel


@pytest.fixture
def panel():
    return PrivacyCurvesPanel(noise_multiplier=4.0, sampling_rate=0.01, delta=1e-5, epochs=100, pld_points=3)


@pytest.mark.filterwarnings("ignore:the best moment order")
def test_sliders_redraw_curves_that_match_epsilon(panel):
    before = panel.lines["rdp"].get_ydata().copy()
    panel.noise_multiplier.value = 2.0
    panel.epochs.value = 50
    x, y = panel.lines["rdp"].get_xdata(), panel.lines["rdp"].get_ydata()
    assert not np.array_equal(before, y)
    assert x[-1] == pytest.approx(50)

    steps = np.ceil(x / 0.01 - 1e-9)
    for name in ("rdp", "moments", "strong_composition", "naive_composition"):
        expected = epsilon(noise_multiplier=2.0, sampling_rate=0.01, steps=steps, delta=1e-5, accountant=name)
        np.testing.assert_allclose(panel.lines[name].get_ydata(), expected, rtol=1e-12)


def test_pld_curve_matches_its_grid(panel):
    panel.sampling_rate.value = 0.02
    x, y = panel.lines["pld"].get_xdata(), panel.lines["pld"].get_ydata()
    last = epsilon_pld(np.array([4.0]), np.array([0.02]), np.array([np.ceil(x[-1] / 0.02 - 1e-9)]), delta=1e-5,
                       value_interval=panel.pld_value_interval)
    assert y[-1] == pytest.approx(last, rel=1e-12)
    # The coarser grid is still an upper bound on the finer one.
    fine = epsilon(noise_multiplier=4.0, sampling_rate=0.02, steps=int(np.ceil(x[-1] / 0.02 - 1e-9)), delta=1e-5,
                   accountant="pld")
    assert y[-1] >= fine


def test_target_epsilon_updates_noise_multiplier(panel):
    panel.target_epsilon.value = 3.0
    expected = noise_multiplier_for(target_epsilon=3.0, sampling_rate=0.01, steps=10_000, delta=1e-5)
    assert panel.calibrated_noise_multiplier == pytest.approx(expected, rel=1e-12)
    assert "3" in panel.inverse_result.value


def test_unreachable_target_is_reported(panel):
    panel.target_accountant.value = "moments"
    panel.target_epsilon.value = 0.1
    assert panel.calibrated_noise_multiplier is None
    assert panel.inverse_result.value.startswith("Unreachable")
