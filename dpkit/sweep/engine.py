"""`dpkit.sweep.run`: train every point of a grid once per seed, reusing stored runs.

The steps:

1. Expand and validate the grid (:func:`dpkit.sweep.grid.expand_grid`); nothing
   trains until every value has passed.
2. Read the runs already in the store and report them at once.
3. Submit the remaining runs to an executor and store each one the moment its
   future completes, in the parent process.
4. Summarise each grid point over its seeds: mean and spread of test accuracy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, as_completed
from pathlib import Path
from typing import Any

from dpkit.data import load
from dpkit.sweep.execute import DEFAULT_WORKERS, blas_threads_per_worker, make_default_executor, stop_executor, train_run
from dpkit.sweep.grid import Run, check_against_dataset, expand_grid
from dpkit.sweep.store import MEMORY, SweepStore
from dpkit.sweep.table import summarise, to_table

logger = logging.getLogger(__name__)


class SweepInterrupted(KeyboardInterrupt):
    """A sweep was interrupted; the runs it finished are in the store and a rerun resumes it."""


class SweepFailed(RuntimeError):
    """A training run raised, or a worker died; the runs finished before are in the store."""


def run(
    grid: Mapping[str, Any],
    *,
    dataset: str = "digits",
    seeds: Iterable[int] = (0,),
    store: str | Path | SweepStore | None = None,
    executor: Executor | None = None,
    max_workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    data_dir: str | None = None,
    as_frame: bool | None = None,
    **settings: Any,
):
    """Train every grid point once per seed and return one summary row per grid point.

    Parameters
    ----------
    grid : mapping
        Swept settings (``noise_multiplier``, ``clip_norm``, ``lot_size``, ``epochs``,
        ``learning_rate``), each a number or a sequence of numbers. The sweep is
        their Cartesian product.
    dataset : str
        A name from ``dpkit.data.DATASETS``.
    seeds : iterable of int
        Seeds of the runs at each grid point; several give a mean and a spread.
    store : str, Path or SweepStore, optional
        The SQLite result store. Runs already in it are read, not trained; each new
        run is written as soon as it finishes. None keeps results in memory only.
    executor : concurrent.futures.Executor, optional
        Where runs execute, for example ``distributed.Client(...).get_executor()``.
        The sweep neither shuts down nor stops an executor it was given.
        None: a local process pool of ``max_workers`` workers, shut down at the end.
    max_workers : int
        Size of the default process pool.
    progress : bool
        Show a progress bar over runs (``tqdm.auto``, so a widget in Jupyter).
    on_result : callable, optional
        Called in this process with each run's record (see :meth:`SweepStore.records`,
        plus ``cached``: whether it came from the store), stored runs first.
    data_dir : str, optional
        Passed to :func:`dpkit.data.load` in the workers; not part of the store key.
    as_frame : bool, optional
        Return a pandas DataFrame (True), a list of dicts (False), or a DataFrame
        when pandas is installed (None).
    **settings
        Fixed :class:`dpkit.TrainConfig` settings for every run (``hidden``, ``delta``, ...).

    Returns
    -------
    pandas.DataFrame or list of dict
        One row per grid point in grid order: the swept values, ``seeds`` (how many),
        ``test_accuracy`` (mean over seeds), ``test_accuracy_std`` (sample standard
        deviation, 0 for one seed), ``test_accuracy_min``, ``test_accuracy_max``,
        ``epsilon``, ``delta``, ``steps``, ``seconds`` (mean training time), ``cached``
        (runs read from the store) and ``keys`` (store keys of the point's runs).

    Raises
    ------
    ValueError
        For any invalid grid value or setting, before training starts; for a store
        file that is not a dpkit store.
    SweepInterrupted
        On KeyboardInterrupt; the message says how many runs are finished and saved.
    SweepFailed
        When a run raises or a worker dies; finished runs stay in the store.
    """
    import dpkit

    check_workers(max_workers)
    runs = expand_grid(grid, dataset=dataset, seeds=seeds, settings=settings, version=dpkit.__version__)
    owns_store = not isinstance(store, SweepStore)
    if store is None:
        sweep_store = SweepStore(MEMORY)
    elif owns_store:
        sweep_store = SweepStore(store)
    else:
        sweep_store = store
    try:
        records = _collect(runs, sweep_store, executor=executor, max_workers=max_workers, progress=progress,
                           on_result=on_result, data_dir=data_dir, version=dpkit.__version__)
    finally:
        if owns_store:
            sweep_store.close()
    return to_table(summarise(runs, records), as_frame=as_frame)


def check_workers(max_workers: int) -> None:
    """Check that ``max_workers`` is an integer of at least 1."""
    from dpkit._validate import check_integer

    check_integer("max_workers", max_workers, low=1)


def _collect(runs, store: SweepStore, *, executor, max_workers, progress, on_result, data_dir, version):
    """Return every run's record by key, reading stored runs and training the rest."""
    from tqdm.auto import tqdm

    sweep_keys = list(dict.fromkeys(run.key for run in runs))
    stored = store.get(sweep_keys)
    records = {key: {**stored[key], "cached": True} for key in sweep_keys if key in stored}  # in grid order
    pending = list({run.key: run for run in runs if run.key not in records}.values())
    total = len(sweep_keys)
    for record in records.values():
        _notify(on_result, record)
    if not pending:
        return records

    # Load the data once here to check lot sizes and PCA dimensions before training.
    dataset = load(pending[0].config["dataset"], data_dir=data_dir)
    check_against_dataset(pending, num_examples=len(dataset.x_train), num_features=dataset.x_train.shape[1])
    del dataset

    owned = executor is None
    pool = make_default_executor(max_workers) if owned else executor
    start = time.perf_counter()
    futures: dict[Future, Run] = {}
    bar = None
    try:
        threads = blas_threads_per_worker(max_workers) if owned else None
        futures = {pool.submit(train_run, run.config, data_dir, threads): run for run in pending}

        # The bar starts a monitor thread, so it comes after submit has started the workers.
        bar = tqdm(total=total, initial=len(records), desc="sweep runs", unit="run", disable=not progress)
        for future in as_completed(futures):
            run = futures[future]
            record = _store_result(store, run, future, version=version, sweep_keys=sweep_keys, total=total)
            record["cached"] = False
            records[run.key] = record
            bar.update(1)
            _notify(on_result, record)
    except KeyboardInterrupt:
        _cancel(futures, pool, owned)
        raise SweepInterrupted(_progress_message("interrupted", store, sweep_keys, total)) from None
    except BaseException:
        _cancel(futures, pool, owned)
        raise
    finally:
        if bar is not None:
            bar.close()
    if owned:
        pool.shutdown(wait=True)
    logger.info("trained %d runs in %.1f s", len(pending), time.perf_counter() - start)
    return records


def _store_result(store: SweepStore, run: Run, future: Future, *, version: str, sweep_keys: list[str], total: int) -> dict:
    try:
        result, seconds = future.result()
    except Exception as error:
        message = _progress_message("stopped", store, sweep_keys, total)
        raise SweepFailed(f"run {dict(run.point)} with seed {run.seed} failed: {error!r}. {message}") from error
    store.add(run.key, run.config, result, version=version, seconds=seconds)
    (record,) = store.get([run.key]).values()
    return record


def _cancel(futures: Mapping[Future, Run], pool: Executor, owned: bool) -> None:
    for future in futures:
        future.cancel()
    if owned:
        stop_executor(pool)


def _progress_message(what: str, store: SweepStore, keys: Iterable[str], total: int) -> str:
    # Count from the store itself: an interrupt can land between a commit and the
    # bookkeeping after it, and the store is what a rerun will read.
    done = len(set(keys) & store.keys())
    if store.path == MEMORY:
        return f"sweep {what}: {done} of {total} runs had finished, but without a store they are lost; pass store= to keep them"
    return f"sweep {what}: {done} of {total} runs are finished and saved in {store.path}; run the same sweep again to resume"


def _notify(on_result, record: dict[str, Any]) -> None:
    if on_result is not None:
        on_result(dict(record))
