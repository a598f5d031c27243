"""``dbrain serve``: the data-centre web service (FastAPI on uvicorn)."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    db: str = typer.Option(None, "--db", help="Database URL (default: $DBRAIN_DATABASE_URL or SQLite under $DBRAIN_HOME)."),
    insecure_cookies: bool = typer.Option(
        False, "--insecure-cookies", help="Send the session cookie over plain HTTP too (only behind a TLS-terminating proxy on a trusted network)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    workers: int = typer.Option(1, "--workers", help="'dbrain worker' processes to start beside the web process (0: run them yourself)."),
):
    """Run the data-centre web service (and, by default, one analysis worker process beside it)."""
    import os
    import subprocess
    import sys

    from ..errors import ParameterError
    from ..server import Settings, create_app  # says which extra is missing before anything else

    if workers < 0:
        raise ParameterError(f"--workers must be 0 or more, got {workers}")
    import uvicorn
    settings = Settings(db_url=db, cookie_secure=not insecure_cookies)
    app = create_app(settings)  # creates or migrates the database first
    typer.echo(f"dbrain data centre on http://{host}:{port} (database {_safe(settings.db_url)}, objects in {settings.home})", err=True)
    env = {**os.environ, "DBRAIN_HOME": str(settings.home)}
    # Workers are separate processes: analyses never run in the web process.
    # uvicorn re-raises SIGTERM/SIGINT after shutting down, so this process may end before the
    # finally below; the workers then notice their parent is gone and stop after their job.
    cmd = [sys.executable, "-m", "dbrain", "worker", "--db", settings.db_url, "--parent-pid", str(os.getpid())]
    procs = [subprocess.Popen(cmd, env=env) for _ in range(workers)]
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)
    finally:
        for proc in procs:
            proc.terminate()  # SIGTERM: each finishes its current job, then exits
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _safe(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<url>"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
