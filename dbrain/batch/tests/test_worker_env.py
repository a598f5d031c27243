"""The environment of a local cluster's workers: one analysis thread per core, glibc's mmap threshold, 2 arenas."""

from __future__ import annotations

import os

from dbrain.batch._run import _cpus, _local_worker_env, _make_client


def _env(name):
    return os.environ.get(name)


def test_local_workers_share_the_cores_and_keep_glibc_defaults(monkeypatch):
    monkeypatch.delenv("DBRAIN_FILTER_THREADS", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    client, cluster = _make_client(2, None, "auto")
    try:
        threads = client.run(_env, "DBRAIN_FILTER_THREADS")
        trim = client.run(_env, "MALLOC_TRIM_THRESHOLD_")
        arenas = client.run(_env, "MALLOC_ARENA_MAX")
        blas = client.run(_env, "OPENBLAS_NUM_THREADS")
    finally:
        client.close()
        cluster.close()
    assert len(threads) == 2
    assert set(threads.values()) == {str(max(1, _cpus() // 2))}
    # Dask's default (65536) would switch off glibc's dynamic mmap threshold in the workers
    assert set(trim.values()) == {None}
    assert set(arenas.values()) == {"2"}  # in the environment the worker process started with
    assert set(blas.values()) == {"1"}  # Dask's other defaults are kept
    # none of them is left in this process's environment (for processes it starts later)
    assert not {"MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "OMP_NUM_THREADS"} & set(os.environ)


def test_settings_of_the_caller_are_kept(monkeypatch):
    monkeypatch.setenv("DBRAIN_FILTER_THREADS", "3")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert _local_worker_env(2) == ({}, {})
    for name in ("DBRAIN_FILTER_THREADS", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX"):
        monkeypatch.delenv(name)
    env, pre_spawn = _local_worker_env(64)
    assert env == {"DBRAIN_FILTER_THREADS": "1"}  # never 0, however many workers
    assert pre_spawn == {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": "2",
    }
