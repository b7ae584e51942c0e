"""`dpkit.sweep.run`: results equal direct training, reruns read the store, errors come first."""

from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor

import pytest

import dpkit
from dpkit.sweep import SweepFailed, SweepInterrupted, SweepStore, expand_grid, run

SMALL = {"epochs": 2, "hidden": (16,), "learning_rate": 0.2}
GRID = {"noise_multiplier": [1.0, 3.0], "clip_norm": [0.5, 2.0]}


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that counts submitted runs, to show what a sweep trained."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


def test_rows_match_direct_training(tmp_path):
    rows = run(GRID, dataset="digits", store=tmp_path / "s.sqlite", progress=False, as_frame=False, **SMALL)
    assert [(row["noise_multiplier"], row["clip_norm"]) for row in rows] == [(1.0, 0.5), (1.0, 2.0), (3.0, 0.5), (3.0, 2.0)]
    for row in rows:
        direct = dpkit.train(dataset="digits", noise_multiplier=row["noise_multiplier"], clip_norm=row["clip_norm"], **SMALL)
        assert row["test_accuracy"] == direct.test_accuracy
        assert row["epsilon"] == direct.epsilon
        assert row["steps"] == direct.steps
        assert row["seeds"] == 1
        assert row["test_accuracy_std"] == 0.0


def test_rerun_reads_the_store_and_trains_nothing(tmp_path):
    store = tmp_path / "s.sqlite"
    first = run(GRID, dataset="digits", store=store, progress=False, as_frame=False, **SMALL)
    executor = CountingExecutor()
    with executor:
        second = run(GRID, dataset="digits", store=store, executor=executor, progress=False, as_frame=False, **SMALL)
    assert executor.submitted == 0
    assert [row["test_accuracy"] for row in second] == [row["test_accuracy"] for row in first]
    assert all(row["cached"] == 1 for row in second)


def test_grown_grid_trains_only_new_points(tmp_path):
    store = tmp_path / "s.sqlite"
    run({"noise_multiplier": [1.0]}, dataset="digits", store=store, progress=False, **SMALL)
    executor = CountingExecutor()
    with executor:
        rows = run({"noise_multiplier": [1.0, 2.0, 4.0]}, dataset="digits", store=store, executor=executor,
                   progress=False, as_frame=False, **SMALL)
    assert executor.submitted == 2
    assert [row["cached"] for row in rows] == [1, 0, 0]
    with SweepStore(store) as opened:
        assert len(opened) == 3


def test_seeds_give_mean_and_sample_std(tmp_path):
    rows = run({"noise_multiplier": [2.0]}, dataset="digits", seeds=[0, 1, 2], store=None, progress=False,
               as_frame=False, **SMALL)
    (row,) = rows
    accuracies = [dpkit.train(dataset="digits", noise_multiplier=2.0, seed=seed, **SMALL).test_accuracy for seed in range(3)]
    assert row["seeds"] == 3
    assert row["test_accuracy"] == pytest.approx(statistics.fmean(accuracies), rel=1e-12)
    assert row["test_accuracy_std"] == pytest.approx(statistics.stdev(accuracies), rel=1e-12)
    assert row["test_accuracy_min"] == min(accuracies)
    assert row["test_accuracy_max"] == max(accuracies)


def test_dataframe_when_pandas_is_installed():
    pandas = pytest.importorskip("pandas")
    frame = run({"noise_multiplier": [2.0]}, dataset="digits", progress=False, **SMALL)
    assert isinstance(frame, pandas.DataFrame)
    assert {"noise_multiplier", "clip_norm", "lot_size", "test_accuracy", "epsilon", "test_accuracy_std"} <= set(frame.columns)


@pytest.mark.parametrize(
    ("grid", "settings", "message"),
    [
        ({"noise_multiplier": [1.0, -1.0]}, {}, r"noise_multiplier must be in \(0, inf\); got -1.0"),
        ({"clip_norm": [1.0, 0.0]}, {}, r"clip_norm .*got 0.0"),
        ({"lot_size": [64, 0]}, {}, r"lot_size must be an integer in \[1, inf\]; got 0"),
        ({"epochs": [2, 1.5]}, {}, r"epochs must be an integer in \[1, inf\]; got 1.5"),
        ({"learning_rate": [float("nan")]}, {}, r"learning_rate must be a number in \(0, inf\); got nan"),
        ({"noise_multiplier": []}, {}, "non-empty"),
        ({"momentum": [0.9]}, {}, "grid parameter must be one of"),
        ({"noise_multiplier": [1.0]}, {"delta": 2.0}, r"delta must be in \(0, 1\); got 2.0"),
        ({"noise_multiplier": [1.0]}, {"noise_multiplier": 2.0}, "both in the grid and a fixed setting"),
        ({"noise_multiplier": [1.0]}, {"seed": 3}, "seeds="),
        ({"noise_multiplier": [1.0]}, {"widths": 3}, "unknown training setting"),
    ],
)
def test_invalid_grid_fails_before_training(grid, settings, message):
    fixed = {name: value for name, value in SMALL.items() if name not in grid}
    executor = CountingExecutor()
    with executor, pytest.raises(ValueError, match=message):
        run(grid, dataset="digits", executor=executor, progress=False, **{**fixed, **settings})
    assert executor.submitted == 0


def test_lot_size_above_dataset_size_fails_before_training():
    num_examples = len(dpkit.data.load("digits").x_train)
    executor = CountingExecutor()
    with executor, pytest.raises(ValueError, match=rf"lot_size must be an integer in \[1, {num_examples}\]; got 5000"):
        run({"lot_size": [64, 5000]}, dataset="digits", executor=executor, progress=False, **SMALL)
    assert executor.submitted == 0


def test_expand_grid_drops_repeats_and_puts_seeds_innermost():
    runs = expand_grid({"clip_norm": [1, 1.0, 2]}, dataset="digits", seeds=[0, 1], settings={}, version="1")
    assert [(dict(r.point)["clip_norm"], r.seed) for r in runs] == [(1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1)]
    assert len({r.key for r in runs}) == 4


def test_interrupt_keeps_finished_runs(tmp_path):
    """A KeyboardInterrupt after two results: both are stored, and the error message reports them."""
    store = tmp_path / "s.sqlite"
    seen = []

    def interrupt_after_two(record):
        seen.append(record["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    grid = {"noise_multiplier": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}
    with pytest.raises(SweepInterrupted, match=f"2 of 6 runs are finished and saved in {store}"):
        run(grid, dataset="digits", store=store, max_workers=1, progress=False, on_result=interrupt_after_two, **SMALL)
    with SweepStore(store) as opened:
        assert opened.keys() == set(seen)


def _failing_run(config, data_dir=None, blas_threads=None):
    raise RuntimeError("worker lost")


def test_failed_run_keeps_earlier_runs(tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    run({"noise_multiplier": [1.0]}, dataset="digits", store=store, progress=False, **SMALL)
    monkeypatch.setattr("dpkit.sweep.engine.train_run", _failing_run)
    with ThreadPoolExecutor(1) as executor, pytest.raises(SweepFailed, match="worker lost.*1 of 2 runs are finished"):
        run({"noise_multiplier": [1.0, 2.0]}, dataset="digits", store=store, executor=executor, progress=False, **SMALL)
    with SweepStore(store) as opened:
        assert len(opened) == 1
