"""Admission order of API requests (issue 15): the viewer's window pages go ahead of queued bulk requests.

`dbrain.server.limits.PriorityGate` orders the waiting, not the work: these tests check the order in which
waiting requests are let into the application, that bulk requests keep their guaranteed share (no
starvation), that bulk requests never take the places kept for pages, that a client who leaves while
waiting frees nothing twice and leaks nothing, and, through the real application (authentication, site
check, audit row, page rendering), that a window page overtakes list and read requests queued before it.
"""

from __future__ import annotations

import asyncio

import pytest

from dbrain.server.limits import BULK, INTERACTIVE, InFlightLimit, PriorityGate

WINDOW = "/api/recordings/1/window"


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "method": method, "path": path}


class Held:
    """A fake application that records the order requests enter it and holds each until released."""

    def __init__(self):
        self.entered: list[str] = []
        self.release: dict[int, asyncio.Event] = {}

    async def __call__(self, scope, receive, send):
        self.entered.append(scope["path"])
        event = self.release.setdefault(len(self.entered) - 1, asyncio.Event())
        await event.wait()

    def let_go(self, i: int) -> None:
        self.release.setdefault(i, asyncio.Event()).set()


async def _settle():
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_window_page_overtakes_queued_bulk_requests():
    async def scenario():
        app = Held()
        limit = InFlightLimit(app, limit=1, bulk=1)
        tasks = [asyncio.create_task(limit(_scope("/api/recordings"), None, None))]  # takes the only place
        await _settle()
        for path in ("/api/recordings", "/api/recordings/1", "/api/recordings/1/annotations"):
            tasks.append(asyncio.create_task(limit(_scope(path), None, None)))
        tasks.append(asyncio.create_task(limit(_scope("/api/annotations/3", "PATCH"), None, None)))
        await _settle()
        tasks.append(asyncio.create_task(limit(_scope(WINDOW), None, None)))  # arrives last
        await _settle()
        assert app.entered == ["/api/recordings"]  # one place: everybody else waits
        for i in range(6):
            app.let_go(i)
            await _settle()
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        return app.entered

    entered = asyncio.run(scenario())
    # The page, queued last, is let in first when the place frees; the bulk requests keep their order.
    assert entered == [
        "/api/recordings",
        WINDOW,
        "/api/recordings",
        "/api/recordings/1",
        "/api/recordings/1/annotations",
        "/api/annotations/3",
    ]


def test_only_get_window_pages_are_interactive():
    async def scenario():
        app = Held()
        limit = InFlightLimit(app, limit=1, bulk=1)
        first = asyncio.create_task(limit(_scope("/api/recordings"), None, None))
        await _settle()
        # Not pages: a POST to the window path, another recording path, the window of no recording.
        queued = [
            asyncio.create_task(limit(_scope(p, m), None, None))
            for p, m in (
                (WINDOW, "POST"),
                ("/api/recordings/1/windows", "GET"),
                ("/api/recordings/window", "GET"),
                ("/api/recordings/1/window/x", "GET"),
            )
        ]
        await _settle()
        page = asyncio.create_task(limit(_scope(WINDOW + "/"), None, None))  # a trailing slash is the same page
        await _settle()
        for i in range(6):
            app.let_go(i)
            await _settle()
        await asyncio.wait_for(asyncio.gather(first, page, *queued), 2)
        return app.entered

    entered = asyncio.run(scenario())
    assert entered[1] == WINDOW + "/"
    assert entered[2:] == [WINDOW, "/api/recordings/1/windows", "/api/recordings/window", "/api/recordings/1/window/x"]


def test_bulk_requests_keep_their_share_while_pages_keep_coming():
    # share=2: when both classes wait for a freed place, at most 2 pages in a row, then the oldest bulk request.
    async def scenario():
        gate = PriorityGate(slots=1, bulk_slots=1, share=2)
        order: list[str] = []

        async def request(name: str, cls: int):
            await gate.acquire(cls)
            order.append(name)
            await asyncio.sleep(0)
            gate.release(cls)

        await gate.acquire(BULK)  # the place is taken
        tasks = [asyncio.create_task(request(f"b{i}", BULK)) for i in range(3)]
        tasks += [asyncio.create_task(request(f"w{i}", INTERACTIVE)) for i in range(8)]
        await _settle()
        gate.release(BULK)
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        return order

    order = asyncio.run(scenario())
    assert order == ["w0", "w1", "b0", "w2", "w3", "b1", "w4", "w5", "b2", "w6", "w7"]


def test_bulk_requests_never_take_the_places_kept_for_pages():
    async def scenario():
        gate = PriorityGate(slots=3, bulk_slots=2, share=3)
        await gate.acquire(BULK)
        await gate.acquire(BULK)
        third = asyncio.create_task(gate.acquire(BULK))
        await _settle()
        assert not third.done() and gate.running == [0, 2]  # a place is free, but only for pages
        await asyncio.wait_for(gate.acquire(INTERACTIVE), 1)  # a page gets it at once
        assert gate.running == [1, 2]
        gate.release(INTERACTIVE)
        assert not third.done()
        gate.release(BULK)
        await asyncio.wait_for(third, 1)
        assert gate.running == [0, 2]

    asyncio.run(scenario())


def test_a_client_leaving_while_queued_leaks_no_place():
    async def scenario():
        gate = PriorityGate(slots=1, bulk_slots=1, share=3)
        await gate.acquire(BULK)
        gone = asyncio.create_task(gate.acquire(INTERACTIVE))
        stays = asyncio.create_task(gate.acquire(BULK))
        await _settle()
        gone.cancel()
        gate.release(BULK)  # freed before the cancelled waiter has run its clean-up
        await _settle()
        with pytest.raises(asyncio.CancelledError):
            await gone
        await asyncio.wait_for(stays, 1)
        assert gate.running == [0, 1] and not any(gate.waiting)
        # Admitted, then cancelled before it ran: its place is handed on, not lost.
        late = asyncio.create_task(gate.acquire(INTERACTIVE))
        await _settle()
        gate.release(BULK)
        late.cancel()
        with pytest.raises(asyncio.CancelledError):
            await late
        assert gate.running == [0, 0]
        await asyncio.wait_for(gate.acquire(BULK), 1)

    asyncio.run(scenario())


def test_gate_arguments_are_checked():
    with pytest.raises(ValueError):
        PriorityGate(slots=0, bulk_slots=1, share=1)
    with pytest.raises(ValueError):
        PriorityGate(slots=2, bulk_slots=1, share=0)
    assert PriorityGate(slots=2, bulk_slots=5, share=1).bulk_slots == 2


def test_through_the_real_app_a_page_overtakes_queued_reads(sqlite_world, real_edf):
    """The whole application behind a one-place gate: its requests are authenticated, site-checked, audited."""
    try:
        import httpx2 as httpx  # what starlette's test client uses
    except ImportError:
        import httpx

    from dbrain.server.db import AuditEvent
    from dbrain.server.tests.conftest import upload

    w = sqlite_world
    rid = upload(w, real_edf).json()["id"]
    held = asyncio.Event()
    entered: list[str] = []

    async def recorder(scope, receive, send):
        if scope["type"] == "http":
            entered.append(scope["path"])
            if len(entered) == 1:
                await held.wait()  # the first request keeps the only place until the others are queued
        await w.app(scope, receive, send)

    bulk = [f"/api/recordings/{rid}", "/api/recordings", f"/api/recordings/{rid}/annotations"] * 2
    page = f"/api/recordings/{rid}/window"

    async def scenario():
        gate = InFlightLimit(recorder, limit=1, bulk=1)
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver", headers=w.as_("clin")) as client:
            first = asyncio.create_task(client.get("/api/recordings"))
            await asyncio.sleep(0.2)
            reads = [asyncio.create_task(client.get(p)) for p in bulk]
            await asyncio.sleep(0.2)
            window = asyncio.create_task(client.get(page, params={"start": 5, "duration": 10, "montage": "referential"}))
            await asyncio.sleep(0.2)
            assert entered == ["/api/recordings"]
            held.set()
            return await asyncio.wait_for(asyncio.gather(first, window, *reads), 120)

    answers = asyncio.run(scenario())
    assert [r.status_code for r in answers] == [200] * len(answers)
    assert entered == ["/api/recordings", page, *bulk]  # the page, queued last, went second
    body = answers[1].json()
    assert body["start"] == 5 and len(body["channels"]) > 0
    with w.session() as db:  # served in full: its audit row, like any window read
        assert db.query(AuditEvent).filter_by(action="recording.window", object_id=rid).count() == 1
