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

Among the API requests waiting for a slot, the viewer's **window pages go
first** (:class:`PriorityGate`): a clinician paging EEG waits for the pages,
while a list, a record read or an annotation write is not on that path. The
waiting is ordered, not the work: every request is still served in full, with
every check, and bulk requests keep a guaranteed share of the slots (no
starvation, see :class:`PriorityGate`). docs/server.md ("Interactive pages
first") gives the design and the measured trade.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import deque

#: API requests served at once per process (the others queue). Two cores do not go faster with more, and
#: every request running at once is one more thread taking turns at the process's interpreter lock with the
#: event loop that reads the next requests; the database pool (:data:`dbrain.server.db.POOL_SIZE`) is larger.
MAX_IN_FLIGHT = int(os.environ.get("DBRAIN_MAX_IN_FLIGHT", "8"))
#: Of those, requests other than window pages at once: the rest of the slots are kept for pages, and fewer
#: requests sharing the process's interpreter lock make an admitted page finish sooner.
MAX_BULK_IN_FLIGHT = int(os.environ.get("DBRAIN_MAX_BULK_IN_FLIGHT", "4"))
#: When window pages and other requests both wait for a freed slot, at most this many pages are admitted in a
#: row before the oldest other request: those keep at least 1 / (1 + BULK_SHARE) of the contested slots.
BULK_SHARE = int(os.environ.get("DBRAIN_BULK_SHARE", "3"))
#: The interactive requests: the viewer's window pages (``GET /api/recordings/{id}/window``).
_INTERACTIVE = re.compile(r"^/api/recordings/[^/]+/window$")
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


INTERACTIVE, BULK = 0, 1


class PriorityGate:
    """Admission of API requests to ``slots`` places, window pages before other requests.

    A request that finds a place it may use and nobody of its class waiting is admitted at once; the others
    wait, each class in arrival order, and a freed place goes to

    * the first waiting interactive request (a window page), **unless** ``share`` of them were admitted in a
      row while a bulk request could have had the place: then to the first waiting bulk request. So when both
      classes wait, bulk requests keep at least ``1 / (1 + share)`` of the freed places: a bulk request
      never starves, it waits at most about ``(1 + share) ×`` its position in its queue freed places, whatever
      the flow of pages;
    * else the first waiting bulk request, if fewer than ``bulk_slots`` bulk requests are running.

    Bulk requests never hold more than ``bulk_slots`` places, so ``slots - bulk_slots`` places are always
    left to pages, and an arriving page waits only for other pages. Not a time-based aging: under a
    sustained overload, promoting requests that waited more than T seconds would hand every place back to
    arrival order and lose the pages' precedence exactly when it matters; the fixed share bounds both
    classes' throughput from below instead.

    Parameters
    ----------
    slots : int
        Requests running at once.
    bulk_slots : int
        Bulk (non-page) requests running at once, at most ``slots``.
    share : int
        Interactive admissions in a row, while a bulk request waits and could run, before that one goes.
    """

    def __init__(self, slots: int, bulk_slots: int, share: int):
        if slots < 1 or bulk_slots < 1 or share < 1:
            raise ValueError("slots, bulk_slots and share must be >= 1")
        self.slots, self.bulk_slots, self.share = int(slots), min(int(bulk_slots), int(slots)), int(share)
        self.running = [0, 0]
        self.waiting: tuple[deque, deque] = (deque(), deque())
        self.streak = 0  # interactive admissions in a row while a bulk request could have run instead

    def _may_run(self, cls: int) -> bool:
        if self.running[INTERACTIVE] + self.running[BULK] >= self.slots:
            return False
        return cls == INTERACTIVE or self.running[BULK] < self.bulk_slots

    def _dispatch(self) -> None:
        # Hand freed places to waiters until none of the first waiters may run.
        while True:
            for queue in self.waiting:  # a waiter cancelled (its client gone) before it could leave its queue
                while queue and queue[0].cancelled():
                    queue.popleft()
            can = [bool(self.waiting[c]) and self._may_run(c) for c in (INTERACTIVE, BULK)]
            if can[INTERACTIVE] and can[BULK]:
                cls = BULK if self.streak >= self.share else INTERACTIVE
            elif can[INTERACTIVE] or can[BULK]:
                cls = INTERACTIVE if can[INTERACTIVE] else BULK
            else:
                return
            if cls == BULK:
                self.streak = 0
            elif can[BULK]:
                self.streak += 1
            self.running[cls] += 1
            self.waiting[cls].popleft().set_result(None)

    async def acquire(self, cls: int) -> None:
        """Wait for a place for a request of class ``cls`` (:data:`INTERACTIVE` or :data:`BULK`)."""
        if not self.waiting[cls] and self._may_run(cls):
            self.running[cls] += 1
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiting[cls].append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # admitted, then cancelled before it ran: give the place on
                self.release(cls)
            else:
                if fut in self.waiting[cls]:
                    self.waiting[cls].remove(fut)
                self._dispatch()  # the first waiter may have changed
            raise

    def release(self, cls: int) -> None:
        """Free a place held by a request of class ``cls``."""
        self.running[cls] -= 1
        self._dispatch()


class InFlightLimit:
    """ASGI middleware admitting at most ``limit`` concurrent requests under ``/api/``.

    Uploads (``POST /api/recordings``) have their own, smaller limit: a slow
    uploader streaming a large body must not hold a slot of the readers.
    The other API requests share ``limit`` places through a
    :class:`PriorityGate`: the viewer's window pages first, at most ``bulk``
    of the others at once, which keep a ``share``-bounded turn.

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
    bulk : int | None
        API requests other than window pages admitted at once (default :data:`MAX_BULK_IN_FLIGHT`, at most
        ``limit``).
    share : int
        See :class:`PriorityGate` (default :data:`BULK_SHARE`).
    """

    def __init__(
        self,
        app,
        limit: int = MAX_IN_FLIGHT,
        uploads: int = MAX_UPLOADS,
        logins: int = MAX_LOGINS,
        streams: int = MAX_STREAMS,
        bulk: int | None = None,
        share: int = BULK_SHARE,
    ):
        self.app = app
        self.limits = {"upload": int(uploads), "login": int(logins), "stream": int(streams)}
        self.gate_args = (int(limit), min(int(limit), MAX_BULK_IN_FLIGHT if bulk is None else int(bulk)), int(share))
        self._sems: dict[str, asyncio.Semaphore] = {}
        self.gate: PriorityGate | None = None
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
        if loop is not self._loop:  # semaphores and futures belong to one event loop (a test client may start several)
            self._loop, self._sems = loop, {k: asyncio.Semaphore(n) for k, n in self.limits.items()}
            self.gate = PriorityGate(*self.gate_args)
        if kind == "api":
            cls = INTERACTIVE if scope["method"] in ("GET", "HEAD") and _INTERACTIVE.match(path) else BULK
            gate = self.gate
            await gate.acquire(cls)
            try:
                await self.app(scope, receive, send)
            finally:
                gate.release(cls)
            return
        async with self._sems[kind]:
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
