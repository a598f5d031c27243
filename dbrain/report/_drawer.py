"""Draw a report's figures in a process of their own while the analysis goes on (issue 19).

``dbrain analyze`` builds each figure (a matplotlib figure) in its main thread, and drawing it to a
PNG (layout, Agg, PNG compression) costs more than building it. :class:`FigureDrawer` pickles each
:class:`~dbrain.report.Figure` block's figure and has a worker process draw it with the same function
as :meth:`~dbrain.report.Figure.data_uri` (:func:`dbrain.utils._png.png_data_uri`; the worker imports
matplotlib and Pillow only, ~60 MB, not dbrain.report and MNE, ~200 MB), so that the figures are drawn while the steps after the single
pass (``network``, ``diagnosis``, …) run. The worker is *spawned* (a new interpreter), never forked:
the analysis process runs threads (the s5 fork deadlock). A figure that cannot be pickled is drawn
in place, and a figure whose drawing failed in the worker (e.g. the worker was killed) is drawn in
place from the same pickle when its PNG is asked for: the report is the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from ..utils import logger
from ..utils._png import draw_payload, warm
from ._blocks import Figure, Section

#: Environment variable: ``0`` never draws in a process of its own, ``1`` always (when a report is made).
ENV = "DBRAIN_REPORT_PROCESS"


def wanted(default: bool) -> bool:
    """Whether to draw in a process of its own: ``default`` unless :data:`ENV` says ``0`` or ``1``.

    Never from a daemonic process (e.g. a :class:`multiprocessing.Pool` worker), which may not start one.
    """
    value = os.environ.get(ENV, "").strip()
    use = default if value not in ("0", "1") else value == "1"
    return use and not multiprocessing.current_process().daemon


class FigureDrawer:
    """Draws :class:`~dbrain.report.Figure` blocks in a spawned worker process.

    :meth:`submit` hands figures over (they are drawn in order, one process); each block's
    :meth:`~dbrain.report.Figure.data_uri` then waits for its PNG. :meth:`close` when done.
    """

    def __init__(self):
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._pool.submit(warm)
        self.n_submitted = 0

    def submit(self, items) -> None:
        """Hand over every not yet drawn figure of ``items`` (sections, blocks or figures)."""
        for block in _figures(items):
            if block._draw_elsewhere(self._pool.submit, draw_payload):  # noqa: SLF001 (the block's own protocol)
                self.n_submitted += 1

    def close(self) -> None:
        """Stop the worker (figures still pending are drawn in place when asked for)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _figures(items):
    for item in items:
        if isinstance(item, Section):
            yield from (b for b in item.blocks if isinstance(b, Figure))
        elif isinstance(item, Figure):
            yield item


def start_drawer(default: bool) -> FigureDrawer | None:
    """A :class:`FigureDrawer`, or None when not :func:`wanted` or the worker cannot be started."""
    if not wanted(default):
        return None
    try:
        return FigureDrawer()
    except (OSError, RuntimeError) as exc:  # e.g. no process may be started here: draw in place
        logger.info("report figures drawn in this process: %s", exc)
        return None
