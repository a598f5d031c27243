"""A progress bar for long commands, on stderr so stdout stays machine-readable."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def progress_bar(description: str, total: float = 1.0):
    """Yield a callback ``update(fraction_done)``; the bar shows after a second.

    Rich draws nothing when stderr is not a terminal, so scripts and CI logs
    stay clean.
    """
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, refresh_per_second=4) as bar:
        task = bar.add_task(description, total=total)

        def update(done: float, text: str | None = None):
            bar.update(task, completed=min(done, total), description=text or description)

        yield update
