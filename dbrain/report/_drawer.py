"""Draw a report's figures in a process of their own while the analysis goes on (issue 19).

``dbrain analyze`` builds each figure (a matplotlib figure) in its main thread, and drawing it to a
PNG (layout, Agg, PNG compression) costs more than building it. :class:`FigureDrawer` pickles each
:class:`~dbrain.report.Figure` block's figure and has a worker process draw it with the function
:meth:`~dbrain.report.Figure.data_uri` uses (:func:`dbrain.utils._png.png_data_uri`), so that the
figures are drawn while the steps after the single pass (``network``, ``diagnosis``, …) run.

The worker is a new interpreter (``python -m dbrain.utils._png``), not a fork of the analysis
process (which runs threads: the s5 fork deadlock) and not a :mod:`multiprocessing` child (spawn
re-runs the caller's main script in the child: a script calling ``dbrain.analyze`` without an
``if __name__ == "__main__"`` guard would run its analysis twice). It imports matplotlib and Pillow
only (~60 MB; :mod:`dbrain.report` imports MNE: ~200 MB). Pickles and PNGs go through files in a
temporary folder, job numbers and status lines through its standard input and output. A figure that
cannot be pickled is drawn in place, and one whose drawing failed (or whose worker died) is drawn in
place from its pickle when its PNG is asked for: the report is the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..utils import logger
from ..utils._png import PREFIX
from ._blocks import Figure, Section

#: Environment variable: ``0`` never draws in a process of its own, ``1`` always (when a report is made).
ENV = "DBRAIN_REPORT_PROCESS"


def wanted(default: bool) -> bool:
    """Whether to draw in a process of its own: ``default`` unless :data:`ENV` says ``0`` or ``1``.

    Never from a daemonic process (e.g. a :class:`multiprocessing.Pool` worker).
    """
    value = os.environ.get(ENV, "").strip()
    use = default if value not in ("0", "1") else value == "1"
    return use and not multiprocessing.current_process().daemon


class _Job:
    def __init__(self, drawer: FigureDrawer, n: int):
        self.drawer, self.n = drawer, n

    def result(self) -> str:
        return self.drawer._result(self.n)

    def payload(self) -> bytes:
        return self.drawer._payload(self.n)


class FigureDrawer:
    """Draws :class:`~dbrain.report.Figure` blocks in a worker process, in the order handed over.

    :meth:`submit` hands figures over; each block's :meth:`~dbrain.report.Figure.data_uri` then
    waits for its PNG. :meth:`close` when done (it waits for the figures handed over).
    """

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="dbrain-draw-")
        root = str(Path(__file__).resolve().parents[2])  # the folder holding this dbrain package
        code = f"import sys; sys.path.insert(0, {root!r}); from dbrain.utils._png import serve; serve(sys.argv[1])"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, self._dir.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._status: dict[int, str] = {}  # job -> "ok" | "error", as reported
        self._done: dict[int, str | bytes] = {}  # after close: the PNG URI, or the pickle of a failed job
        self._closed = False
        self.n_submitted = 0

    def submit(self, items) -> None:
        """Hand over every not yet drawn figure of ``items`` (sections, blocks or figures)."""
        for block in _figures(items):
            if block._draw_elsewhere(self._submit):  # noqa: SLF001 (the block's own protocol)
                self.n_submitted += 1

    def _submit(self, payload: bytes) -> _Job:
        if self._closed or self._proc.poll() is not None:
            raise RuntimeError("the drawing process is not running")
        n = self.n_submitted
        path = Path(self._dir.name) / f"{n}.pkl"
        path.write_bytes(payload)
        self._proc.stdin.write(f"{n}\n")
        self._proc.stdin.flush()
        return _Job(self, n)

    def _wait(self, n: int) -> str:
        """The status of job ``n``, reading the worker's reports until it comes ("gone": the worker ended first)."""
        while n not in self._status:
            line = self._proc.stdout.readline()
            if not line:  # the worker ended
                return "gone"
            parts = line.split()
            if len(parts) == 3 and parts[0] == PREFIX and parts[1].isdigit():
                self._status[int(parts[1])] = parts[2]
        return self._status[n]

    def _result(self, n: int) -> str:
        if n in self._done:
            value = self._done.pop(n)
            if isinstance(value, str):
                return value
            raise RuntimeError(f"figure {n} was not drawn by the drawing process")
        path = Path(self._dir.name) / f"{n}.png"
        if self._wait(n) != "ok" and not path.is_file():  # (a PNG complete before the worker died is used)
            raise RuntimeError(f"figure {n} was not drawn by the drawing process")
        uri = path.read_text(encoding="ascii")
        path.unlink()
        return uri

    def _payload(self, n: int) -> bytes:
        value = self._done.pop(n, None)
        if isinstance(value, bytes):
            return value
        return (Path(self._dir.name) / f"{n}.pkl").read_bytes()

    def close(self) -> None:
        """Let the worker draw what it was handed, stop it, and keep what it drew until asked for."""
        if self._closed:
            return
        self._closed = True
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=600)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung worker: its figures are drawn here
            self._proc.kill()
            self._proc.wait()
        folder = Path(self._dir.name)
        for path in folder.glob("*.png"):
            self._done[int(path.stem)] = path.read_text(encoding="ascii")
        for path in folder.glob("*.pkl"):  # not drawn (failed, or the worker ended): drawn here if asked for
            self._done[int(path.stem)] = path.read_bytes()
        self._proc.stdout.close()
        self._dir.cleanup()

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
    except OSError as exc:  # e.g. no interpreter to start here: draw in place
        logger.info("report figures drawn in this process: %s", exc)
        return None
