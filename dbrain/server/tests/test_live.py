"""End to end: a real ``dbrain serve`` (uvicorn) and real ``dbrain worker`` processes; a worker killed mid-job."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextlib.contextmanager
def running_server(env: dict, db: str, log_path: Path, workers: int = 1):
    """``dbrain serve`` on a free port of 127.0.0.1 until the block ends; yields its base URL.

    Its output goes to ``log_path``; a server that exits while starting fails the test with that log.
    """
    port = _free_port()
    out = open(log_path, "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dbrain",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--db",
            db,
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy():
        if server.poll() is not None:
            raise AssertionError(f"dbrain serve exited: {log_path.read_text()}")
        try:
            return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(healthy, 60, "dbrain serve")
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        out.close()


def test_serve_and_worker_processes_survive_a_killed_worker(real_edf, tmp_path):
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": "a long admin password"}
    cmd = [sys.executable, "-m", "dbrain"]
    made = subprocess.run(
        [*cmd, "admin", "create-user", "--username", "root", "--site", "Site A", "--role", "admin", "--db", db],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert "created admin 'root'" in made.stdout
    port = _free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs, files = [], []

    def start(name, *args):
        out = open(logs / f"{name}.log", "w")
        files.append(out)
        proc = subprocess.Popen([*cmd, *args, "--db", db], env=env, stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    def log(name):
        return (logs / f"{name}.log").read_text()

    server = start("serve", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0")
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy():
            if server.poll() is not None:
                raise AssertionError(f"dbrain serve exited: {log('serve')}")
            try:
                return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait(healthy, 60, "dbrain serve")
        with httpx.Client(base_url=base, timeout=30) as c:
            login = c.post("/api/auth/login", json={"username": "root", "password": "a long admin password"})
            assert login.status_code == 200, login.text
            session = {"Cookie": f"dbrain_session={login.cookies['dbrain_session']}", "X-CSRF-Token": login.json()["csrf_token"]}
            token = c.post("/api/tokens", json={"name": "e2e"}, headers=session).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            tech = {"username": "tech", "password": "a long tech password", "role": "technologist", "site_id": 1}
            assert c.post("/api/users", json=tech, headers=auth).status_code == 201
            with open(real_edf, "rb") as fid:
                up = c.post(
                    "/api/recordings",
                    params={"filename": real_edf.name},
                    content=fid,
                    headers={**auth, "Content-Type": "application/octet-stream"},
                )
            assert up.status_code == 201, up.text
            rec = up.json()

            # A 64 MB EDF: the server's peak memory grows by far less than the file (streamed,
            # validated lazily, de-identified in 8 MB chunks, stored by rename).
            header = bytearray(real_edf.read_bytes()[: 256 + 16 * 256])
            header[236:244] = b"8192    "  # 8192 records of 16 x 256 samples x 2 bytes = 64 MiB
            big = tmp_path / "long.edf"
            with open(big, "wb") as fid:
                fid.write(header)
                for _ in range(32):
                    fid.write(bytes(8192 * 256))

            def peak_rss():
                status = Path(f"/proc/{server.pid}/status").read_text()
                return int(status.split("VmHWM:")[1].split()[0]) * 1024

            before = peak_rss()
            with open(big, "rb") as fid:
                large = c.post(
                    "/api/recordings",
                    params={"filename": "long.edf"},
                    content=fid,
                    headers={**auth, "Content-Type": "application/octet-stream"},
                )
            assert large.status_code == 201, large.text
            assert large.json()["size"] == big.stat().st_size
            grown = peak_rss() - before
            assert grown < 32 * 1024**2, f"server peak memory grew by {grown / 1024**2:.0f} MB for a 64 MB upload"
            job = c.post(f"/api/recordings/{rec['id']}/analyses", json={"only": ["recording", "eeg_page", "qeeg"]}, headers=auth)
            assert job.status_code == 202
            aid = job.json()["id"]

            def state():
                r = c.get(f"/api/analyses/{aid}", headers=auth)
                assert r.status_code == 200, (r.text, log("serve")[-3000:])
                return r.json()

            worker_args = ("worker", "--lease", "3", "--heartbeat", "0.5", "--poll", "0.3")
            first = start("worker1", *worker_args)
            # Kill the worker once it is inside the analysis (a heartbeat reported progress).
            _wait(
                lambda: (s := state())["job"]["status"] == "running" and s["job"]["progress"] > 0, 90, "worker 1 to start the job"
            )
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert state()["status"] == "running"  # abandoned, lease not yet expired
            start("worker2", *worker_args)
            final = _wait(lambda: (s := state())["status"] in ("done", "failed") and s, 120, "worker 2 to finish the job")
            assert final["status"] == "done", (final, log("worker2"))
            assert final["job"]["attempts"] == 2 and final["job"]["progress"] == 1.0
            assert {"summary.json", "events.tsv", "report.pdf", "qeeg.parquet"} <= set(final["results"])
            listed = c.get(f"/api/recordings/{rec['id']}/analyses", headers=auth).json()
            assert [a["status"] for a in listed] == ["done"]
            assert c.get(f"/api/analyses/{aid}/files/report.pdf", headers=auth).content[:4] == b"%PDF"
            win = c.get(
                f"/api/recordings/{rec['id']}/window", params={"start": 0, "duration": 20, "max_points": 1000}, headers=auth
            )
            assert win.status_code == 200 and len(win.json()["times"]) <= 1000
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for out in files:
            out.close()
