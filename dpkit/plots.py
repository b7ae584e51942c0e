"""Matplotlib figures of the privacy-utility trade-off.

Every plotting function takes plain records (dicts with the vocabulary's keys) and
returns a ``matplotlib.figure.Figure``. None of them calls ``plt.show``, so they
work headless and in notebooks alike. Artists that tests and widgets look up carry
a ``gid``: ``"runs"`` for the accuracy-against-epsilon markers and
``"pareto_frontier"`` for the frontier line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

_LOT_SIZE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _figure_and_axes(ax, figsize=(6, 4)):
    if ax is None:
        figure = Figure(figsize=figsize, layout="constrained")
        return figure, figure.add_subplot()
    return ax.figure, ax


def _colour_range(records: Sequence[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """Return the noise multiplier range, so every marker group shares one colour scale."""
    values = [r["noise_multiplier"] for r in records]
    return (min(values), max(values)) if values else (None, None)


def pareto_frontier(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Return the records no other record beats, sorted by epsilon.

    A record is on the frontier when no other record has an epsilon at most its
    own and a strictly higher test accuracy, or the same accuracy at a strictly
    lower epsilon. Each frontier record is the most accurate run available for
    that privacy budget.
    """
    ordered = sorted(records, key=lambda record: (record["epsilon"], -record["test_accuracy"]))
    frontier: list[Mapping[str, Any]] = []
    for record in ordered:
        if not frontier or record["test_accuracy"] > frontier[-1]["test_accuracy"]:
            frontier.append(record)
    return frontier


def accuracy_vs_epsilon(
    records: Sequence[dict[str, Any]], *, ax=None, title: str | None = None, frontier: bool = True
) -> Figure:
    """Plot test accuracy against epsilon, one marker per run, coloured by noise multiplier.

    Each record needs the keys ``epsilon``, ``test_accuracy`` and ``noise_multiplier``.
    With a ``lot_size`` key the marker shape shows the lot size, and with several
    ``clip_norm`` values the marker area shows the clipping norm. With
    ``test_accuracy_std`` (a sweep over several seeds) error bars show one standard
    deviation. ``frontier`` draws the Pareto frontier (:func:`pareto_frontier`) as a step line.
    """
    figure, ax = _figure_and_axes(ax)
    records = list(records)
    colour_range = _colour_range(records)

    lot_sizes = sorted({r["lot_size"] for r in records if "lot_size" in r})
    groups = [(None, records)] if len(lot_sizes) < 2 else [
        (lot_size, [r for r in records if r.get("lot_size") == lot_size]) for lot_size in lot_sizes
    ]
    # With several clipping norms, the marker area shows C, smallest C smallest marker.
    clip_norms = sorted({r["clip_norm"] for r in records if "clip_norm" in r})
    sizes = {clip_norm: 24.0 * (1.0 + 1.5 * rank) for rank, clip_norm in enumerate(clip_norms)}
    points = None
    for index, (lot_size, group) in enumerate(groups):
        epsilons = [r["epsilon"] for r in group]
        accuracies = [r["test_accuracy"] for r in group]
        spreads = [r.get("test_accuracy_std", 0.0) for r in group]
        if any(spread > 0 for spread in spreads):
            ax.errorbar(epsilons, accuracies, yerr=spreads, fmt="none", ecolor="0.6", elinewidth=1, zorder=1)
        points = ax.scatter(
            epsilons, accuracies, c=[r["noise_multiplier"] for r in group], cmap="viridis",
            s=[sizes.get(r.get("clip_norm"), 36.0) for r in group] if len(clip_norms) >= 2 else None,
            vmin=colour_range[0], vmax=colour_range[1], marker=_LOT_SIZE_MARKERS[index % len(_LOT_SIZE_MARKERS)],
            edgecolors="black", linewidths=0.5, zorder=3, label=None if lot_size is None else f"lot_size L = {lot_size}",
        )
        points.set_gid("runs")

    if records:
        figure.colorbar(points, ax=ax, label="noise_multiplier σ")
    if frontier and len(records) > 1:
        best = pareto_frontier(records)
        line = ax.step(
            [r["epsilon"] for r in best], [r["test_accuracy"] for r in best], where="post",
            color="crimson", linewidth=1.2, zorder=2, label="Pareto frontier",
        )[0]
        line.set_gid("pareto_frontier")
    if len(clip_norms) >= 2:
        for clip_norm in clip_norms:
            # Empty scatters that only give the legend one entry per clipping norm.
            ax.scatter([], [], s=sizes[clip_norm], marker="o", edgecolors="black", linewidths=0.5, label=f"clip_norm C = {clip_norm:g}")
    if len(lot_sizes) >= 2 or len(clip_norms) >= 2 or (frontier and len(records) > 1):
        legend = ax.legend(loc="best", fontsize="small")
        # A marker in the legend stands for a lot size, not a noise multiplier, so it is drawn grey.
        for handle in legend.legend_handles:
            if isinstance(handle, PathCollection):
                handle.set_array(None)  # otherwise the colormap repaints the face at draw time
                handle.set_facecolor("0.75")

    delta = records[0].get("delta") if records else None
    ax.set_xlabel("epsilon ε" + (f" (δ = {delta:g})" if delta else ""))
    ax.set_ylabel("test accuracy")
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    return figure


def plotted_points(figure: Figure) -> np.ndarray:
    """Return the (epsilon, test accuracy) pairs that :func:`accuracy_vs_epsilon` drew, shape (n, 2)."""
    offsets = [
        np.asarray(collection.get_offsets(), dtype=float)
        for ax in figure.axes
        for collection in ax.collections
        if collection.get_gid() == "runs"
    ]
    return np.concatenate(offsets) if offsets else np.zeros((0, 2))


def epsilon_vs_epochs(records: Sequence[Mapping[str, Any]], *, ax=None, title: str | None = None) -> Figure:
    """Plot epsilon spent after each epoch, one line per run.

    Each record needs a ``history`` list (as in :class:`dpkit.TrainResult`) and the
    keys ``noise_multiplier`` and ``lot_size`` for its label. The clipping norm does
    not change epsilon, so runs that differ only in ``clip_norm`` draw the same line.
    """
    figure, ax = _figure_and_axes(ax)
    seen = set()
    for record in records:
        label = f"σ = {record['noise_multiplier']:g}, L = {record['lot_size']}"
        if label in seen:
            continue
        seen.add(label)
        history = record["history"]
        ax.plot([h["epoch"] for h in history], [h["epsilon"] for h in history], marker=".", label=label)

    delta = records[0].get("delta") if records else None
    ax.set_xlabel("epochs E")
    ax.set_ylabel("epsilon ε" + (f" (δ = {delta:g})" if delta else ""))
    ax.grid(True, alpha=0.3)
    if seen:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return figure


def run_history(record: Mapping[str, Any], *, axes=None) -> Figure:
    """Plot one run's test accuracy and epsilon against epochs, side by side.

    ``record`` needs a ``history`` list; ``axes`` is an optional pair of axes to draw on.
    """
    if axes is None:
        figure = Figure(figsize=(9, 3.2), layout="constrained")
        axes = figure.subplots(1, 2)
    figure = axes[0].figure
    history = record["history"]
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h["test_accuracy"] for h in history], marker="o")
    axes[0].set_xlabel("epochs E")
    axes[0].set_ylabel("test accuracy")
    axes[1].plot(epochs, [h["epsilon"] for h in history], marker="o", color="crimson")
    axes[1].set_xlabel("epochs E")
    axes[1].set_ylabel("epsilon ε")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    if all(name in record for name in ("noise_multiplier", "clip_norm", "lot_size")):
        figure.suptitle(f"σ = {record['noise_multiplier']:g}, C = {record['clip_norm']:g}, L = {record['lot_size']}")
    return figure


def gradient_norm_histogram(norms, *, clip_norm: float, ax=None, bins: int = 40) -> Figure:
    """Histogram of per-example gradient norms before clipping and after clipping to ``clip_norm``."""
    figure, ax = _figure_and_axes(ax)

    norms = np.asarray(norms, dtype=float)
    clipped = np.minimum(norms, clip_norm)
    edges = np.linspace(0.0, max(float(norms.max(initial=0.0)), clip_norm) * 1.05, bins + 1)
    ax.hist(norms, bins=edges, alpha=0.6, label="before clipping")
    ax.hist(clipped, bins=edges, alpha=0.6, label="after clipping")
    ax.axvline(clip_norm, color="black", linestyle="--", label=f"clip_norm C = {clip_norm:g}")
    ax.set_xlabel("per-example gradient L2 norm")
    ax.set_ylabel("examples")
    ax.legend()
    return figure


def signal_to_noise_ratio(
    *, mean_clipped_gradient_norm, num_parameters: int, noise_multiplier, clip_norm, lot_size
) -> np.ndarray:
    """Return the signal-to-noise ratio of DP-SGD's averaged gradient; arguments broadcast.

    The averaged gradient is ``(sum of clipped gradients over the lot + z) / L`` with
    ``z ~ N(0, (σC)² I_d)`` (Abadi et al. 2016, Algorithm 1). Under Poisson sampling
    its expected signal is the dataset's mean clipped gradient ``ḡ``, whatever L, while
    the noise term ``z / L`` has root-mean-square norm ``σ C sqrt(d) / L``. So

        SNR = |ḡ| / (σ C sqrt(d) / L) = L |ḡ| / (σ C sqrt(d)).

    The sampling variance of the lot is left out: it shrinks with L as well, and for
    the settings in the notebooks it is far below the added noise.

    Parameters
    ----------
    mean_clipped_gradient_norm : float or array
        ``|ḡ|``, the L2 norm of the mean over the training set of the clipped gradients.
    num_parameters : int
        ``d``, the number of model parameters (every coordinate gets noise).
    noise_multiplier, clip_norm, lot_size : float or array
        σ, C and L.
    """
    signal = np.asarray(mean_clipped_gradient_norm, dtype=float)
    noise_norm = np.asarray(noise_multiplier, dtype=float) * np.asarray(clip_norm, dtype=float)
    noise_norm = noise_norm * np.sqrt(num_parameters) / np.asarray(lot_size, dtype=float)
    return signal / noise_norm


def signal_to_noise_vs_lot_size(
    mean_clipped_gradient_norms: Mapping[float, float],
    *,
    num_parameters: int,
    noise_multiplier: float,
    lot_sizes: Sequence[int],
    ax=None,
    title: str | None = None,
) -> Figure:
    """Plot the averaged gradient's signal-to-noise ratio against lot size, one line per clipping norm.

    ``mean_clipped_gradient_norms`` maps each clipping norm C to ``|ḡ|`` at that C;
    :func:`signal_to_noise_ratio` gives the formula. Both axes are logarithmic, so the
    ratio's linear growth in L shows as parallel lines of slope 1.
    """
    figure, ax = _figure_and_axes(ax)
    lots = np.asarray(lot_sizes, dtype=float)
    for clip_norm, signal in mean_clipped_gradient_norms.items():
        ratio = signal_to_noise_ratio(
            mean_clipped_gradient_norm=signal, num_parameters=num_parameters, noise_multiplier=noise_multiplier,
            clip_norm=clip_norm, lot_size=lots,
        )
        ax.plot(lots, ratio, marker="o", label=f"clip_norm C = {clip_norm:g}")
    ax.axhline(1.0, color="black", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lot_size L (examples per noisy update)")
    ax.set_ylabel("signal-to-noise ratio of the averaged gradient")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", title=f"noise_multiplier σ = {noise_multiplier:g}")
    if title:
        ax.set_title(title)
    return figure
