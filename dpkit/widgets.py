"""ipywidgets panels for the notebooks.

:class:`TrainingPanel` has sliders for noise multiplier, clipping norm and lot size
and a Run button. Each press trains one model and adds its point to an accuracy
against epsilon plot. The panel keeps every finished point in ``records``, and its
methods can be called from code, which is how the tests drive it.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

from dpkit.plots import accuracy_vs_epsilon
from dpkit.training import train


class TrainingPanel:
    """Sliders for σ, C and L, a Run button and a live accuracy-against-epsilon plot.

    Parameters
    ----------
    dataset : str
        Dataset name passed to :func:`dpkit.train`.
    **settings
        Other :func:`dpkit.train` settings shared by every run (epochs, hidden, delta, seed...).
    """

    def __init__(self, *, dataset: str = "digits", **settings: Any) -> None:
        self.dataset = dataset
        self.settings = {"epochs": 10, "hidden": (128,), "learning_rate": 0.2, "delta": 1e-5, "seed": 0, **settings}
        self.records: list[dict[str, Any]] = []

        # Training takes a second or more, so sliders act only when released.
        slider_style = {"description_width": "140px"}
        self.noise_multiplier = widgets.FloatLogSlider(
            value=1.5, base=10, min=-0.5, max=1.0, step=0.05, description="noise_multiplier σ",
            continuous_update=False, style=slider_style,
        )
        self.clip_norm = widgets.FloatLogSlider(
            value=1.0, base=10, min=-1.5, max=1.0, step=0.1, description="clip_norm C",
            continuous_update=False, style=slider_style,
        )
        self.lot_size = widgets.IntSlider(
            value=64, min=8, max=512, step=8, description="lot_size L", continuous_update=False, style=slider_style
        )
        self.run_button = widgets.Button(description="Run", button_style="primary")
        self.status = widgets.Label(value="Press Run to train one model.")
        self.plot = widgets.Output()
        self.run_button.on_click(lambda _: self.run())

        self.figure = Figure(figsize=(6, 4), layout="constrained")
        self.widget = widgets.VBox(
            [widgets.HBox([widgets.VBox([self.noise_multiplier, self.clip_norm, self.lot_size]), self.run_button]),
             self.status, self.plot]
        )

    def run(self) -> dict[str, Any]:
        """Train with the sliders' values, add the point to the plot and return its record."""
        point = {
            "noise_multiplier": float(self.noise_multiplier.value),
            "clip_norm": float(self.clip_norm.value),
            "lot_size": int(self.lot_size.value),
        }
        self.status.value = f"Training with {point} ..."
        try:
            result = train(dataset=self.dataset, **self.settings, **point)
        except ValueError as error:
            # Keep the panel and the earlier points; show what was wrong.
            self.status.value = f"Invalid setting: {error}"
            raise
        record = {**point, "epsilon": result.epsilon, "test_accuracy": result.test_accuracy, "delta": result.delta}
        self.records.append(record)
        self.status.value = (
            f"σ={point['noise_multiplier']:.2f}, C={point['clip_norm']:.2f}, L={point['lot_size']}: "
            f"test accuracy {result.test_accuracy:.3f} at ε={result.epsilon:.2f} (δ={result.delta:g})"
        )
        self.redraw()
        return record

    def redraw(self) -> None:
        """Draw every finished point again."""
        self.figure.clear()
        accuracy_vs_epsilon(self.records, ax=self.figure.add_subplot(), title=f"DP-SGD on {self.dataset}")
        self.plot.clear_output(wait=True)
        with self.plot:
            display(self.figure)

    def show(self) -> None:
        """Display the panel in the notebook."""
        display(self.widget)
