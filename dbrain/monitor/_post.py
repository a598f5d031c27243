"""Posting frames and alarms to the data centre (``POST {url}/api/ward/beds/{bed}/updates``).

The contract with the server is in ``docs/monitor.md``. The client is the standard library's
(``urllib.request``): one small JSON POST a second needs nothing more. Posting runs in a
thread of its own, at most once a second; a failed post is logged and its
content kept for the next attempt (alarm changes are never dropped; frames
beyond the last 60 are), so the monitor never waits on or stops for the server.
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
        self._thread = threading.Thread(target=self._run, name="dbrain-post", daemon=True)
        self._thread.start()

    def frame(self, frame: dict) -> None:
        with self._lock:
            self._frames.append(frame)
            del self._frames[:-MAX_FRAMES]

    def alarm(self, alarm) -> None:
        with self._lock:
            self._alarms.append(alarm.to_json())

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.interval)
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
        except Exception as exc:  # noqa: BLE001 - the monitor never stops for the server
            self.failed += 1
            if self.failed == 1 or self.failed % 30 == 0:
                logger.warning("posting to %s failed (%d so far): %s", self.endpoint, self.failed, str(exc).splitlines()[0][:200])
            with self._lock:  # keep for the next attempt
                self._frames[:0] = frames
                del self._frames[:-MAX_FRAMES]
                self._alarms[:0] = alarms

    def close(self, timeout: float = 5.0) -> None:
        """Send what is left (one last attempt) and stop."""
        self._stop.set()
        t0 = time.monotonic()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("posting: gave up after %.0f s at the end", time.monotonic() - t0)
