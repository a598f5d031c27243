"""``dbrain serve``: the data-centre web service (FastAPI on uvicorn)."""

from __future__ import annotations

import os
import socket
import sys

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    db: str = typer.Option(None, "--db", help="Database URL (default: $DBRAIN_DATABASE_URL or SQLite under $DBRAIN_HOME)."),
    insecure_cookies: bool = typer.Option(
        False,
        "--insecure-cookies",
        help="Send the session cookie over plain HTTP too (only behind a TLS-terminating proxy on a trusted network).",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    workers: int = typer.Option(
        1, "--workers", help="'dbrain worker' processes to start beside the web process (0: run them yourself)."
    ),
    web_workers: int = typer.Option(
        1, "--web-workers", help="Web (uvicorn) processes serving the API, e.g. one per core; more than 1 needs --login-storage."
    ),
    login_storage: str = typer.Option(
        None,
        "--login-storage",
        help="Where the login throttle counts: redis://HOST:6379 (shared by all web processes) or memory:// (per process).",
    ),
    proxy_headers: bool = typer.Option(
        False, "--proxy-headers", help="Take the client address and scheme from X-Forwarded-For/-Proto (behind a reverse proxy)."
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        "--forwarded-allow-ips",
        help="Proxies whose X-Forwarded-* headers are trusted (comma-separated addresses or networks).",
    ),
):
    """Run the data-centre web service (and, by default, one analysis worker process beside it)."""
    import json
    import os
    import subprocess
    import sys

    from ..errors import ParameterError
    from ..server import Settings, create_app  # says which extra is missing before anything else

    if workers < 0:
        raise ParameterError(f"--workers must be 0 or more, got {workers}")
    if not 1 <= web_workers <= 64:
        raise ParameterError(f"--web-workers must be between 1 and 64, got {web_workers}")
    if web_workers > 1 and login_storage is None:
        # Counters in each process's memory would give an attacker up to N times the attempts: choose.
        raise ParameterError(
            f"--web-workers {web_workers} needs --login-storage: redis://HOST:6379 (one throttle for all processes) "
            f"or memory:// (each process throttles alone: up to {web_workers} times the login attempts)"
        )
    if login_storage is not None and not login_storage.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        raise ParameterError(f"--login-storage must be memory:// or a redis:// URL, got {login_storage!r}")
    import uvicorn

    fields = {"db_url": db, "cookie_secure": not insecure_cookies, "web_processes": web_workers}
    if login_storage is not None:
        fields["login_storage"] = login_storage
    settings = Settings(**fields)
    _one_blas_thread()
    _warm_up()
    app = create_app(settings)  # creates or migrates the database first
    if not settings.login_storage.startswith("memory://") and not app.state.login_guard.storage.check():
        raise ParameterError(f"--login-storage {_safe(settings.login_storage)} is not reachable")
    typer.echo(
        f"dbrain data centre on http://{host}:{port} (database {_safe(settings.db_url)}, objects in {settings.home}, "
        f"{web_workers} web process{'es' if web_workers > 1 else ''})",
        err=True,
    )
    env = {**os.environ, "DBRAIN_HOME": str(settings.home)}
    # Workers are separate processes: analyses never run in the web process.
    # uvicorn re-raises SIGTERM/SIGINT after shutting down, so this process may end before the
    # finally below; the workers then notice their parent is gone and stop after their job.
    cmd = [sys.executable, "-m", "dbrain", "worker", "--db", settings.db_url, "--parent-pid", str(os.getpid())]
    procs = [subprocess.Popen(cmd, env=env) for _ in range(workers)]
    run = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
    }
    try:
        if web_workers == 1:
            _open_connections(app)
            _build_routes(app)
            uvicorn.run(app, **run)
        else:
            # uvicorn starts each web process from an import string; the settings travel in the environment.
            app.state.engine.dispose()
            os.environ[_SETTINGS_ENV] = json.dumps({**fields, "db_url": settings.db_url, "home": str(settings.home)})
            _run_web_processes(web_workers, run)
    finally:
        for proc in procs:
            proc.terminate()  # SIGTERM: each finishes its current job, then exits
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


_SETTINGS_ENV = "DBRAIN_SERVE_SETTINGS"
#: One listening socket per web process (SO_REUSEPORT), so that the kernel spreads connections over them.
REUSE_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not listening yet), as uvicorn binds one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _OwnListener:
    """Stands for the listening socket in uvicorn's supervisor: each web process binds its own when it starts.

    uvicorn hands every web process the same socket. The kernel then gives a new connection to whichever
    process calls ``accept`` first, and one process accepts a whole burst: with 200 clients connecting at
    once, one of two web processes took every connection and served every request of the benchmark (the
    other stayed idle; measured, see docs/server.md "One listening socket per web process"). With
    ``SO_REUSEPORT`` each process listens on a socket of its own on the same port, and the kernel spreads new
    connections over the listening sockets by a hash of their addresses. Unpickled in the web process (it is
    passed through ``multiprocessing``), this object becomes that process's socket; a restarted process
    binds a new one, and a dead process's socket closes with it (the supervisor holds none).
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    def __reduce__(self):
        return _bind_own, (self.host, self.port)


def _bind_own(host: str, port: int) -> socket.socket:
    """The listening socket of one web process (see :class:`_OwnListener`)."""
    return _bind(host, port, reuse_port=True)


def _run_web_processes(n: int, run: dict) -> None:
    """Serve ``app_from_environment`` in ``n`` uvicorn web processes under uvicorn's supervisor."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(f"{__name__}:app_from_environment", factory=True, workers=n, **run)
    if not REUSE_PORT:  # one shared socket (e.g. macOS, whose SO_REUSEPORT does not spread connections)
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    try:
        if config.port:
            # Another service on the port (even another dbrain serve of this user, whose SO_REUSEPORT sockets would
            # let ours join its group and split its connections): refused, as without SO_REUSEPORT.
            _bind(config.host, config.port, reuse_port=False).close()
        # Held, never listened on, for as long as the service runs: the port stays ours, and an address in use
        # fails here with one line rather than in every web process. Port 0 picks the port all processes use.
        reserved = _bind(config.host, config.port, reuse_port=True)
    except OSError as exc:
        from ..errors import ParameterError

        raise ParameterError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    with reserved:
        port = reserved.getsockname()[1]
        typer.echo(f"uvicorn on http://{config.host}:{port}: {n} web processes, one listening socket each", err=True)
        Multiprocess(config, sockets=[_OwnListener(config.host, port)]).run()


def app_from_environment():
    """The app of one web process started by ``dbrain serve --web-workers N`` (settings from the environment)."""
    import json
    import os

    from ..server import Settings, create_app

    _one_blas_thread()
    _warm_up()
    app = create_app(Settings(**json.loads(os.environ[_SETTINGS_ENV])))
    _open_connections(app)
    _build_routes(app)
    return app


def _open_connections(app) -> None:
    """Open the database connections the admitted requests will use, before the first request.

    Otherwise the first burst of requests opens them while it is served (on PostgreSQL each is a pure-Python
    pg8000 handshake, and the first one also reads the server's settings), on top of its own work.
    """
    from ..server.limits import MAX_IN_FLIGHT

    engine = app.state.engine
    size = getattr(engine.pool, "size", None)  # a bounded queue pool (an in-memory SQLite has none)
    if not callable(size):
        return
    conns = []
    try:
        for _ in range(min(MAX_IN_FLIGHT, size())):
            conns.append(engine.connect())
    finally:
        for conn in conns:
            conn.close()  # back to the pool, open


#: A path no route matches: asking for it makes the router try (and so build) every route. Then a token that
#: cannot exist (no token ends in '!'): the authentication's query runs once, finds nothing, and answers 401.
_WARM_REQUESTS = (("/api/.warm-up", []), ("/api/auth/me", [(b"authorization", b"Bearer dbr_no-such-token!")]))


def _build_routes(app) -> list[int]:
    """Let FastAPI build its per-route state now, before the first request, by asking the app for a path no
    route matches, and run the authentication's query once with a token that cannot exist; return the two
    answers' statuses (404, 401).

    FastAPI builds the state of the routes of an included router (their dependencies, parameter fields and
    response fields) lazily, when a request first reaches that router: about 40 ms of CPU for the 20 routes
    of the recordings router, paid by the first requests a new web process served (its first record read
    took 20 ms of CPU instead of 1.3), and SQLAlchemy compiles each statement once per process. The requests
    go through every middleware and the router and touch no data (no route; a refused token is not audited,
    and bearer tokens are not throttled). They run in an event loop of their own, in a thread, because
    uvicorn builds the app of a web process inside its running loop.
    """
    import asyncio
    import threading

    status = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    async def ask():
        for path, headers in _WARM_REQUESTS:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [(b"host", b"localhost"), *headers],
                "client": ("127.0.0.1", 0),
                "server": ("127.0.0.1", 0),
                "state": {},
            }
            await app(scope, receive, send)

    thread = threading.Thread(target=lambda: asyncio.run(ask()), name="dbrain-build-routes")
    thread.start()
    thread.join()
    return status


def _warm_up() -> None:
    """Prepare a web process for its first requests: imports, and the interpreter lock's switch interval.

    The first window page's imports are done now, not during the first clinician's request. The event loop
    (one thread: it accepts connections, reads requests and sends answers) takes turns at the interpreter
    lock with the request threads; with CPython's default switch interval (5 ms) it waited up to 5 ms per turn
    behind each busy request thread, and a burst of new requests reached the admission queue (where pages go
    first) hundreds of milliseconds late. 1 ms (``DBRAIN_SWITCH_INTERVAL_MS``) hands the lock over sooner.
    """
    from ..server.window import warm_up

    warm_up()
    ms = float(os.environ.get("DBRAIN_SWITCH_INTERVAL_MS", "1"))
    if ms > 0:
        sys.setswitchinterval(ms / 1000)


def _one_blas_thread() -> None:
    """One BLAS/OpenMP thread per web process: its requests already run in parallel threads.

    A viewer page multiplies a small montage matrix (~20 x 20 by 20 x 3000). With OpenBLAS's default of one
    thread per core, every such product in every request thread wakes (and spins) a team of BLAS threads;
    on a busy 2-core machine read_window's median went from 7.9 ms to 47 ms that way. Analyses run in
    ``dbrain worker`` processes, which keep their BLAS threads.
    """
    import numpy  # noqa: F401 - load the BLAS libraries the pages use, so the limit reaches them
    import scipy.linalg  # noqa: F401
    import scipy.signal  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _safe(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<url>"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
