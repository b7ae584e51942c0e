"""The same sweep on a Dask distributed cluster, through `Client.get_executor()`."""

from __future__ import annotations

import pytest

from dpkit.sweep import SweepStore, run

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'dpkit[dask]')")

GRID = {"noise_multiplier": [1.0, 3.0], "clip_norm": [0.5, 2.0]}
SMALL = {"epochs": 2, "hidden": (16,), "learning_rate": 0.2}


@pytest.mark.parametrize(("n_workers", "processes"), [(1, False), (2, True)])
def test_dask_cluster_gives_the_local_results(tmp_path, n_workers, processes):
    local = run(GRID, dataset="digits", progress=False, as_frame=False, **SMALL)

    cluster = distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=processes, protocol="tcp://", host="127.0.0.1",
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as client:
        rows = run(
            GRID, dataset="digits", executor=client.get_executor(), store=tmp_path / "s.sqlite", progress=False,
            as_frame=False, **SMALL,
        )
        assert client.status == "running"  # the sweep leaves a cluster it was given running

    assert [row["test_accuracy"] for row in rows] == [row["test_accuracy"] for row in local]
    assert [row["epsilon"] for row in rows] == [row["epsilon"] for row in local]
    with SweepStore(tmp_path / "s.sqlite") as store:
        assert len(store) == len(local)
