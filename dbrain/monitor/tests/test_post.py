"""The ward poster: refused posts are dropped with an error, failures worth retrying back off and are kept."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dbrain.monitor import _post
from dbrain.monitor._post import Poster, retryable


class _Server:
    """A local HTTP server answering each POST with the next status of ``plan`` (the last one repeats)."""

    def __init__(self, plan):
        self.plan, self.bodies, self.times = list(plan), [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                outer.times.append(time.monotonic())
                status = outer.plan.pop(0) if len(outer.plan) > 1 else outer.plan[0]
                data = json.dumps({"detail": f"answer {status}"}).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "3")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Alarm:
    def __init__(self, i):
        self.i = i

    def to_json(self):
        return {"id": f"a{self.i}", "state": "raised"}


@pytest.fixture
def caplog_dbrain(caplog):
    caplog.set_level(logging.WARNING, logger="dbrain")
    return caplog


def test_refused_post_is_dropped_with_an_error_not_sent_forever(caplog_dbrain):
    server = _Server([422, 200])
    poster = Poster(server.url, "7", "tok", "sim", interval=3600)
    try:
        poster.frame({"t": 1})
        poster.alarm(_Alarm(1))
        poster._send()
        assert poster.refused == 1 and poster.dropped_frames == 1 and poster.dropped_alarms == 1
        errors = [r for r in caplog_dbrain.records if r.levelno == logging.ERROR]
        assert errors and "422" in errors[0].getMessage() and "answer 422" in errors[0].getMessage()
        assert "1 alarm change(s)" in errors[0].getMessage()
        # Nothing of the refused body is sent again; the next post carries only new data, at the normal pace.
        poster.frame({"t": 2})
        poster._send()
        assert len(server.bodies) == 2 and server.bodies[1]["frames"] == [{"t": 2}] and server.bodies[1]["alarms"] == []
        assert poster.sent == 1 and poster.delay == poster.interval
    finally:
        poster.close(1)
        server.close()


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_retryable_failure_keeps_the_content_and_backs_off(status, caplog_dbrain):
    server = _Server([status, status, status, 200])
    poster = Poster(server.url, "7", "tok", "sim", interval=3600)
    poster.interval = poster.delay = 1.0
    try:
        poster.alarm(_Alarm(1))
        poster.frame({"t": 1})
        delays = []
        for t in range(3):
            poster._send()
            delays.append(poster.delay)
            poster.frame({"t": t + 2})
        assert poster.refused == 0 and poster.failed == 3
        # Exponential back-off (a 429's Retry-After of 3 s is a floor).
        expected = [3.0, 6.0, 12.0] if status == 429 else [2.0, 4.0, 8.0]
        assert delays == expected
        poster._send()
        assert poster.sent == 1 and poster.delay == 1.0  # success resets the pace
        last = server.bodies[-1]
        assert last["alarms"] == [{"id": "a1", "state": "raised"}]  # the alarm kept through every failure
        assert [f["t"] for f in last["frames"]] == [1, 2, 3, 4]
        assert not [r for r in caplog_dbrain.records if r.levelno >= logging.ERROR]
    finally:
        poster.close(1)
        server.close()


def test_no_server_is_retried_with_a_capped_back_off():
    poster = Poster("http://127.0.0.1:9", "7", "tok", "sim", interval=3600, timeout=1)  # discard port: refused
    poster.interval = poster.delay = 1.0
    try:
        poster.alarm(_Alarm(1))
        for _ in range(10):
            poster._send()
        assert poster.failed == 10 and poster.refused == 0 and poster.delay == _post.MAX_BACKOFF
        assert len(poster._alarms) == 1
    finally:
        poster._stop.set()


def test_kept_alarms_are_bounded(monkeypatch, caplog_dbrain):
    monkeypatch.setattr(_post, "MAX_ALARMS", 5)
    poster = Poster("http://127.0.0.1:9", "7", "tok", "sim", interval=3600, timeout=1)
    try:
        for i in range(8):
            poster.alarm(_Alarm(i))
        assert [a["id"] for a in poster._alarms] == ["a3", "a4", "a5", "a6", "a7"] and poster.dropped_alarms == 3
        assert any("dropped" in r.getMessage() for r in caplog_dbrain.records if r.levelno == logging.ERROR)
    finally:
        poster._stop.set()


def test_retryable_classification():
    import urllib.error

    def err(code):
        return urllib.error.HTTPError("http://x", code, "x", {}, None)

    assert [retryable(err(c)) for c in (400, 401, 403, 404, 409, 413, 422)] == [False] * 7
    assert [retryable(err(c)) for c in (408, 425, 429, 500, 502, 503, 504)] == [True] * 7
    assert retryable(urllib.error.URLError("refused")) and retryable(TimeoutError())


def test_the_thread_paces_itself_by_the_back_off():
    server = _Server([503, 503, 200])
    poster = Poster(server.url, "7", "tok", "sim", interval=1.0)
    try:
        poster.frame({"t": 1})
        deadline = time.monotonic() + 15
        while poster.sent == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert poster.sent == 1 and len(server.bodies) == 3
        gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
        assert gaps[0] >= 1.8 and gaps[1] >= 3.8  # waited 2 s, then 4 s
    finally:
        poster.close(1)
        server.close()
