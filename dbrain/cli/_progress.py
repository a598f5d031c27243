"""A progress bar for long commands, on stderr so stdout stays machine-readable."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(description: str, total: float = 1.0):
    """Yield a callback ``update(fraction_done, text=None)``.

    The bar is drawn only when stderr is a terminal, so scripts, pipes and CI
    logs get nothing but the command's own output and its one-line errors.
    """
    if not sys.stderr.isatty():
        yield lambda done, text=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, refresh_per_second=4) as bar:
        task = bar.add_task(description, total=total)

        def update(done: float, text: str | None = None):
            bar.update(task, completed=min(done, total), description=text or description)

        yield update
