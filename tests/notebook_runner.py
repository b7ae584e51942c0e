"""Execute a notebook headless in a real Jupyter kernel and collect its text output."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute_notebook(
    name: str, *, timeout: int = 300, folder: Path | None = None, extra_cells: tuple[str, ...] = ()
) -> nbformat.NotebookNode:
    """Run every cell of ``notebooks/<name>`` in a fresh python3 kernel; a failing cell raises CellExecutionError.

    The kernel starts in ``folder`` (default: notebooks/), and ``extra_cells`` are
    appended as code cells, so a test can drive the notebook's widgets afterwards.
    """
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in extra_cells)
    working_folder = NOTEBOOKS if folder is None else folder
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(working_folder)}})
    client.execute()
    return notebook


def text_output(notebook: nbformat.NotebookNode) -> str:
    """Join the stdout streams and plain-text results of every code cell."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output and "text/plain" in output["data"]:
                parts.append(output["data"]["text/plain"])
    return "\n".join(parts)


def image_count(notebook: nbformat.NotebookNode) -> int:
    """Count PNG images among the outputs."""
    return sum(
        1 for cell in notebook.cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})
    )
