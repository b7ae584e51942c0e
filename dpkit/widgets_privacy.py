"""An ipywidgets panel for privacy curves: epsilon against epochs for every accountant.

:class:`PrivacyCurvesPanel` has sliders for the noise multiplier, sampling rate,
delta and number of epochs, one plot with a curve per accountant, and an inverse
panel that turns a target epsilon into the noise multiplier that meets it. Its
methods can be called from code, which is how the tests drive it.
"""

from __future__ import annotations

import math
import warnings

import ipywidgets as widgets
import numpy as np
from IPython.display import display
from matplotlib.figure import Figure

from dpkit.accounting import ACCOUNTANTS, epsilon, noise_multiplier_for
from dpkit.accounting.pld import epsilon_pld

_STYLE = {"description_width": "150px"}
_COLORS = {
    "moments": "tab:blue",
    "rdp": "tab:green",
    "pld": "tab:purple",
    "strong_composition": "tab:red",
    "naive_composition": "tab:gray",
}


class PrivacyCurvesPanel:
    """Sliders for sigma, q, delta and epochs, a curve per accountant, and a target-epsilon calculator.

    Parameters
    ----------
    accountants : sequence of str
        Accountants to draw, by default all five.
    curve_points : int
        Epoch values per curve for the vectorised accountants.
    pld_points : int
        Epoch values for "pld", which needs one FFT composition per point.
    pld_value_interval : float
        Loss grid spacing of the "pld" curve. The default 1e-3 is ten times
        coarser than ``epsilon(accountant="pld")`` uses, so a redraw stays fast;
        the curve is still an upper bound, looser by 0.2% (sigma 1.5) to 1.4%
        (sigma 4) at q = 0.01 and 10,000 steps.
    """

    def __init__(
        self,
        *,
        accountants: tuple[str, ...] = ACCOUNTANTS,
        curve_points: int = 60,
        pld_points: int = 8,
        pld_value_interval: float = 1e-3,
        noise_multiplier: float = 4.0,
        sampling_rate: float = 0.01,
        delta: float = 1e-5,
        epochs: float = 100.0,
    ) -> None:
        self.accountants = tuple(accountants)
        self.curve_points = curve_points
        self.pld_points = pld_points
        self.pld_value_interval = pld_value_interval

        # The pld curve takes tens of milliseconds per point, so sliders act on release.
        self.noise_multiplier = widgets.FloatLogSlider(
            value=noise_multiplier, base=10, min=-0.5, max=1.5, step=0.01, description="noise_multiplier σ",
            continuous_update=False, style=_STYLE,
        )
        self.sampling_rate = widgets.FloatLogSlider(
            value=sampling_rate, base=10, min=-4, max=0, step=0.05, description="sampling_rate q",
            continuous_update=False, style=_STYLE,
        )
        self.delta = widgets.FloatLogSlider(
            value=delta, base=10, min=-10, max=-2, step=0.5, description="delta δ", continuous_update=False,
            style=_STYLE,
        )
        self.epochs = widgets.FloatSlider(
            value=epochs, min=1, max=400, step=1, description="epochs E", continuous_update=False, style=_STYLE
        )
        self.target_epsilon = widgets.FloatLogSlider(
            value=2.0, base=10, min=-1, max=1.3, step=0.01, description="target ε", continuous_update=False,
            style=_STYLE,
        )
        self.target_accountant = widgets.Dropdown(
            options=[a for a in ("rdp", "moments", "pld", "strong_composition") if a in ACCOUNTANTS],
            value="rdp", description="accountant", style=_STYLE,
        )
        self.inverse_result = widgets.Label()
        self.status = widgets.Label()
        self.plot = widgets.Output()

        # A fixed layout and a modest dpi keep the PNG rendering of each redraw short.
        self.figure = Figure(figsize=(7, 4.2), dpi=80)
        self.figure.subplots_adjust(left=0.1, right=0.97, bottom=0.13, top=0.95)
        self.axes = self.figure.add_subplot()
        self.lines = {
            name: self.axes.plot([], [], label=name if name != "pld" else f"pld (grid {pld_value_interval:g})", color=_COLORS[name], marker="o" if name == "pld" else None)[0]
            for name in self.accountants
        }
        self.axes.set_xlabel("epochs E = T·q")
        self.axes.set_ylabel("ε")
        self.axes.set_yscale("log")
        self.axes.grid(True, alpha=0.3)
        self.axes.legend(loc="upper left")

        self.calibrated_noise_multiplier: float | None = None
        for slider in (self.noise_multiplier, self.sampling_rate, self.delta, self.epochs):
            slider.observe(lambda _: self.update(), names="value")
        for control in (self.target_epsilon, self.target_accountant):
            control.observe(lambda _: self.update_inverse(), names="value")
        for control in (self.sampling_rate, self.delta, self.epochs):
            control.observe(lambda _: self.update_inverse(), names="value")

        self.widget = widgets.VBox(
            [
                widgets.HBox([widgets.VBox([self.noise_multiplier, self.sampling_rate]),
                              widgets.VBox([self.delta, self.epochs])]),
                self.status,
                self.plot,
                widgets.HTML("<b>Inverse query</b>: the smallest noise multiplier that meets a target ε "
                             "at the current q, δ and epochs"),
                widgets.HBox([self.target_epsilon, self.target_accountant]),
                self.inverse_result,
            ]
        )
        self.update()
        self.update_inverse()

    def settings(self) -> dict[str, float]:
        """Return the sliders' current values under the accounting vocabulary."""
        return {
            "noise_multiplier": float(self.noise_multiplier.value),
            "sampling_rate": float(self.sampling_rate.value),
            "delta": float(self.delta.value),
            "epochs": float(self.epochs.value),
        }

    def curve(self, accountant: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (epochs, epsilon) arrays of one accountant's curve at the current settings."""
        s = self.settings()
        points = self.pld_points if accountant == "pld" else self.curve_points
        epochs = np.linspace(s["epochs"] / points, s["epochs"], points)
        steps = np.ceil(epochs / s["sampling_rate"] - 1e-9)
        if accountant == "pld":
            values = [
                epsilon_pld(np.array([s["noise_multiplier"]]), np.array([s["sampling_rate"]]), np.array([t]),
                            delta=s["delta"], value_interval=self.pld_value_interval)
                for t in steps
            ]
            return epochs, np.array(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # order-edge advice clutters a live plot
            values = epsilon(
                noise_multiplier=s["noise_multiplier"], sampling_rate=s["sampling_rate"], steps=steps,
                delta=s["delta"], accountant=accountant,
            )
        return epochs, np.asarray(values)

    def update(self) -> None:
        """Recompute every curve and redraw the plot."""
        finals = {}
        for name, line in self.lines.items():
            x, y = self.curve(name)
            line.set_data(x, y)
            finals[name] = y[-1]
        self.axes.relim()
        self.axes.autoscale_view()
        s = self.settings()
        steps = math.ceil(s["epochs"] / s["sampling_rate"] - 1e-9)
        self.status.value = f"after {steps} steps: " + ", ".join(f"{n} ε={v:.3g}" for n, v in finals.items())
        self.plot.clear_output(wait=True)
        with self.plot:
            display(self.figure)

    def update_inverse(self) -> None:
        """Recompute the noise multiplier that meets the target epsilon."""
        s = self.settings()
        steps = max(1, math.ceil(s["epochs"] / s["sampling_rate"] - 1e-9))
        try:
            sigma = noise_multiplier_for(
                target_epsilon=float(self.target_epsilon.value), sampling_rate=s["sampling_rate"], steps=steps,
                delta=s["delta"], accountant=self.target_accountant.value,
            )
        except ValueError as error:
            self.calibrated_noise_multiplier = None
            self.inverse_result.value = f"Unreachable: {error}"
            return
        self.calibrated_noise_multiplier = sigma
        self.inverse_result.value = (
            f"noise_multiplier σ = {sigma:.4g} gives ε ≤ {self.target_epsilon.value:.3g} after {steps} steps "
            f"({self.target_accountant.value})"
        )

    def show(self) -> None:
        """Display the panel in the notebook."""
        display(self.widget)
