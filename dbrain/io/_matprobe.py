"""A long-lived child process that loads MAT files before dbrain does.

A one-bit change of a real EEGLAB ``.set`` makes SciPy's MAT-5 reader end the
process with a segmentation fault (found by ``benchmarks/fuzz.py``), which no
``except`` can catch. Every MAT file is therefore first loaded (pymatreader)
in a child process: if the child dies, dbrain does not. The child is started
once and kept (one interpreter start-up per process, not per file); it is
started again after it died by a signal, timed out, or when this process is a
fork of the one that started it.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import CorruptRecordingError

#: Seconds a damaged MAT file may keep the probe process busy.
MAT_PROBE_SECONDS = 120

# The child: one JSON path per line in, "ok"/"error" per line out; it ends when stdin closes.
_CHILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from pymatreader import read_mat
out = sys.stdout
sys.stdout = sys.stderr
for line in sys.stdin:
    try:
        read_mat(json.loads(line))
        out.write("ok\\n")
    except BaseException:
        out.write("error\\n")
    out.flush()
"""


def _close(proc: subprocess.Popen) -> int:
    """Close the pipes of an ended (or killed) child and reap it; return its exit code."""
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:
            pass  # the child is gone: flushing its stdin fails
    return proc.wait()


class MatProbe:
    """The probe child process of this process (see the module docstring)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._owner = 0
        self._lock = threading.Lock()
        #: How many child processes this object started (tests: it is reused).
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """Process id of the running child, or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None and self._owner == os.getpid() else None

    def _start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._proc, self._owner = proc, os.getpid()
        self.starts += 1
        return proc

    def _alive(self) -> subprocess.Popen:
        proc = self._proc
        if proc is not None and self._owner == os.getpid() and proc.poll() is not None:
            _close(proc)  # died between two files (killed from outside)
            proc = None
        if proc is None or self._owner != os.getpid():
            # never reuse a forked parent's child: both processes would write to its stdin
            proc = self._start()
        return proc

    def _stop(self) -> None:
        proc = self._proc
        self._proc = None
        if proc is not None and self._owner == os.getpid():
            if proc.poll() is None:
                proc.kill()
            _close(proc)

    def _reply(self, proc: subprocess.Popen, deadline: float) -> str:
        """One line from the child, '' when it died, None when the deadline passed."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                return proc.stdout.readline()

    def probe(self, path: Path, seconds: float = MAT_PROBE_SECONDS) -> None:
        """Load ``path`` in the child; raise if that crashed or hung the child.

        Parameters
        ----------
        path : Path
            A MAT file (an EEGLAB ``.set``).
        seconds : float
            Time the child may take; it is killed after that.

        Raises
        ------
        dbrain.errors.CorruptRecordingError
            When the child died by a signal or took longer than ``seconds``.
            Python errors of the reader are not raised here: the real read
            words them.
        """
        with self._lock:
            deadline = time.monotonic() + seconds
            proc = self._alive()
            try:
                proc.stdin.write(json.dumps(str(Path(path).resolve())) + "\n")
                proc.stdin.flush()
                # exactly one line per request, so nothing is ever left in the reader's buffer for select to miss
                answer = self._reply(proc, deadline)
            except (BrokenPipeError, OSError):
                answer = ""
            if answer is None:
                self._stop()
                raise CorruptRecordingError(
                    f"cannot read '{path.name}': reading its MAT data took more than {seconds:g} s (MAT_PROBE_SECONDS)"
                )
            if answer in ("ok\n", "error\n"):
                return
            # EOF: the child died while loading this file
            code = _close(proc)
            self._proc = None
            if code < 0:
                try:
                    what = signal.Signals(-code).name
                except ValueError:
                    what = f"signal {-code}"
                raise CorruptRecordingError(
                    f"cannot read '{path.name}': the file is damaged (the MAT-file reader crashed on it: {what})"
                )
            raise CorruptRecordingError(f"cannot read '{path.name}': the MAT-file reader ended unexpectedly (exit {code})")


_PROBE = MatProbe()
atexit.register(_PROBE._stop)


def probe_mat(path: Path, seconds: float = MAT_PROBE_SECONDS) -> None:
    """Load a MAT file in this process's probe child first (see :class:`MatProbe`).

    Parameters
    ----------
    path : Path
        The MAT file.
    seconds : float
        Time limit of the load.

    Raises
    ------
    dbrain.errors.CorruptRecordingError
        When loading crashed the child (a signal) or took too long.
    """
    _PROBE.probe(path, seconds)
