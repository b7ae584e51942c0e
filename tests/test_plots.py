"""Plots: the Pareto frontier against its definition, the signal-to-noise formula against simulation,
and the drawn data against the records."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpkit.dpsgd import add_gaussian_noise, average_over_expected_lot
from dpkit.plots import (
    accuracy_vs_epsilon,
    epsilon_vs_epochs,
    gradient_norm_histogram,
    pareto_frontier,
    plotted_points,
    run_history,
    signal_to_noise_ratio,
    signal_to_noise_vs_lot_size,
)
from dpkit.sampling import poisson_lots

records_strategy = st.lists(
    st.fixed_dictionaries({
        "epsilon": st.floats(0.1, 10, allow_nan=False),
        "test_accuracy": st.floats(0, 1, allow_nan=False),
        "noise_multiplier": st.sampled_from([0.8, 1.5, 4.0]),
    }),
    min_size=1,
    max_size=20,
)


def _dominated(record, records) -> bool:
    return any(
        other["epsilon"] <= record["epsilon"] and other["test_accuracy"] >= record["test_accuracy"]
        and (other["epsilon"] < record["epsilon"] or other["test_accuracy"] > record["test_accuracy"])
        for other in records
    )


@settings(max_examples=60, deadline=None)
@given(records_strategy)
def test_frontier_matches_definition(records):
    frontier = pareto_frontier(records)
    undominated = {(r["epsilon"], r["test_accuracy"]) for r in records if not _dominated(r, records)}
    assert {(r["epsilon"], r["test_accuracy"]) for r in frontier} == undominated
    assert [r["epsilon"] for r in frontier] == sorted(r["epsilon"] for r in frontier)


def test_signal_to_noise_matches_simulation():
    """Simulated lots: the averaged clipped sum has mean ḡ, and the added noise has RMS norm σC√d/L."""
    rng = np.random.default_rng(0)
    num_examples, dimension, clip_norm, noise_multiplier, lot_size = 400, 50, 1.0, 2.0, 40
    gradients = rng.normal(size=(num_examples, dimension)) * rng.uniform(0.2, 3.0, size=(num_examples, 1))
    gradients += 0.3
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    clipped = gradients * np.minimum(1.0, clip_norm / norms)
    mean_clipped = clipped.mean(axis=0)

    signals, noise_norms_squared = [], []
    for lot in poisson_lots(num_examples, lot_size / num_examples, 4000, rng=rng):
        signals.append(clipped[lot].sum(axis=0) / lot_size)
        (noise,) = average_over_expected_lot(
            add_gaussian_noise([np.zeros(dimension)], noise_multiplier=noise_multiplier, clip_norm=clip_norm, rng=rng),
            lot_size=lot_size,
        )
        noise_norms_squared.append(noise @ noise)

    simulated_signal = np.linalg.norm(np.mean(signals, axis=0))
    simulated_noise = np.sqrt(np.mean(noise_norms_squared))
    expected = signal_to_noise_ratio(
        mean_clipped_gradient_norm=np.linalg.norm(mean_clipped), num_parameters=dimension,
        noise_multiplier=noise_multiplier, clip_norm=clip_norm, lot_size=lot_size,
    )
    assert simulated_signal == pytest.approx(np.linalg.norm(mean_clipped), rel=0.02)
    assert simulated_signal / simulated_noise == pytest.approx(expected, rel=0.03)


def test_signal_to_noise_is_linear_in_lot_size():
    ratios = signal_to_noise_ratio(
        mean_clipped_gradient_norm=0.5, num_parameters=100, noise_multiplier=1.0, clip_norm=1.0, lot_size=np.array([10, 20, 40])
    )
    assert ratios == pytest.approx([0.5, 1.0, 2.0])


def test_accuracy_plot_draws_every_record_and_the_frontier():
    records = [
        {"epsilon": 1.0, "test_accuracy": 0.7, "noise_multiplier": 4.0, "lot_size": 32, "delta": 1e-5},
        {"epsilon": 2.0, "test_accuracy": 0.6, "noise_multiplier": 2.0, "lot_size": 128, "delta": 1e-5},
        {"epsilon": 3.0, "test_accuracy": 0.9, "noise_multiplier": 1.0, "lot_size": 32, "delta": 1e-5, "test_accuracy_std": 0.02},
    ]
    figure = accuracy_vs_epsilon(records, title="t")
    drawn = sorted(map(tuple, plotted_points(figure)))
    assert drawn == sorted((r["epsilon"], r["test_accuracy"]) for r in records)

    ax = figure.axes[0]
    (frontier,) = [line for line in ax.lines if line.get_gid() == "pareto_frontier"]
    assert list(frontier.get_xdata()) == [1.0, 3.0]
    assert list(frontier.get_ydata()) == [0.7, 0.9]
    assert ax.get_xlabel() == "epsilon ε (δ = 1e-05)"
    assert ax.get_ylabel() == "test accuracy"


def test_accuracy_plot_keeps_the_one_argument_form():
    figure = accuracy_vs_epsilon([{"epsilon": 1.0, "test_accuracy": 0.5, "noise_multiplier": 1.0}])
    assert plotted_points(figure).tolist() == [[1.0, 0.5]]


def _record(noise_multiplier, lot_size, epsilons):
    history = [{"epoch": i + 1, "test_accuracy": 0.1 * (i + 1), "epsilon": e} for i, e in enumerate(epsilons)]
    return {"noise_multiplier": noise_multiplier, "clip_norm": 1.0, "lot_size": lot_size, "history": history}


def test_epsilon_vs_epochs_draws_each_history_once():
    records = [_record(1.0, 64, [0.5, 0.8]), _record(1.0, 64, [0.5, 0.8]), _record(2.0, 64, [0.2, 0.3])]
    ax = epsilon_vs_epochs(records).axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[0.5, 0.8], [0.2, 0.3]]
    assert ax.get_xlabel() == "epochs E"


def test_run_history_draws_accuracy_and_epsilon():
    figure = run_history(_record(1.0, 64, [0.5, 0.8, 1.0]))
    accuracy_ax, epsilon_ax = figure.axes
    assert list(accuracy_ax.lines[0].get_ydata()) == pytest.approx([0.1, 0.2, 0.3])
    assert list(epsilon_ax.lines[0].get_ydata()) == [0.5, 0.8, 1.0]


def test_histogram_counts_before_and_after_clipping():
    norms = np.array([0.1, 0.5, 2.0, 3.0, 5.0])
    ax = gradient_norm_histogram(norms, clip_norm=1.0, bins=10).axes[0]
    before, after = ax.containers
    assert sum(patch.get_height() for patch in before) == len(norms)
    assert sum(patch.get_height() for patch in after) == len(norms)
    # After clipping, no mass lies to the right of C.
    assert all(patch.get_height() == 0 for patch in after if patch.get_x() >= 1.0)


def test_snr_plot_lines_per_clip_norm():
    ax = signal_to_noise_vs_lot_size({0.1: 0.01, 1.0: 0.05}, num_parameters=100, noise_multiplier=1.0, lot_sizes=[16, 64]).axes[0]
    lines = [line for line in ax.lines if line.get_label().startswith("clip_norm")]
    assert len(lines) == 2
    assert list(lines[1].get_ydata()) == pytest.approx([16 * 0.05 / 10, 64 * 0.05 / 10])


def test_marker_area_shows_clip_norm():
    records = [
        {"epsilon": 1.0, "test_accuracy": 0.8, "noise_multiplier": 1.0, "clip_norm": 0.5, "lot_size": 64},
        {"epsilon": 2.0, "test_accuracy": 0.9, "noise_multiplier": 1.0, "clip_norm": 4.0, "lot_size": 64},
    ]
    figure = accuracy_vs_epsilon(records)
    ax = figure.axes[0]
    (runs,) = [c for c in ax.collections if c.get_gid() == "runs"]
    small, large = runs.get_sizes()
    assert small < large
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "clip_norm C = 0.5" in labels
    assert "clip_norm C = 4" in labels
