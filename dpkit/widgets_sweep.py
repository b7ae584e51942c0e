"""The sweep panel of notebook 03: choose a grid, press Run, watch accuracy against epsilon fill in.

:class:`SweepPanel` wraps :func:`dpkit.sweep.run`. Runs already in the panel's store
appear at once; the others are drawn as they finish. Choosing a run in the
"history" list plots its test accuracy and epsilon after each epoch. Every control
is a public attribute and :meth:`SweepPanel.run` can be called from code, which is
how the tests drive the panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

from dpkit.data import DATASETS
from dpkit.data.locate import search_folders
from dpkit.data.sources import IDX_SOURCES
from dpkit.plots import accuracy_vs_epsilon, run_history
from dpkit.sweep import run as run_sweep


def datasets_on_disk() -> list[str]:
    """Return the dataset names usable without a download: digits, plus each IDX dataset whose files are all found.

    Only file names are checked here; :func:`dpkit.data.load` verifies checksums when a run loads the data.
    """
    names = []
    for name in DATASETS:
        source = IDX_SOURCES.get(name)
        if source is None or any(all((folder / f).is_file() for f in source.sha256) for folder in search_folders(name)):
            names.append(name)
    return names


def parse_values(name: str, text: str, kind: type = float) -> list[Any]:
    """Parse comma-separated numbers typed in a text box; ValueError names the box and the text."""
    try:
        values = [kind(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        noun = "integers" if kind is int else "numbers"
        raise ValueError(f"{name} must be comma-separated {noun}; got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must list at least one value; got {text!r}")
    return values


class SweepPanel:
    """Text boxes for the σ, C and L grids, sliders for epochs and delta, a Run button and live plots.

    Parameters
    ----------
    store : str or Path
        The SQLite result store shared by every press of Run.
    max_workers : int
        Size of the local process pool.
    **settings
        Fixed :func:`dpkit.train` settings for every run (``hidden``, ``learning_rate``, ``seed``...).
    """

    def __init__(self, *, store: str | Path = "out/sweep_panel.sqlite", max_workers: int = 2, **settings: Any) -> None:
        self.store = Path(store)
        self.max_workers = max_workers
        seed = settings.pop("seed", 0)
        self.seeds = (seed,)
        self.settings = {"hidden": (128,), "learning_rate": 0.2, **settings}
        self.records: list[dict[str, Any]] = []

        style = {"description_width": "150px"}
        self.dataset = widgets.Dropdown(options=datasets_on_disk(), value="digits", description="dataset", style=style)
        self.noise_multiplier = widgets.Text(value="0.8, 1.5, 4", description="noise_multiplier σ", style=style)
        self.clip_norm = widgets.Text(value="0.5, 2", description="clip_norm C", style=style)
        self.lot_size = widgets.Text(value="32, 128", description="lot_size L", style=style)
        # Only Run trains, so the sliders need not send every intermediate value.
        self.epochs = widgets.IntSlider(value=10, min=1, max=60, description="epochs E", continuous_update=False, style=style)
        self.delta = widgets.FloatLogSlider(
            value=1e-5, base=10, min=-8, max=-3, step=1, description="delta δ", continuous_update=False,
            readout_format=".0e", style=style,
        )
        self.run_button = widgets.Button(description="Run", button_style="primary")
        self.status = widgets.Label(value="Choose the grid and press Run.")
        self.progress = widgets.Output()
        self.plot = widgets.Output()
        self.selected = widgets.Dropdown(options=[], description="history", style=style, layout={"width": "420px"})
        self.history = widgets.Output()

        self.figure = Figure(figsize=(6.5, 4.2), layout="constrained")
        self.history_figure = Figure(figsize=(9, 3.2), layout="constrained")
        self.run_button.on_click(lambda _: self._run_from_button())
        self.selected.observe(lambda change: self.show_history(change["new"]), names="value")

        controls = widgets.VBox([self.dataset, self.noise_multiplier, self.clip_norm, self.lot_size, self.epochs, self.delta])
        self.widget = widgets.VBox([
            widgets.HBox([controls, self.run_button]), self.status, self.progress, self.plot, self.selected, self.history,
        ])

    def grid(self) -> dict[str, list[Any]]:
        """Return the grid typed in the text boxes; ValueError names the box that does not parse."""
        return {
            "noise_multiplier": parse_values("noise_multiplier", self.noise_multiplier.value),
            "clip_norm": parse_values("clip_norm", self.clip_norm.value),
            "lot_size": parse_values("lot_size", self.lot_size.value, int),
        }

    def run(self) -> list[dict[str, Any]]:
        """Sweep the chosen grid, drawing each run as it arrives; return the sweep's summary rows."""
        grid = self.grid()
        self.records = []
        self.status.value = f"Sweeping {self.dataset.value}: {_grid_size(grid)} grid points ..."
        self.progress.clear_output()
        with self.progress:
            rows = run_sweep(
                grid, dataset=self.dataset.value, seeds=self.seeds, store=self.store, max_workers=self.max_workers,
                epochs=int(self.epochs.value), delta=float(self.delta.value), on_result=self._add_record,
                as_frame=False, **self.settings,
            )
        cached = sum(row["cached"] for row in rows)
        self.status.value = f"{len(self.records)} runs: {cached} read from the store {self.store}, {len(self.records) - cached} trained."
        self.redraw()
        return rows

    def _run_from_button(self) -> None:
        # A callback's exception would only reach the kernel log, so show it in the panel.
        try:
            self.run()
        except ValueError as error:
            self.status.value = f"Invalid setting: {error}"

    def _add_record(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.selected.options = [(_describe(r), r["key"]) for r in self.records]
        # Stored runs arrive together before any training, so one redraw at the end covers them.
        if not record["cached"]:
            self.redraw()

    def redraw(self) -> None:
        """Draw every run of the current sweep on the accuracy-against-epsilon plot."""
        self.figure.clear()
        accuracy_vs_epsilon(self.records, ax=self.figure.add_subplot(), title=f"DP-SGD on {self.dataset.value}")
        self.plot.clear_output(wait=True)
        with self.plot:
            display(self.figure)

    def show_history(self, key: str | None) -> None:
        """Plot the test accuracy and epsilon after each epoch of the run with store key ``key``."""
        if key is None:
            return
        (record,) = [r for r in self.records if r["key"] == key]
        self.history_figure.clear()
        run_history(record, axes=self.history_figure.subplots(1, 2))
        self.history.clear_output(wait=True)
        with self.history:
            display(self.history_figure)

    def show(self) -> None:
        """Display the panel in the notebook."""
        display(self.widget)


def _grid_size(grid: dict[str, list[Any]]) -> int:
    size = 1
    for values in grid.values():
        size *= len(set(values))
    return size


def _describe(record: dict[str, Any]) -> str:
    return (
        f"σ={record['noise_multiplier']:g}, C={record['clip_norm']:g}, L={record['lot_size']}: "
        f"accuracy {record['test_accuracy']:.3f} at ε={record['epsilon']:.2f}"
    )
