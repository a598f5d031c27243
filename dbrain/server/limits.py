"""Bounded concurrency: at most a fixed number of API requests use the database at once.

FastAPI runs the routes (synchronous functions) in a thread pool and a
request's database session may hold a pooled connection between two of its
steps (the route, then the session's clean-up after the response). With more
requests in flight than pooled connections, the pool ran dry and requests failed
with ``QueuePool limit … reached``. :class:`InFlightLimit` admits at most
:data:`MAX_IN_FLIGHT` API requests at once (the rest wait in the event loop,
in arrival order, costing no thread and no connection) and the thread pool and
the connection pool are sized above that, so a request never waits for a
connection it cannot get.
"""

from __future__ import annotations

import asyncio
import os

#: API requests served at once per process (the others queue). Two cores do not
#: go faster with more; the database pool (:data:`dbrain.server.db.POOL_SIZE`) is larger.
MAX_IN_FLIGHT = int(os.environ.get("DBRAIN_MAX_IN_FLIGHT", "16"))
#: Uploads at once (counted apart: a slow uploader must not hold a slot of the readers).
MAX_UPLOADS = int(os.environ.get("DBRAIN_MAX_UPLOADS", "4"))
#: Sign-ins and password changes at once (counted apart: a flood of wrong passwords, each held by the
#: login tarpit, must queue in its own lane and never take the readers' slots).
MAX_LOGINS = int(os.environ.get("DBRAIN_MAX_LOGINS", "4"))
_LOGIN_PATHS = ("/api/auth/login", "/api/auth/password")
#: Server-sent event streams open at once, counted apart: a neurofeedback display or an open ward page holds
#: one for as long as it is open, with no database connection, so it must never take one of the readers' slots.
MAX_STREAMS = int(os.environ.get("DBRAIN_MAX_STREAMS", "64"))
_STREAM_PATHS = ("/api/ward/stream",)


class InFlightLimit:
    """ASGI middleware admitting at most ``limit`` concurrent requests under ``/api/``.

    Uploads (``POST /api/recordings``) have their own, smaller limit: a slow
    uploader streaming a large body must not hold a slot of the readers.

    Parameters
    ----------
    app : ASGI application
    limit : int
        Requests admitted at once.
    uploads : int
        Uploads admitted at once.
    logins : int
        Sign-ins and password changes admitted at once.
    streams : int
        Server-sent event streams (``GET /api/nfb/…/stream``, ``GET /api/ward/stream``) open at once.
    """

    def __init__(
        self, app, limit: int = MAX_IN_FLIGHT, uploads: int = MAX_UPLOADS, logins: int = MAX_LOGINS, streams: int = MAX_STREAMS
    ):
        self.app = app
        self.limits = {"api": int(limit), "upload": int(uploads), "login": int(logins), "stream": int(streams)}
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._loop = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        if scope["method"] == "POST" and path == "/api/recordings":
            kind = "upload"
        elif scope["method"] == "POST" and path in _LOGIN_PATHS:
            kind = "login"
        elif scope["method"] == "GET" and (path in _STREAM_PATHS or (path.startswith("/api/nfb/") and path.endswith("/stream"))):
            kind = "stream"
        else:
            kind = "api"
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # semaphores belong to one event loop (a test client may start several)
            self._loop, self._sems = loop, {k: asyncio.Semaphore(n) for k, n in self.limits.items()}
        sem = self._sems[kind]
        async with sem:
            await self.app(scope, receive, send)


class LiveNeedsOneProcess:
    """Refuse the live ward and neurofeedback routes when the API runs in several web processes.

    Their live data (ward frames and alarm pushes, running neurofeedback sessions) lives in the memory of the
    process a monitor or a therapist happened to reach; a ward page served by another process would miss
    alarms without knowing it. A clear 503 is safer than a page that is silently incomplete.
    """

    PREFIXES = ("/api/ward", "/ward", "/api/nfb")
    MESSAGE = (
        b'{"detail":"the live ward and neurofeedback sessions need one web process: '
        b'start dbrain serve without --web-workers to use them"}'
    )

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.PREFIXES):
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.MESSAGE)).encode())]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": self.MESSAGE})
            return
        await self.app(scope, receive, send)
