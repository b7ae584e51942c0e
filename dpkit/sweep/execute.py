"""Sweep execution: the worker function and the default process pool.

Any :class:`concurrent.futures.Executor` can run a sweep, because a run is one call
of :func:`train_run` on a plain configuration dict. The default is a local
:class:`~concurrent.futures.ProcessPoolExecutor`; a Dask cluster works through
``distributed.Client.get_executor()``. Workers only compute: the parent process
writes each result to the store as its future completes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from dpkit.data import Dataset, load

#: Worker processes of the default pool.
DEFAULT_WORKERS = 2

# Datasets already loaded in this worker process, keyed by (name, data_dir), so a
# worker that trains many runs on Fashion-MNIST reads the IDX files once.
_LOADED: dict[tuple[str, str | None], Dataset] = {}


def train_run(
    config: dict[str, Any], data_dir: str | None = None, blas_threads: int | None = None
) -> tuple[dict[str, Any], float]:
    """Train one configuration and return (``TrainResult.to_dict()`` in JSON types, seconds spent).

    ``config`` contains every :class:`dpkit.TrainConfig` field, the dataset name included.
    ``blas_threads`` caps the BLAS threads of this run (None: the library's default),
    so that workers sharing a machine do not oversubscribe its cores. This is the
    function each executor runs; it reads and writes no store.
    """
    from threadpoolctl import threadpool_limits

    from dpkit.training import train  # imported here, so a fresh worker pays for it only once it trains

    settings = dict(config)
    dataset = _load_cached(settings.pop("dataset"), data_dir)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        start = time.perf_counter()
        result = train(dataset=dataset, **settings)
        seconds = time.perf_counter() - start

    # A JSON round trip turns NumPy scalars into Python numbers, as the store needs.
    return json.loads(json.dumps(result.to_dict(), default=_to_python)), seconds


def blas_threads_per_worker(max_workers: int) -> int:
    """Return how many BLAS threads each of ``max_workers`` local workers may use: the cores divided evenly."""
    return max(1, (os.cpu_count() or 1) // max_workers)


def make_default_executor(max_workers: int = DEFAULT_WORKERS) -> ProcessPoolExecutor:
    """Return a local process pool of ``max_workers`` workers.

    In a single-threaded caller on a platform with "fork" (a script on Linux), the
    workers are forked: they start at once and need no ``if __name__ ==
    "__main__"`` guard. A caller with other threads running (a Jupyter kernel has
    several) gets "forkserver" or "spawn" instead, because forking a threaded
    process can deadlock the child.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        method = "fork"
    else:
        method = "forkserver" if "forkserver" in methods else "spawn"
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context(method))


def stop_executor(executor: Executor) -> None:
    """Shut a pool down without waiting for runs in progress; end a process pool's workers."""
    executor.shutdown(wait=False, cancel_futures=True)
    if not isinstance(executor, ProcessPoolExecutor):
        return

    # NOTE: before Python 3.14 a ProcessPoolExecutor has no public way to stop a
    # running task, so this reads its private process table.
    terminate = getattr(executor, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive() and process.pid != os.getpid():
            process.terminate()


def _load_cached(name: str, data_dir: str | None) -> Dataset:
    key = (name, data_dir)
    if key not in _LOADED:
        _LOADED[key] = load(name, data_dir=data_dir)
    return _LOADED[key]


def _to_python(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a sweep result")
