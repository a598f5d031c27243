#!/usr/bin/env python
"""Reads of one user while 20 threads flood the login with wrong passwords (issue #15).

Usage::

    python benchmarks/_login_flood.py                  # both modes, 20 flood threads, 10 s each
    python benchmarks/_login_flood.py --threads 20 --seconds 20 --reads 300

``bench_server.py`` calls :func:`main` (or :func:`measure` for the figures).

A real uvicorn server (``dbrain.server.create_app`` on SQLite, one web process)
runs on 127.0.0.1 in a subprocess of its own. A researcher reads one recording
(``GET /api/recordings/{id}``, which also writes its audit row) once every
``--interval`` seconds; the p50/p95/max of those reads are reported

* with no flood (the baseline),
* during a flood of ``--threads`` threads posting wrong passwords for one real
  account and for unknown accounts, all from 127.0.0.1, in two modes:

  - ``defended``: the shipped settings (per-client rate, lock-out): most of
    the flood is refused with 429 before any hash;
  - ``unthrottled``: throttle and lock-out disabled, so that every attempt on
    the real account costs a real Argon2 verification; what keeps reads fast
    there is the bounded verification pool alone.

Every request goes to 127.0.0.1 only; every loop stops after ``--seconds``.
Timings depend on the machine's load: rerun on a quiet machine for the
figures to publish.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "dbrain" / "data" / "sample" / "iiic_seizure_sample.edf"
PASSWORD = "correct horse battery staple"
UNTHROTTLED = {"login_client_rate": "100000000/minute", "login_free_failures": 10**9}


def app_factory():
    """The app uvicorn serves: settings from ``$DBRAIN_BENCH_SETTINGS`` (JSON)."""
    from dbrain.server import Settings, create_app

    return create_app(Settings(**json.loads(os.environ["DBRAIN_BENCH_SETTINGS"])))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(home: Path) -> tuple[str, dict]:
    """Create the database, a clinician (the flood's target) and a researcher with an API token."""
    from dbrain.server import Settings, create_app
    from dbrain.server.auth import hash_password, new_token, token_hash
    from dbrain.server.db import ApiToken, Site, User

    db_url = f"sqlite:///{home / 'dbrain.sqlite'}"
    app = create_app(Settings(db_url=db_url, home=home))
    tokens = {}
    with app.state.sessionmaker() as db:
        site = Site(name="Bench site")
        db.add(site)
        db.flush()
        pw = hash_password(PASSWORD)
        for name, role in (("clin", "clinician"), ("res", "researcher"), ("tech", "technologist")):
            user = User(username=name, password_hash=pw, role=role, site_id=site.id)
            db.add(user)
            db.flush()
            token = new_token("dbr_")
            db.add(ApiToken(user_id=user.id, name="bench", token_hash=token_hash(token)))
            tokens[name] = token
        db.commit()
    app.state.engine.dispose()
    return db_url, tokens


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def _reads(port: int, token: str, rec_id: int, n: int, interval: float, stop_at: float) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    try:
        for _ in range(n):
            if time.time() > stop_at:
                break
            t0 = time.perf_counter()
            status, _ = _request(conn, "GET", f"/api/recordings/{rec_id}", headers={"Authorization": f"Bearer {token}"})
            if status != 200:
                raise RuntimeError(f"read answered {status}")
            times.append(time.perf_counter() - t0)
            time.sleep(interval)
    finally:
        conn.close()
    return times


def _flood(port: int, stop: threading.Event, counts: dict, lock: threading.Lock, k: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i = 0
    try:
        while not stop.is_set():
            # Half the threads aim at the real account, half at unknown ones.
            user = "clin" if k % 2 == 0 else f"ghost{k}-{i}"
            body = json.dumps({"username": user, "password": f"wrong {i}"}).encode()
            try:
                status, _ = _request(conn, "POST", "/api/auth/login", body, {"Content-Type": "application/json"})
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status = "error"
            with lock:
                counts[status] = counts.get(status, 0) + 1
            i += 1
    finally:
        conn.close()


def _pct(times: list[float], q: float) -> float:
    s = sorted(times)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def measure(mode: str, *, threads: int = 20, seconds: float = 10.0, reads: int = 200, interval: float = 0.02) -> dict:
    """Serve, read without and during a login flood; return the figures (milliseconds).

    Parameters
    ----------
    mode : str
        ``'defended'`` (shipped settings) or ``'unthrottled'``.
    threads : int
        Flood threads.
    seconds : float
        Length of each phase.
    reads : int
        Most reads per phase.
    interval : float
        Pause between two reads.

    Returns
    -------
    figures : dict
    """
    with tempfile.TemporaryDirectory(prefix="dbrain-login-flood-") as tmp:
        home = Path(tmp)
        db_url, tokens = _prepare(home)
        settings = {"db_url": db_url, "home": str(home), "cookie_secure": False, **(UNTHROTTLED if mode == "unthrottled" else {})}
        port = _free_port()
        env = {
            **os.environ,
            "DBRAIN_BENCH_SETTINGS": json.dumps(settings),
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [sys.executable, "-m", "uvicorn", "_login_flood:app_factory", "--factory", "--app-dir", str(Path(__file__).parent)]
        server = subprocess.Popen([*cmd, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    if _request(conn, "GET", "/api/health")[0] == 200:
                        break
                except OSError:
                    if time.time() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.2)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status, data = _request(
                conn, "POST", "/api/recordings?filename=sample.edf", SAMPLE.read_bytes(),
                {"Authorization": f"Bearer {tokens['tech']}", "Content-Type": "application/octet-stream"},
            )  # fmt: skip
            if status != 201:
                raise RuntimeError(f"upload answered {status}: {data[:200]!r}")
            rec_id = json.loads(data)["id"]
            conn.close()
            base = _reads(port, tokens["res"], rec_id, reads, interval, time.time() + seconds)
            stop, counts, lock = threading.Event(), {}, threading.Lock()
            floods = [threading.Thread(target=_flood, args=(port, stop, counts, lock, k), daemon=True) for k in range(threads)]
            t0 = time.time()
            for t in floods:
                t.start()
            time.sleep(min(1.0, seconds / 5))
            during = _reads(port, tokens["res"], rec_id, reads, interval, time.time() + seconds)
            stop.set()
            for t in floods:
                t.join(timeout=120)
            flood_seconds = time.time() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = 1000.0
    return {
        "mode": mode,
        "threads": threads,
        "baseline_p50_ms": statistics.median(base) * ms,
        "baseline_p95_ms": _pct(base, 0.95) * ms,
        "flood_p50_ms": statistics.median(during) * ms,
        "flood_p95_ms": _pct(during, 0.95) * ms,
        "flood_max_ms": max(during) * ms,
        "reads": len(during),
        "login_attempts_per_s": sum(counts.values()) / flood_seconds,
        "login_answers": {str(k): v for k, v in sorted(counts.items(), key=str)},
    }


def main(argv: list[str] | None = None) -> list[dict]:
    """Run both modes and print a Markdown table; return the figures.

    Parameters
    ----------
    argv : list of str | None
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    figures : list of dict
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--mode", choices=["defended", "unthrottled", "both"], default="both")
    args = parser.parse_args(argv)
    modes = ["defended", "unthrottled"] if args.mode == "both" else [args.mode]
    rows = [measure(m, threads=args.threads, seconds=args.seconds, reads=args.reads, interval=args.interval) for m in modes]
    print(
        f"Login flood: {args.threads} threads of wrong passwords against one uvicorn process on 127.0.0.1 (SQLite), {os.cpu_count()} CPUs"
    )
    print()
    print(
        "| mode | reads p50 / p95 without flood (ms) | reads p50 / p95 / max during flood (ms) | reads | login attempts/s | answers |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['baseline_p50_ms']:.1f} / {r['baseline_p95_ms']:.1f} | {r['flood_p50_ms']:.1f} / {r['flood_p95_ms']:.1f} / "
            f"{r['flood_max_ms']:.1f} | {r['reads']} | {r['login_attempts_per_s']:.0f} | {r['login_answers']} |"
        )
    return rows


if __name__ == "__main__":
    main()
