"""Fixtures for the ledger tests: backends (memory, SQLite, a throw-away PostgreSQL) and tampering."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from dbrain.ledger import Ledger, MemoryStorage

BACKENDS = ["memory", "sqlite", "postgresql"]


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for d in candidates:
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: pick (uid, gid) of an unprivileged user, creating one if needed."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "dbrain-pg"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "dbrain-pg"], check=True, capture_output=True
    )
    entry = pwd.getpwnam("dbrain-pg")
    return entry.pw_uid, entry.pw_gid


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster on 127.0.0.1 for this test session, torn down afterwards."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; install the 'postgresql' apt package")
    pytest.importorskip("pg8000")
    user = _server_user()
    base = Path(tempfile.mkdtemp(prefix="dbrain-pg-"))  # under /tmp: reachable by the server's user
    kw = {"cwd": base, "capture_output": True, "text": True, "timeout": 120}
    as_user = []
    if user is not None:
        os.chown(base, *user)
        # setpriv, not Popen(user=...): Popen must then fork(), which runs OpenBLAS's pre-fork handler, and that
        # handler can hang joining an idle BLAS thread (seen: the whole suite stuck in blas_thread_shutdown_).
        as_user = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups", "--"]
        kw |= {"env": {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"}}
    data = base / "data"
    port = _free_port()
    proc = subprocess.run(
        [*as_user, bindir / "initdb", "-D", data, "-U", "dbrain", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], **kw
    )
    if proc.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {proc.stderr}")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    proc = subprocess.run(
        [*as_user, bindir / "pg_ctl", "-D", data, "-l", base / "server.log", "-o", opts, "-w", "-t", "60", "start"], **kw
    )
    if proc.returncode:
        log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {proc.stderr} {log}")
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "dbrain"}
    finally:
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], **kw)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """URL of a fresh, empty database on the session's PostgreSQL server."""
    import pg8000.native

    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = pg8000.native.Connection(
        postgres_server["user"], host=postgres_server["host"], port=postgres_server["port"], database="postgres"
    )
    try:
        conn.run(f"CREATE DATABASE {name}")
    finally:
        conn.close()
    return f"postgresql://{postgres_server['user']}@{postgres_server['host']}:{postgres_server['port']}/{name}"


@pytest.fixture(params=BACKENDS)
def backend_url(request, tmp_path):
    """A ledger URL for each backend."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_ledger(backend_url, tmp_path):
    """Open ledgers on ``backend_url`` (the same storage each time) and close them after the test."""
    opened = []
    memory = MemoryStorage() if backend_url == "memory://" else None

    def make(keys=None):
        ledger = Ledger(memory if memory is not None else backend_url, keys=keys)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger):
    return make_ledger()
