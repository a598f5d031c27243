"""Posting frames and alarms to the data centre (``POST {url}/api/ward/beds/{bed}/updates``).

The contract with the server is in ``docs/monitor.md``. The client is the standard library's
(``urllib.request``): one small JSON POST a second needs nothing more. Posting runs in a
thread of its own, at most once a second, so the monitor never waits on or stops for the server.

What a failed post does depends on whether sending it again can succeed:

* **retryable** (no answer, a timeout, 5xx, 408 or 429): its content is kept
  for the next attempt (alarm changes are kept, up to :data:`MAX_ALARMS`;
  frames beyond the last 60 are dropped) and the next attempt waits twice as
  long as the last, up to :data:`MAX_BACKOFF` seconds (at least a 429's or
  503's ``Retry-After``); the first success resets the pace to once a second;
* **refused** (any other 4xx, e.g. 400, 401, 403, 404, 413 or 422): the
  server will refuse the same body every time, so it is dropped with an error
  in the log saying what was lost and why (sending it forever would also keep
  every later frame and alarm from reaching the ward).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import ParameterError
from ..utils import logger

MAX_FRAMES = 60
#: Alarm changes kept while the server cannot be reached (the oldest beyond are dropped, with an error).
MAX_ALARMS = 10_000
#: Longest wait between two attempts while posts fail (seconds).
MAX_BACKOFF = 60.0
#: HTTP answers worth sending the same body again for (the server may take it later).
RETRYABLE = frozenset({408, 425, 429})


def retryable(exc: BaseException) -> bool:
    """Whether a failed post may succeed when sent again (no answer, timeout, 5xx, 408, 425, 429).

    Parameters
    ----------
    exc : BaseException
        What :meth:`Poster._post` raised.

    Returns
    -------
    retry : bool
    """
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in RETRYABLE
    return True  # URLError, timeouts, resets: the server did not answer


def _retry_after(exc: BaseException) -> float:
    """Seconds a 429/503 asks the client to wait (``Retry-After`` in seconds; 0 when absent or a date)."""
    if not isinstance(exc, urllib.error.HTTPError) or exc.headers is None:
        return 0.0
    try:
        return max(0.0, float(exc.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


def read_token(path) -> str:
    """The bearer token in ``path`` (first line), or a one-line error."""
    p = Path(path)
    try:
        token = p.read_text(encoding="utf-8").strip().splitlines()[0].strip() if p.is_file() else ""
    except (OSError, UnicodeDecodeError, IndexError):
        token = ""
    if not token:
        raise ParameterError(f"--token-file {str(p)!r} is missing, unreadable or empty")
    return token


class Poster:
    """Send ``{"stream", "frames", "alarms"}`` to ``{url}/api/ward/beds/{bed}/updates`` every ``interval`` s.

    Parameters
    ----------
    url : str
        Base URL of the server (``http://host:port``).
    bed : str
        Bed identifier.
    token : str
        Bearer token.
    stream : str
        Stream name sent with each post.
    interval : float
        Seconds between posts (at least 1).
    """

    def __init__(self, url: str, bed: str, token: str, stream: str, *, interval: float = 1.0, timeout: float = 5.0):
        if not str(url).startswith(("http://", "https://")):
            raise ParameterError(f"--post must be an http(s) URL, got {url!r}")
        if not bed or "/" in bed:
            raise ParameterError(f"--bed must be a bed identifier without '/', got {bed!r}")
        self.endpoint = f"{str(url).rstrip('/')}/api/ward/beds/{bed}/updates"
        self.token, self.stream = token, stream
        self.interval = max(1.0, float(interval))
        self.timeout = float(timeout)
        self._frames: list[dict] = []
        self._alarms: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sent = self.failed = 0
        #: Posts the server refused (non-retryable 4xx) and the frames and alarm changes they held.
        self.refused = self.dropped_frames = self.dropped_alarms = 0
        #: Seconds until the next attempt: ``interval``, doubled after each retryable failure.
        self.delay = self.interval
        self._thread = threading.Thread(target=self._run, name="dbrain-post", daemon=True)
        self._thread.start()

    def frame(self, frame: dict) -> None:
        with self._lock:
            self._frames.append(frame)
            del self._frames[:-MAX_FRAMES]

    def alarm(self, alarm) -> None:
        with self._lock:
            self._alarms.append(alarm.to_json())
            self._trim_alarms()

    def _trim_alarms(self) -> None:  # under self._lock
        extra = len(self._alarms) - MAX_ALARMS
        if extra > 0:
            del self._alarms[:extra]
            self.dropped_alarms += extra
            logger.error("posting to %s: %d alarm change(s) dropped (more than %d kept unsent)", self.endpoint, extra, MAX_ALARMS)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.delay)
            self._send()
            if stopping:
                return

    def _post(self, body: dict) -> None:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(
            self.endpoint,
            data=data,
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) checked above
                response.read()
        except urllib.error.HTTPError as exc:
            try:  # the server's one-line reason, for the log
                exc.detail = " ".join(exc.read(300).decode("utf-8", "replace").split())
            except Exception:  # noqa: BLE001 - the reason is a nicety
                exc.detail = ""
            exc.close()  # it holds the response's socket
            raise

    def _send(self) -> None:
        with self._lock:
            frames, alarms = self._frames, self._alarms
            self._frames, self._alarms = [], []
        if not frames and not alarms:
            return
        try:
            self._post({"stream": self.stream, "frames": frames, "alarms": alarms})
            self.sent += 1
            self.delay = self.interval
        except Exception as exc:  # noqa: BLE001 - the monitor never stops for the server
            self.failed += 1
            why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            if getattr(exc, "detail", ""):
                why += f" {exc.detail[:200]}"
            if not retryable(exc):
                # The server will refuse this very body again: drop it (say what was lost) and go on with new data.
                self.refused += 1
                self.dropped_frames += len(frames)
                self.dropped_alarms += len(alarms)
                logger.error(
                    "posting to %s refused (%s): dropped %d frame(s) and %d alarm change(s); not sent again",
                    self.endpoint,
                    why,
                    len(frames),
                    len(alarms),
                )
                return
            self.delay = min(MAX_BACKOFF, max(2 * self.delay, _retry_after(exc)))
            if self.failed == 1 or self.failed % 30 == 0:
                logger.warning(
                    "posting to %s failed (%d so far): %s; next attempt in %.0f s", self.endpoint, self.failed, why, self.delay
                )
            with self._lock:  # keep for the next attempt
                self._frames[:0] = frames
                del self._frames[:-MAX_FRAMES]
                self._alarms[:0] = alarms
                self._trim_alarms()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is left (one last attempt) and stop."""
        self._stop.set()
        t0 = time.monotonic()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("posting: gave up after %.0f s at the end", time.monotonic() - t0)
