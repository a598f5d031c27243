"""``dbrain worker``: run queued analyses of the data centre in this process."""

from __future__ import annotations

import typer


def worker(
    db: str = typer.Option(None, "--db", help="Database URL (default: $DBRAIN_DATABASE_URL or SQLite under $DBRAIN_HOME)."),
    once: bool = typer.Option(False, "--once", help="Stop when the queue is empty."),
    poll: float = typer.Option(1.0, "--poll", help="Seconds between looks at an empty queue."),
    lease: float = typer.Option(30.0, "--lease", help="Seconds a job stays this worker's without a heartbeat."),
    heartbeat: float = typer.Option(5.0, "--heartbeat", help="Seconds between heartbeats (well below --lease)."),
    max_attempts: int = typer.Option(3, "--max-attempts", help="Claims before a job whose workers keep dying fails."),
    parent_pid: int = typer.Option(
        None, "--parent-pid", hidden=True, help="Stop (after the current job) when this process is gone."
    ),
):
    """Claim queued analyses and run them (SIGTERM finishes the current job first)."""
    import logging

    from ..errors import ParameterError
    from ..server import Settings, run_worker

    if not (0 < heartbeat < lease):
        raise ParameterError(f"--heartbeat ({heartbeat}) must be positive and below --lease ({lease})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings(db_url=db, lease_seconds=lease, heartbeat_seconds=heartbeat, max_attempts=max_attempts)
    run_worker(settings, poll_seconds=poll, once=once, parent_pid=parent_pid)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
