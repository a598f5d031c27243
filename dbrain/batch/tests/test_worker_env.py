"""The environment of a local cluster's workers: one analysis thread per core, no forced malloc trimming."""

from __future__ import annotations

import os

from dbrain.batch._run import _cpus, _local_worker_env, _make_client


def _env(name):
    return os.environ.get(name)


def test_local_workers_share_the_cores_and_keep_glibc_defaults(monkeypatch):
    monkeypatch.delenv("DBRAIN_FILTER_THREADS", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    client, cluster = _make_client(2, None, "auto")
    try:
        threads = client.run(_env, "DBRAIN_FILTER_THREADS")
        trim = client.run(_env, "MALLOC_TRIM_THRESHOLD_")
        blas = client.run(_env, "OPENBLAS_NUM_THREADS")
    finally:
        client.close()
        cluster.close()
    assert len(threads) == 2
    assert set(threads.values()) == {str(max(1, _cpus() // 2))}
    # Dask's default (65536) would switch off glibc's dynamic mmap threshold in the workers
    assert set(trim.values()) == {None}
    assert set(blas.values()) == {"1"}  # Dask's other defaults are kept
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # nor leaked into this process's environment


def test_settings_of_the_caller_are_kept(monkeypatch):
    monkeypatch.setenv("DBRAIN_FILTER_THREADS", "3")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert _local_worker_env(2) == ({}, {})
    monkeypatch.delenv("DBRAIN_FILTER_THREADS")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    env, unset = _local_worker_env(64)
    assert env == {"DBRAIN_FILTER_THREADS": "1"}  # never 0, however many workers
    assert unset == {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
