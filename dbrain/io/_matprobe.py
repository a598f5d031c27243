"""MAT files (EEGLAB ``.set``) are parsed in a child process, never in dbrain's.

A one-bit change of a real EEGLAB ``.set`` makes SciPy's MAT-5 reader end the
process with a segmentation fault or a bus error (found by
``benchmarks/fuzz.py``), which no ``except`` can catch. Worse, the same file
sometimes only raises a Python error and leaves the heap damaged, and the
process crashes later: loading a file in a child first ("probing") and then
again in dbrain's process did not contain it (fuzzing, session 6).

So dbrain's process never parses a MAT file. MNE's EEGLAB reader gets the
parsed structure from a child process (:func:`install` points MNE's
``_readmat`` here; the ``.fdt`` samples are plain numbers and are still read
by MNE). The child is a long-lived *fork server*: it imports the reader once
and, for each file, forks a fresh process that parses it, sends the result
back and exits — so a damaged file can corrupt only that one process, and
no file is parsed by a process another file has touched. The server is
started again after it died, timed out, or when dbrain's process is a fork
of the one that started it. Each fork's address space is limited (its size
+ 1 GiB + 8 times the file's), so a header that makes the reader allocate
without bound ends in a MemoryError in that fork, not in the machine
running out of memory.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import CorruptRecordingError

#: Seconds a MAT file may take to parse before the reader is killed.
MAT_PROBE_SECONDS = 120

# The fork server. Per request (one JSON line): fork; the fork parses the file and writes
# "R <n>\n" + n bytes (a pickle of ("ok", result) or ("error", message)) and exits; the
# server then writes "X <status>\n" (the fork's exit code, or minus the signal that ended it).
_SERVER = """
import json, os, pickle, sys, warnings
warnings.simplefilter("ignore")
from mne.io.eeglab._eeglab import _readmat
# imported here once, not in every fork (MNE imports the MAT readers on first use)
import scipy.io.matlab, pymatreader, mne.fixes
from mne.utils import _import_pymatreader_funcs
_import_pymatreader_funcs("EEGLAB I/O")
import resource
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            # A hostile header can make the reader allocate without bound (fuzzing, session 7: a 1.5-kB
            # file took 6 GB and counting); the fork may grow by 1 GiB + 8 times the file's size, then
            # the allocation fails (a MemoryError) instead of the machine running out of memory.
            try:
                with open("/proc/self/statm") as statm:
                    size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
                limit = size + (1 << 30) + 8 * os.path.getsize(req["path"])
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            except (OSError, ValueError):
                pass  # no /proc or no RLIMIT_AS here: unlimited, as before
            try:
                result = ("ok", _readmat(req["path"], uint16_codec=req["uint16_codec"], preload=req["preload"]))
            except Exception as exc:
                result = ("error", str(exc) or type(exc).__name__)
            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        out.write(b"R %d\\n" % len(payload) + payload)
        out.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    out.write(b"X %d\\n" % code)
    out.flush()
"""


class MatFileError(ValueError):
    """The MAT reader raised a Python error on the file (its message kept)."""


def _close(proc: subprocess.Popen) -> int:
    """Kill an ended (or hung) server and its fork, close its pipes, reap it; return its exit code."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the server and a fork still parsing
        except ProcessLookupError:
            pass
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:
            pass  # the server is gone: flushing its stdin fails
    return proc.wait()


class _Timeout(Exception):
    pass


class MatProbe:
    """The MAT fork server of this process (see the module docstring)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._owner = 0
        self._buf = b""
        self._lock = threading.Lock()
        #: How many servers this object started (tests: it is reused).
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None and self._owner == os.getpid() else None

    def _alive(self) -> subprocess.Popen:
        proc = self._proc
        if proc is not None and self._owner == os.getpid() and proc.poll() is not None:
            _close(proc)  # died between two files (killed from outside)
            proc = None
        if proc is None or self._owner != os.getpid():
            # never reuse a forked parent's server: both processes would write to its stdin
            proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                start_new_session=True,  # its own process group: a timeout kills the fork too
            )
            self._proc, self._owner, self._buf = proc, os.getpid(), b""
            self.starts += 1
        return proc

    def _stop(self) -> None:
        proc = self._proc
        self._proc = None
        if proc is not None and self._owner == os.getpid():
            _close(proc)

    def _fill(self, proc: subprocess.Popen, deadline: float) -> bool:
        """Read more of the server's output; False at end of file."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise _Timeout
        chunk = os.read(proc.stdout.fileno(), 1 << 20)
        self._buf += chunk
        return bool(chunk)

    def _line(self, proc, deadline) -> bytes:
        while b"\n" not in self._buf:
            if not self._fill(proc, deadline):
                return b""
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _exact(self, proc, deadline, n: int) -> bytes | None:
        while len(self._buf) < n:
            if not self._fill(proc, deadline):
                return None
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def load(self, path, uint16_codec=None, preload=False, seconds: float = MAT_PROBE_SECONDS):
        """Parse a MAT file (MNE's ``_readmat``) in a fresh fork of the server.

        Parameters
        ----------
        path : path-like
            The MAT file (an EEGLAB ``.set``).
        uint16_codec : str | None
            As MNE's ``read_raw_eeglab``.
        preload : bool
            As MNE's ``_readmat`` (False: the samples are not loaded).
        seconds : float
            Time the parse may take; the server is killed after that.

        Returns
        -------
        mat : dict
            What MNE's ``_readmat`` returns.

        Raises
        ------
        dbrain.errors.CorruptRecordingError
            When the parse crashed its process (a signal) or took too long.
        MatFileError
            When the reader raised a Python error (its message kept).
        """
        path = Path(path)
        with self._lock:
            deadline = time.monotonic() + seconds
            proc = self._alive()
            request = {"path": str(path.resolve()), "uint16_codec": uint16_codec, "preload": bool(preload)}
            payload, line = None, b""
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                line = self._line(proc, deadline)
                if line.startswith(b"R "):
                    payload = self._exact(proc, deadline, int(line[2:]))
                    line = self._line(proc, deadline) if payload is not None else b""
            except _Timeout:
                self._stop()
                raise CorruptRecordingError(
                    f"cannot read '{path.name}': reading its MAT data took more than {seconds:g} s (MAT_PROBE_SECONDS)"
                ) from None
            except (BrokenPipeError, OSError, ValueError):
                line = b""
            if not line.startswith(b"X "):
                self._stop()
                raise CorruptRecordingError(f"cannot read '{path.name}': the MAT-file reader ended unexpectedly")
            code = int(line[2:])
            if code < 0:
                try:
                    what = signal.Signals(-code).name
                except ValueError:
                    what = f"signal {-code}"
                raise CorruptRecordingError(
                    f"cannot read '{path.name}': the file is damaged (the MAT-file reader crashed on it: {what})"
                )
            if payload is None:
                raise CorruptRecordingError(f"cannot read '{path.name}': the MAT-file reader ended unexpectedly (exit {code})")
        status, value = pickle.loads(payload)  # written by our own fork, not by the file
        if status == "ok":
            return value
        raise MatFileError(value)

    def probe(self, path, seconds: float = MAT_PROBE_SECONDS) -> None:
        """Parse ``path`` whole and drop the result; raise as :meth:`load` (Python errors included)."""
        self.load(path, preload=True, seconds=seconds)


_PROBE = MatProbe()
atexit.register(_PROBE._stop)


def _readmat(fname, uint16_codec=None, *, preload=False):
    """MNE's ``mne.io.eeglab._eeglab._readmat``, run in the fork server."""
    return _PROBE.load(fname, uint16_codec=uint16_codec, preload=preload)


def install() -> None:
    """Make MNE's EEGLAB reader parse MAT files in the fork server (idempotent).

    MNE's ``read_raw_eeglab`` (also when reached through mne-bids) parses the
    ``.set`` by calling the module-level name ``_readmat`` of
    ``mne.io.eeglab.eeglab``, at opening and again when embedded samples are
    first read; that name is pointed at :func:`_readmat`.

    Raises
    ------
    RuntimeError
        When this MNE has no such function (a newer layout): dbrain then
        refuses EEGLAB files rather than parse them in its own process.
    """
    from mne.io.eeglab import eeglab

    if getattr(eeglab, "_readmat", None) is _readmat:
        return
    if not callable(getattr(eeglab, "_readmat", None)):
        raise RuntimeError("this MNE version has no mne.io.eeglab.eeglab._readmat; dbrain cannot contain MAT-file crashes")
    eeglab._readmat = _readmat
