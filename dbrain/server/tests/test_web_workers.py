"""``dbrain serve --web-workers N``: several web processes, one login throttle shared through redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

httpx = pytest.importorskip("httpx2")
psutil = pytest.importorskip("psutil")

from .test_live import _free_port, _wait  # noqa: E402

PASSWORD = "a long admin password"


def _stop(server: subprocess.Popen) -> None:
    """Stop a ``dbrain serve`` (SIGTERM; killed after 30 s)."""
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def test_web_workers_need_a_chosen_login_storage(tmp_path):
    env = {**os.environ, "DBRAIN_HOME": str(tmp_path)}
    for args, message in (
        (["--web-workers", "2"], "--web-workers 2 needs --login-storage"),
        (["--web-workers", "0"], "--web-workers must be between 1 and 64"),
        (["--web-workers", "2", "--login-storage", "ftp://x"], "--login-storage must be memory:// or a redis:// URL"),
    ):
        cmd = [sys.executable, "-m", "dbrain", "serve", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", *args]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and "Traceback" not in run.stderr


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt install redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )

    def up():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        _wait(up, 20, "redis-server")
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_two_web_processes_share_one_login_throttle(tmp_path, redis_url):
    import redis

    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    made = subprocess.run(
        [sys.executable, "-m", "dbrain", "admin", "create-user", "--username", "ada", "--site", "Site A", "--role", "clinician", "--db", db],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = _free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "dbrain", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0", "--db", db]
    cmd += ["--web-workers", "2", "--login-storage", redis_url, "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy():
            if server.poll() is not None:
                raise AssertionError(f"dbrain serve exited: {log.read_text()}")
            try:
                return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait(healthy, 90, "dbrain serve --web-workers 2")
        # uvicorn's supervisor plus two web processes (each started from the import string).
        _wait(lambda: len(psutil.Process(server.pid).children(recursive=True)) >= 2, 30, "two web processes")
        # Wrong passwords, each on a new connection (the kernel spreads them over both processes) and from
        # one forwarded client address: the account is locked after 5, whichever process counted them.
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        codes = []
        for _ in range(5):
            r = httpx.post(
                f"{base}/api/auth/login",
                json={"username": "ada", "password": "wrong password 123"},
                headers=forwarded,
                timeout=30,
            )
            codes.append(r.status_code)
        assert codes == [401] * 5
        right = httpx.post(
            f"{base}/api/auth/login", json={"username": "ada", "password": PASSWORD}, headers=forwarded, timeout=30
        )
        assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
        keys = redis.Redis.from_url(redis_url).keys("*dbrain-login*")
        assert keys, "the throttle's counters are not in redis"
        time.sleep(int(right.headers["Retry-After"]) + 0.5)
        ok = httpx.post(f"{base}/api/auth/login", json={"username": "ada", "password": PASSWORD}, headers=forwarded, timeout=30)
        assert ok.status_code == 200, ok.text
        # Live ward and neurofeedback data live in one process's memory: refused clearly, never half-served.
        for path in ("/api/ward/beds", "/api/nfb/courses", "/ward"):
            live = httpx.get(f"{base}{path}", cookies=ok.cookies, timeout=30)
            assert live.status_code == 503 and "one web process" in live.json()["detail"], (path, live.text)
    finally:
        _stop(server)
    assert "Traceback" not in log.read_text()


def test_a_burst_of_connections_is_spread_over_the_web_processes(tmp_path):
    """200 clients connecting at one instant were all accepted by one of two web processes (one shared socket):
    with a listening socket per process (SO_REUSEPORT) the kernel spreads them over both."""
    import http.client
    import threading

    from dbrain.cli.serve import REUSE_PORT

    if not REUSE_PORT:
        pytest.skip("SO_REUSEPORT spreads connections on Linux only")
    home = tmp_path / "home"
    port = _free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "dbrain", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0"]
    cmd += ["--db", f"sqlite:///{home / 'dbrain.sqlite'}", "--web-workers", "2", "--login-storage", "memory://"]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, env={**os.environ, "DBRAIN_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT)
    n = 64
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(n)]
    try:

        def both_listening():
            if server.poll() is not None:
                raise AssertionError(f"dbrain serve exited: {log.read_text()}")
            kids = psutil.Process(server.pid).children(recursive=True)
            listening = [
                k for k in kids if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in k.net_connections("tcp"))
            ]
            return len(listening) == 2

        _wait(both_listening, 120, "two web processes listening")
        start = threading.Barrier(n)
        codes = []

        def client(conn):
            start.wait()  # connect at one instant, as the benchmark's clients do
            conn.request("GET", "/api/health")
            resp = conn.getresponse()
            resp.read()
            codes.append(resp.status)  # the connection stays open (keep-alive)

        threads = [threading.Thread(target=client, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert codes == [200] * n
        held = []
        for kid in psutil.Process(server.pid).children(recursive=True):
            held.append(
                sum(1 for c in kid.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
            )
        held = sorted(h for h in held if h)
        # A hash of the addresses decides: about 32 each (fewer than 16 on one side: odds below 1 in 10,000).
        assert len(held) == 2 and sum(held) == n and held[0] >= 16, held
        # A second service started on the same port is refused (SO_REUSEPORT must not let it share the port).
        other = tmp_path / "other"
        second = subprocess.run(
            [*cmd[:10], "--db", f"sqlite:///{other / 'dbrain.sqlite'}", "--web-workers", "2", "--login-storage", "memory://"],
            env={**os.environ, "DBRAIN_HOME": str(other)}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
    finally:
        for conn in conns:
            conn.close()
        _stop(server)
    assert "Traceback" not in log.read_text()


def test_routes_are_built_before_the_first_request_and_nothing_is_touched(tmp_path):
    """dbrain serve asks its app for a path no route matches before serving (FastAPI then builds every route's
    state, which the first requests of a new web process paid for): a 404 that writes nothing, after which the
    app serves as before (its admission gate moves to the server's event loop)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from dbrain.cli.serve import _build_routes
    from dbrain.server import Settings, create_app
    from dbrain.server.db import AuditEvent

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'dbrain.sqlite'}", home=tmp_path))

    def audit_rows():
        with app.state.sessionmaker() as db:
            return db.scalar(select(func.count()).select_from(AuditEvent))

    before = audit_rows()
    assert _build_routes(app) == [404, 401]
    assert audit_rows() == before
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/recordings").status_code == 401
