"""Load on a real data-centre server: many concurrent clients, 0 server errors, latency per endpoint kind.

A real ``dbrain serve`` (uvicorn, one web process, no analysis workers) on
127.0.0.1, on SQLite and on a throw-away PostgreSQL cluster (``initdb`` from
``/usr/lib/postgresql/*/bin``), is driven by N concurrent clients (threads,
one HTTP connection each) mixing:

* ``list``   ``GET /api/recordings``
* ``read``   ``GET /api/recordings/{id}`` and ``GET /api/recordings/{id}/annotations``
* ``window`` ``GET /api/recordings/{id}/window`` (10 s at a random start; ``--montage``, default
  referential: until the de-identification label fix of issue 15 is merged, uploads of the
  simulator's files lose their 10-20 labels and the bipolar montages answer 422)
* ``write``  ``POST /api/recordings/{id}/annotations`` and ``PATCH /api/annotations/{id}``
* ``upload`` one ``POST /api/recordings`` in the middle of the run

and prints the count of 5xx answers and transport errors (must be 0) and
p50/p95 per kind (and the pages' p95 split by when they were sent: during the
clients' start burst, the first 2 s, or later), the server's and this load generator's CPU per request
(they share the machine's cores), the throughput ceiling they imply, the
machine's load average, uvicorn's event loop and HTTP parser, and the command
to rerun. Then ``dbrain ledger verify`` must find every row vouched
for. If ``benchmarks/_login_flood.py`` exists (the login-defence benchmark),
its ``main()`` runs too. Loopback only; request count and time are bounded.

    python benchmarks/bench_server.py                     # 200 clients x 5 requests, SQLite and PostgreSQL
    python benchmarks/bench_server.py --clients 50 --backends sqlite
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("list", "read", "window", "write", "upload")
#: Seconds a client waits for one answer (then counts a transport error).
REQUEST_TIMEOUT = 60
#: Seconds after which clients send no further request (the run is bounded in time).
MAX_SECONDS = 300
#: The first answer of each failing kind and status, to say why.
FAILURES: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_url: str, home: Path) -> dict:
    """Create a site, four users with API tokens (through the data centre's own code) and seal the baseline."""
    from dbrain.server import provenance
    from dbrain.server.auth import hash_password, new_token, token_hash
    from dbrain.server.db import ApiToken, Site, User, make_engine, make_sessionmaker, migrate
    from dbrain.server.settings import Settings

    settings = Settings(db_url=db_url, home=home)
    engine = make_engine(db_url)
    migrate(engine)
    tokens = {}
    pw = hash_password("a long benchmark password")
    try:
        factory = make_sessionmaker(engine, settings)
    except TypeError:  # a dbrain from before row sealing (to measure the "before" figures)
        factory = make_sessionmaker(engine)
    record_row = getattr(provenance, "record_row", lambda *a, **k: None)
    with factory() as db:
        site = Site(name="Bench site")
        db.add(site)
        db.flush()
        for name, role in (("tech", "technologist"), ("clin", "clinician"), ("res", "researcher"), ("admin", "admin")):
            user = User(username=name, password_hash=pw, role=role, site_id=site.id)
            db.add(user)
            db.flush()
            record_row(db, "user.create", user, actor="bench")
            token = new_token("dbr_")
            db.add(ApiToken(user_id=user.id, name="bench", token_hash=token_hash(token)))
            tokens[name] = token
        db.commit()
    engine.dispose()
    getattr(provenance, "close_ledgers", lambda: None)()
    return tokens


def start_server(db_url: str, home: Path, port: int, log: Path, web_workers: int = 1) -> subprocess.Popen:
    """``dbrain serve`` on 127.0.0.1:port (``web_workers`` web processes), waited for until healthy."""
    env = {**os.environ, "DBRAIN_HOME": str(home), "PYTHONPATH": os.environ.get("PYTHONPATH", str(HERE.parent))}
    cmd = [
        sys.executable,
        "-m",
        "dbrain",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "0",
        "--db",
        db_url,
        "--log-level",
        "warning",
    ]
    if web_workers > 1:  # the login throttle is not exercised here: per-process counters are fine
        cmd += ["--web-workers", str(web_workers), "--login-storage", "memory://"]
    out = open(log, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    end = time.time() + 90
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"dbrain serve exited: {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200 and _all_listening(proc, port, web_workers):
                    proc.log_file = out
                    return proc
            finally:
                conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    proc.wait(30)
    out.close()
    raise RuntimeError("dbrain serve did not become healthy in 90 s")


def _all_listening(server: subprocess.Popen, port: int, web_workers: int) -> bool:
    """Whether every web process listens already: the first answers /api/health while the others may still be
    starting, and the clients' burst of keep-alive connections would then all stay with the first one."""
    if web_workers < 2:
        return True
    try:
        import psutil
    except ImportError:
        return True
    listening = 0
    for p in psutil.Process(server.pid).children(recursive=True):
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in p.net_connections("tcp")):
                listening += 1
        except psutil.Error:
            pass
    return listening >= web_workers


class Client:
    """One HTTP/1.1 connection with a bearer token; records (kind, status, seconds)."""

    def __init__(self, port: int, token: str, results: list, lock: threading.Lock):
        self.port, self.auth = port, {"Authorization": f"Bearer {token}"}
        self.results, self.lock = results, lock
        self.conn = None
        self.failures = FAILURES

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, kind: str, method: str, path: str, body=None, headers=None):
        t0 = time.perf_counter()
        status, data = -1, b""
        for attempt in range(2):  # a keep-alive connection the server closed: reconnect once
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
                self.conn.request(method, path, body=body, headers={**self.auth, **(headers or {})})
                resp = self.conn.getresponse()
                status, data = resp.status, resp.read()
                break
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    status = -1
        with self.lock:
            self.results.append((kind, status, time.perf_counter() - t0, t0, path))
            if status >= 400 or status < 0:
                self.failures.setdefault(f"{kind} {status}", data[:300].decode("utf-8", "replace"))
        return status, data


def server_cpu(server: subprocess.Popen) -> float | None:
    """CPU seconds (user + system) used so far by the server process and its web processes (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    proc = psutil.Process(server.pid)
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def process_cpu(server: subprocess.Popen) -> dict[int, float]:
    """CPU seconds (user + system) so far of the server process and of each of its child processes, by pid."""
    try:
        import psutil
    except ImportError:
        return {}
    out = {}
    proc = psutil.Process(server.pid)
    for p in (proc, *proc.children(recursive=True)):
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def run_load(
    port: int,
    tokens: dict,
    rec_id: int,
    duration: float,
    upload_path: Path | None,
    *,
    clients: int,
    requests: int,
    montage: str = "referential",
    seed: int = 0,
    think: float = 0.0,
) -> dict:
    """Drive ``clients`` concurrent clients of ``requests`` requests each; return counts and percentiles per kind.

    ``think`` = 0 is a closed loop (each client sends its next request as soon as the answer came: the
    issue's "200 concurrent clients" taken literally). ``think`` > 0 waits a random time (exponential, that
    mean, in seconds) before each request, the first included, as a reader does between pages: requests then
    arrive about as a Poisson stream of ``clients / think`` per second instead of all at one instant.
    """
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(clients)
    writers = ("tech", "clin")

    def client(i: int):
        rng = random.Random(seed * 1000 + i)
        who = writers[i % 2] if i % 4 < 2 else ("res" if i % 4 == 2 else "admin")
        c = Client(port, tokens[who], results, lock)
        start.wait()
        mine = []
        for _ in range(requests):
            if time.perf_counter() - began > MAX_SECONDS:
                break
            if think > 0:
                time.sleep(rng.expovariate(1.0 / think))
            kind = rng.choice(("list", "read", "window", "window", "write") if who in writers else ("list", "read", "window"))
            if kind == "list":
                c.call(kind, "GET", "/api/recordings")
            elif kind == "read":
                c.call(kind, "GET", rng.choice((f"/api/recordings/{rec_id}", f"/api/recordings/{rec_id}/annotations")))
            elif kind == "window":
                t0 = rng.uniform(0, max(0.0, duration - 10))
                c.call(kind, "GET", f"/api/recordings/{rec_id}/window?start={t0:.2f}&duration=10&montage={montage}")
            elif mine and rng.random() < 0.3:
                c.call(
                    kind,
                    "PATCH",
                    f"/api/annotations/{rng.choice(mine)}",
                    json.dumps({"description": f"edited by client {i}"}),
                    {"Content-Type": "application/json"},
                )
            else:
                onset = round(rng.uniform(0, duration), 2)
                status, data = c.call(
                    kind,
                    "POST",
                    f"/api/recordings/{rec_id}/annotations",
                    json.dumps({"onset": onset, "description": f"mark {i}"}),
                    {"Content-Type": "application/json"},
                )
                if status == 201:
                    mine.append(json.loads(data)["id"])
        c.close()
        if i == clients // 2 and upload_path is not None:
            up = Client(port, tokens["tech"], results, lock)
            up.call(
                "upload",
                "POST",
                f"/api/recordings?filename={upload_path.name}",
                upload_path.read_bytes(),
                {"Content-Type": "application/octet-stream"},
            )
            up.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    out = {
        "clients": clients,
        "requests": len(results),
        "not_sent": clients * requests + (upload_path is not None) - len(results),
        "seconds": round(wall, 1),
        "think_seconds": think,
        "server_errors": 0,
        "transport_errors": 0,
        "by_kind": {},
    }
    for kind in KINDS:
        rows = [r for r in results if r[0] == kind]
        if not rows:
            continue
        times = sorted(r[2] for r in rows)
        codes: dict[str, int] = {}
        for r in rows:
            codes[str(r[1])] = codes.get(str(r[1]), 0) + 1
        out["by_kind"][kind] = {
            "n": len(rows),
            "p50_ms": round(1000 * statistics.median(times), 1),
            "p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
            "status": codes,
        }
    out["server_errors"] = sum(1 for r in results if r[1] >= 500)
    out["transport_errors"] = sum(1 for r in results if r[1] < 0)
    out["failures"] = dict(FAILURES)
    FAILURES.clear()
    # Every request (kind, status, sent at [s from the start], seconds, path), for --raw; "began" is the start
    # on time.perf_counter's clock (system-wide on Linux), to match server-side timings.
    out["began"] = began
    out["raw"] = sorted((r[0], r[1], round(r[3] - began, 4), round(r[2], 4), r[4]) for r in results)
    # The pages sent while the clients' first burst (all connect and send at one instant) is served, and after.
    for name, sel in (("first_2s", lambda r: r[3] - began < 2), ("after_2s", lambda r: r[3] - began >= 2)):
        times = sorted(r[2] for r in results if r[0] == "window" and sel(r))
        if times:
            out[f"window_sent_{name}"] = {
                "n": len(times),
                "p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
            }
    return out


def run_solo(port: int, token: str, rec_id: int, duration: float, n: int, montage: str = "referential") -> dict:
    """One client, ``n`` window requests in a row: the service time without queueing."""
    results: list = []
    c = Client(port, token, results, threading.Lock())
    rng = random.Random(7)
    for _ in range(n):
        t0 = rng.uniform(0, max(0.0, duration - 10))
        c.call("window", "GET", f"/api/recordings/{rec_id}/window?start={t0:.2f}&duration=10&montage={montage}")
    c.close()
    times = sorted(r[2] for r in results)
    return {
        "n": n,
        "p50_ms": round(1000 * statistics.median(times), 1),
        "p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "errors": sum(1 for r in results if r[1] != 200),
    }


def upload_file(port: int, token: str, path: Path) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "POST",
        f"/api/recordings?filename={path.name}",
        body=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
    )
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 201:
        raise RuntimeError(f"upload failed: {resp.status} {data[:300]!r}")
    return json.loads(data)


def run_backend(
    db_url: str,
    home: Path,
    edf: Path,
    second: Path | None,
    *,
    clients: int,
    requests: int,
    montage: str = "referential",
    solo_requests: int = 0,
    web_workers: int = 1,
    think: tuple[float, ...] = (0.0,),
) -> dict:
    """Prepare, serve, load (once per think time; the upload in the first), stop, verify; one backend."""
    tokens = prepare(db_url, home)
    port = _free_port()
    server = start_server(db_url, home, port, home / "serve.log", web_workers)
    try:
        rec = upload_file(port, tokens["tech"], edf)
        solo = run_solo(port, tokens["res"], rec["id"], rec["duration"], solo_requests, montage) if solo_requests else None
        runs = []
        for i, t in enumerate(think):
            one = dict(clients=clients, requests=requests, montage=montage, think=t, seed=i)
            cpu0, client0, load0 = server_cpu(server), time.process_time(), os.getloadavg()[0]
            each0 = process_cpu(server)
            runs.append(run_load(port, tokens, rec["id"], rec["duration"], second if i == 0 else None, **one))
            n = max(runs[-1]["requests"], 1)
            # The load generator runs on the same cores: its own CPU (this process's threads) is measured too.
            runs[-1]["client_cpu_ms_per_request"] = round(1000 * (time.process_time() - client0) / n, 2)
            runs[-1]["load_average"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            if cpu0 is not None:  # the server's own CPU per request: comparable between loaded and quiet machines
                runs[-1]["server_cpu_ms_per_request"] = round(1000 * (server_cpu(server) - cpu0) / n, 2)
            # How the work was spread over the web processes (busiest first): one process doing all of it leaves
            # the other cores to the rest of the machine.
            each = process_cpu(server)
            spread = sorted((each[pid] - each0.get(pid, 0.0) for pid in each), reverse=True)
            runs[-1]["process_cpu_seconds"] = [round(x, 2) for x in spread if x >= 0.05]
        out = {**runs[0], "more_runs": runs[1:]}
    finally:
        server.terminate()
        server.wait(30)
        server.log_file.close()
    env = {**os.environ, "DBRAIN_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "dbrain", "ledger", "seal", "--db", db_url], env=env, capture_output=True, text=True, timeout=300
    )
    ver = subprocess.run(
        [sys.executable, "-m", "dbrain", "ledger", "verify", "--db", db_url, "--no-files"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out["solo_window"] = solo
    out["web_workers"] = web_workers
    out["requests_per_second"] = round(out["requests"] / max(out["seconds"], 1e-9), 1)
    out["ledger_verify_exit"] = ver.returncode
    out["ledger_verify"] = (ver.stdout.strip().splitlines() or [""])[-1][:300]
    errors = [line for line in (home / "serve.log").read_text().splitlines() if "Traceback" in line or "internal error" in line]
    out["server_log_errors"] = len(errors)
    return out


def postgres_cluster(base: Path):
    """Start a throw-away PostgreSQL 15 cluster on 127.0.0.1; return (url, stop function) or None."""
    import glob
    import shutil

    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    bindir = next((Path(d) for d in bindirs if (Path(d) / "initdb").exists()), None)
    if bindir is None:
        return None
    kw: dict = {"capture_output": True, "text": True, "timeout": 120}
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        try:
            entry = next(pwd.getpwnam(n) for n in ("postgres", "dbrain-pg") if _has_user(n))
        except StopIteration:
            return None
        os.chown(base, entry.pw_uid, entry.pw_gid)
        kw |= {
            "user": entry.pw_uid,
            "group": entry.pw_gid,
            "extra_groups": [],
            "env": {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        }
    data, port = base / "data", _free_port()
    if subprocess.run(
        [bindir / "initdb", "-D", data, "-U", "dbrain", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], cwd=base, **kw
    ).returncode:
        return None
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c max_connections=200"
    if subprocess.run(
        [bindir / "pg_ctl", "-D", data, "-l", base / "server.log", "-o", opts, "-w", "-t", "60", "start"], cwd=base, **kw
    ).returncode:
        return None

    def stop():
        subprocess.run([bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], cwd=base, **kw)
        shutil.rmtree(base, ignore_errors=True)

    import pg8000.native

    conn = pg8000.native.Connection("dbrain", host="127.0.0.1", port=port, database="postgres")
    conn.run("CREATE DATABASE bench")
    conn.close()
    return f"postgresql://dbrain@127.0.0.1:{port}/bench", stop


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def patient_field(path: Path, text: str) -> None:
    """Set the EDF header's patient field (the simulator's 'Simulated_EEG' trips the label bug of issue 15)."""
    with open(path, "r+b") as fid:
        fid.seek(8)
        fid.write(text.encode("ascii").ljust(80))


def login_flood() -> dict | None:
    """Run ``benchmarks/_login_flood.py``'s ``main()`` (its default settings) when that benchmark exists."""
    path = HERE / "_login_flood.py"
    if not path.is_file():
        print("login flood: skipped (benchmarks/_login_flood.py is not in this tree)")
        return None
    spec = importlib.util.spec_from_file_location("_login_flood", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([])  # its own defaults (20 flood threads); this script's arguments are not its own


def environment(argv) -> dict:
    """What the figures depend on besides the code: cores, load, and uvicorn's event loop and HTTP parser."""
    import importlib
    import platform

    import uvicorn

    def importable(name: str) -> bool:
        try:
            importlib.import_module(name)
        except ImportError:
            return False
        return True

    args = sys.argv[1:] if argv is None else list(argv)
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        # dbrain serve leaves uvicorn on "auto": uvloop and httptools when installed (the server extra has them).
        "loop": "uvloop" if importable("uvloop") else "asyncio",
        "http": "httptools" if importable("httptools") else "h11",
        "rerun": "PYTHONPATH=$PWD python benchmarks/bench_server.py " + " ".join(args),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5, help="Requests per client.")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--duration", default="10min", help="Length of the simulated recording the windows are read from.")
    parser.add_argument(
        "--montage", default="referential", choices=("referential", "average", "double-banana", "transverse", "laplacian")
    )
    parser.add_argument(
        "--solo", type=int, default=30, help="Window requests of one client alone first (service time, no queueing)."
    )
    parser.add_argument("--web-workers", type=int, default=1, help="Web processes of dbrain serve (--web-workers).")
    parser.add_argument(
        "--think",
        default="0",
        help="Mean think time between a client's requests, seconds; comma-separated for several runs on one server "
        "(0 = closed loop, the figure of the issue). E.g. --think 0,2",
    )
    parser.add_argument("--no-login-flood", action="store_true", help="Skip the login-flood benchmark.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--raw", type=Path, help="Write every request (kind, status, sent at, seconds, path) of every run to this JSON file."
    )
    args = parser.parse_args(argv)
    # A SIGTERM (e.g. from timeout) unwinds normally, so the server and the PostgreSQL cluster are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(HERE))
    from _common import simulate_edf

    think = tuple(float(t) for t in args.think.split(","))

    results = {}
    with tempfile.TemporaryDirectory(prefix="dbrain-bench-server-") as tmp:
        tmp = Path(tmp)
        edf, second = tmp / "load.edf", tmp / "second.edf"
        simulate_edf(edf, args.duration, seed=1, seizures=1, spikes=10)
        simulate_edf(second, "5min", seed=2, seizures=1, spikes=5)
        for path in (edf, second):
            patient_field(path, "BENCH-1 X X Bench_Patient")
        for backend in args.backends.split(","):
            home = tmp / backend
            home.mkdir()
            if backend == "sqlite":
                results[backend] = run_backend(
                    f"sqlite:///{home / 'dbrain.sqlite'}",
                    home,
                    edf,
                    second,
                    clients=args.clients,
                    requests=args.requests,
                    montage=args.montage,
                    solo_requests=args.solo,
                    web_workers=args.web_workers,
                    think=think,
                )
            elif backend == "postgresql":
                pg = postgres_cluster(Path(tempfile.mkdtemp(prefix="dbrain-bench-pg-")))
                if pg is None:
                    print("postgresql: skipped (no initdb / server user)")
                    continue
                url, stop = pg
                try:
                    results[backend] = run_backend(
                        url,
                        home,
                        edf,
                        second,
                        clients=args.clients,
                        requests=args.requests,
                        montage=args.montage,
                        solo_requests=args.solo,
                        web_workers=args.web_workers,
                        think=think,
                    )
                finally:
                    stop()
            else:
                raise SystemExit(f"unknown backend {backend!r} (sqlite, postgresql)")
    flood = None if args.no_login_flood else login_flood()
    results["environment"] = environment(argv)
    if flood is not None:
        results["login_flood"] = flood
    raw = {
        backend: [run.pop("raw", None) for run in (r, *r.get("more_runs", []))]
        for backend, r in results.items()
        if backend not in ("login_flood", "environment")
    }
    if args.raw is not None:
        args.raw.write_text(json.dumps(raw))
    if args.json:
        print(json.dumps(results, indent=2))
    env = results["environment"]
    print(
        f"\nmachine: {env['cpus']} CPUs, load average at the end {env['load_average']}; python {env['python']}; "
        f"uvicorn {env['uvicorn']} with loop={env['loop']}, http={env['http']}"
    )
    print(f"rerun: {env['rerun']}")
    for backend, r in results.items():
        if backend in ("login_flood", "environment"):
            continue
        print(
            f"\n{backend}: {r['clients']} clients, {r['requests']} requests in {r['seconds']} s; "
            f"5xx {r['server_errors']}, transport errors {r['transport_errors']}, server log errors {r['server_log_errors']}; "
            f"ledger verify exit {r['ledger_verify_exit']}"
        )
        if r.get("solo_window"):
            so = r["solo_window"]
            print(
                f"  one client alone: window p50 {so['p50_ms']} ms, p95 {so['p95_ms']} ms ({so['n']} requests, {so['errors']} errors)"
            )
        for run in (r, *r.get("more_runs", [])):
            mode = "closed loop" if not run["think_seconds"] else f"think time {run['think_seconds']} s (mean, exponential)"
            print(
                f"  {r['web_workers']} web process(es), {mode}: {run['requests']} requests in {run['seconds']} s, "
                f"{run['requests'] / max(run['seconds'], 1e-9):.1f} requests/s; 5xx {run['server_errors']}, "
                f"transport errors {run['transport_errors']}"
                + (f"; server CPU {run['server_cpu_ms_per_request']} ms/request" if "server_cpu_ms_per_request" in run else "")
                + f"; client CPU {run['client_cpu_ms_per_request']} ms/request; load average {run['load_average'][0]} -> "
                f"{run['load_average'][1]}"
            )
            if run.get("process_cpu_seconds"):
                print(f"  CPU seconds of each server process during the run (busiest first): {run['process_cpu_seconds']}")
            if "server_cpu_ms_per_request" in run and not run["think_seconds"]:
                cpu = run["server_cpu_ms_per_request"] + run["client_cpu_ms_per_request"]
                cores = os.cpu_count() or 1
                print(
                    f"  ceiling on {cores} cores at {cpu:.2f} ms CPU/request (server + client): "
                    f"{1000 * cores / cpu:.0f} requests/s; the closed loop's p95 is about clients / throughput, so "
                    f"p95 <= 250 ms for {r['clients']} clients needs about {r['clients'] / 0.25:.0f} requests/s"
                )
            print(f"  {'kind':<8} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}  status")
            for kind, k in run["by_kind"].items():
                print(f"  {kind:<8} {k['n']:>5} {k['p50_ms']:>9} {k['p95_ms']:>9}  {k['status']}")
            if "window_sent_first_2s" in run and "window_sent_after_2s" in run:
                a, b = run["window_sent_first_2s"], run["window_sent_after_2s"]
                print(
                    f"  window p95 by when it was sent: in the first 2 s (the clients' start burst) {a['p95_ms']} ms "
                    f"({a['n']} pages), later {b['p95_ms']} ms ({b['n']} pages)"
                )
            for what, detail in run["failures"].items():
                print(f"  first {what}: {detail}")
    return results


if __name__ == "__main__":
    main()
