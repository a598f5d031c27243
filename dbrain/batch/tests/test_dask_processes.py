"""The must-show test: real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, one killed mid-run."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dbrain.batch import query, run_batch
from dbrain.simulate import write_simulated_edf

DASK = Path(sys.executable).with_name("dask")
REAL = [
    "formats/eeglab-sample-data/sample_data/test_data/test.edf",
    "formats/mne-testing-data/BDF/test_bdf_stim_channel.bdf",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_workers(address: str, n: int, timeout: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(n, timeout=timeout)


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-thread workers as separate OS processes; all killed afterwards."""
    if not DASK.is_file():
        pytest.skip(f"dask command not found beside {sys.executable}")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    logs = tmp_path / "dask-logs"
    logs.mkdir()

    def start(name, args):
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed in the finaliser
        # One BLAS/OpenMP thread per worker, as a nanny would set (and as docs/batch.md advises).
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        procs.append((proc, log))
        return proc

    try:
        start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"])
        workers = [
            start(
                f"worker{i}",
                [
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(tmp_path / f"w{i}"),
                ],
            )
            for i in range(2)
        ]
        _wait_workers(address, 2)
        yield address, workers
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                with_group = os.getpgid(proc.pid) == proc.pid
                (os.killpg if with_group else os.kill)(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            log.close()


def test_batch_on_dask_processes_with_a_killed_worker(dask_cluster, shared_data, tmp_path):
    address, workers = dask_cluster
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        write_simulated_edf(data / f"sim{i}.edf", "1min", seed=10 + i)
    for rel in REAL:
        shutil.copy(shared_data / rel, data / Path(rel).name)
    store = tmp_path / "store"
    killed = []

    def kill_one(row, done, total):
        # At the first result, kill a worker that holds a task (six tasks, one thread per worker).
        if killed:
            return
        from distributed import Client

        with Client(address, timeout="10s") as client:
            pids = client.run(os.getpid)  # runs on each worker's event loop, beside its busy thread
            processing = client.processing()
        busy = [(addr, pid) for addr, pid in pids.items() if processing.get(addr)]
        assert busy, "no worker holds a task at the first result"
        addr, pid = busy[0]
        victim = next(p for p in workers if p.pid == pid)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        killed.append((victim, [k.removeprefix("dbrain-analyse-") for k in processing[addr]]))

    result = run_batch(data, store, steps=["recording", "qeeg"], scheduler=address, on_result=kill_one)
    assert killed, "no worker was killed"
    victim, lost = killed[0]
    assert victim.poll() is not None and lost
    # The tasks the dead worker held were rerun elsewhere: their recordings are there and ok.
    assert set(lost) <= set(result.rows.loc[result.rows["status"] == "ok", "key"])
    assert len(result.rows) == 6
    assert (result.rows["status"] == "ok").all(), result.rows[["subject", "status", "error"]].to_string()
    # A result the dead worker held in memory (finished, not yet gathered) or had written just before the
    # kill is recomputed by Dask; the task then finds it done in the store and reports "skipped".
    assert result.n_computed + result.n_skipped == 6
    recs = query("SELECT subject, status FROM recordings ORDER BY subject", store)
    assert list(recs["subject"]) == ["sim0", "sim1", "sim2", "sim3", "test", "test_bdf_stim_channel"]
    assert (recs["status"] == "ok").all()

    # A rerun (on the one surviving worker) does no work.
    again = run_batch(data, store, steps=["recording", "qeeg"], scheduler=address)
    assert again.n_computed == 0 and again.n_skipped == 6
