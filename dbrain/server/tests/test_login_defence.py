"""Login defence: throttling, lock-out, password policy, credential revocation, Argon2 isolation, headers and limits."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from dbrain.server.db import AuditEvent

from .conftest import PASSWORD, _make_world

STRONG = "violet tram under a quiet harbour"


def _world(tmp_path, **settings):
    from .conftest import _make_world

    return _make_world(f"sqlite:///{tmp_path / 'dc.sqlite'}", tmp_path / "home", **settings)


@pytest.fixture
def fast_locks(tmp_path):
    """Lock-outs short enough to watch them expire; no per-client rate (tested on its own)."""
    w = _world(
        tmp_path, login_client_rate="100000/minute", login_lock_seconds=0.5, login_lock_max_seconds=1.0, login_tarpit_seconds=0.01
    )
    with w.client:
        yield w
    w.app.state.engine.dispose()


def _login(w, user, password):
    return w.client.post("/api/auth/login", json={"username": user, "password": password})


def test_brute_force_locks_out_and_the_lock_expires(fast_locks):
    w = fast_locks
    answers = [_login(w, "clin", f"wrong guess {i}") for i in range(100)]
    codes = [r.status_code for r in answers]
    # A few real verifications, then (nearly) all refused unverified; each refusal says when to come back.
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert codes.count(429) >= 90 and set(codes) <= {401, 429}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)
    # Right password during the lock-out: refused.
    assert _login(w, "clin", "another wrong one").status_code in (401, 429)
    during = _login(w, "clin", PASSWORD)
    assert during.status_code == 429 and "locked" in during.json()["detail"]
    # The lock expires.
    time.sleep(int(during.headers["Retry-After"]) + 0.2)
    assert _login(w, "clin", PASSWORD).status_code == 200
    # Failed attempts are in the account's site's log, never with the password; the lock-out too.
    with w.session() as db:
        events = list(db.scalars(select(AuditEvent).where(AuditEvent.action.in_(["auth.login", "auth.lockout"]))))
    failed = [e for e in events if e.outcome == "denied"]
    assert failed and all(e.site_id is not None and e.user_id == w.users["clin"] for e in failed)
    assert any(e.action == "auth.lockout" for e in failed)
    assert not any("wrong guess" in str(e.detail) for e in events)


def test_per_client_rate_and_lock_out_across_accounts(tmp_path):
    w = _world(tmp_path, login_client_rate="10/minute", login_tarpit_seconds=0.01)
    with w.client:
        codes = [_login(w, f"nobody{i}", "x").status_code for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        r = _login(w, "clin", PASSWORD)  # the right password of a real account, from the throttled client
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    w.app.state.engine.dispose()

    w = _world(tmp_path / "2", login_client_rate="100000/minute", login_free_failures=3, login_tarpit_seconds=0.01)
    with w.client:
        # 4 x 3 failures over many accounts lock the client out, not just the accounts.
        codes = [_login(w, f"user{i}", "x").status_code for i in range(13)]
        assert codes[:12] == [401] * 12 and codes[12] == 429
        assert _login(w, "tech", PASSWORD).status_code == 429
        # Unknown accounts' failures are audited under no site, with no password.
        with w.session() as db:
            unknown = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login", AuditEvent.site_id.is_(None))))
        assert len(unknown) >= 12 and all(e.detail["known_account"] is False and "password" not in e.detail for e in unknown)
    w.app.state.engine.dispose()


def test_unknown_accounts_cost_no_hash_but_take_as_long(fast_locks, monkeypatch):
    from dbrain.server import throttle

    w = fast_locks
    guard = w.app.state.login_guard
    assert _login(w, "clin", "wrong").status_code == 401  # one real verification sets the typical time
    typical = guard.verify_seconds
    calls = []
    real = throttle.verify_password
    monkeypatch.setattr(throttle, "verify_password", lambda *a: calls.append(1) or real(*a))
    t0 = time.perf_counter()
    for i in range(4):
        assert _login(w, f"ghost{i}", "wrong").status_code == 401
    took = (time.perf_counter() - t0) / 4
    assert calls == [] and took >= 0.8 * typical


def test_password_policy(sqlite_world):
    w, c = sqlite_world, sqlite_world.client
    from dbrain.server.auth import password_problem

    for weak in ("aaaaaaaaaa", "password12", "Password123!", "qwertyuiop1", "P@ssw0rd2024", "1234567890"):
        assert password_problem(weak) is not None, weak
    assert password_problem(STRONG) is None and password_problem("short") is not None
    site_a = c.get("/api/sites", headers=w.as_("admin")).json()[0]["id"]
    for weak in ("aaaaaaaaaa", "password12"):
        user = {"username": "weak", "password": weak, "role": "researcher", "site_id": site_a}
        r = c.post("/api/users", json=user, headers=w.as_("admin"))
        assert r.status_code == 422 and "password" in r.json()["detail"]
        assert c.patch(f"/api/users/{w.users['res']}", json={"password": weak}, headers=w.as_("admin")).status_code == 422


def test_password_change_and_admin_reset_revoke_sessions_and_tokens(sqlite_world):
    w, c = sqlite_world, sqlite_world.client
    # The user's own change: the current password is checked; every session and token ends.
    login = _login(w, "tech", PASSWORD)
    assert login.status_code == 200
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert (
        c.post("/api/auth/password", json={"current_password": "wrong", "new_password": STRONG}, headers=csrf).status_code == 401
    )
    weak = c.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "password12"}, headers=csrf)
    assert weak.status_code == 422
    assert (
        c.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": STRONG}, headers=csrf).status_code == 204
    )
    assert c.get("/api/auth/me").status_code == 401  # the session
    assert c.get("/api/auth/me", headers=w.as_("tech")).status_code == 401  # the API token
    assert _login(w, "tech", PASSWORD).status_code == 401 and _login(w, "tech", STRONG).status_code == 200
    c.cookies.clear()
    # An admin's reset: the same.
    login = _login(w, "clin", PASSWORD)
    assert login.status_code == 200 and c.get("/api/auth/me").status_code == 200
    c.cookies.clear()
    cookie = {"Cookie": f"dbrain_session={login.cookies['dbrain_session']}"}
    assert c.patch(f"/api/users/{w.users['clin']}", json={"password": STRONG}, headers=w.as_("admin")).status_code == 200
    assert c.get("/api/auth/me", headers=cookie).status_code == 401
    assert c.get("/api/auth/me", headers=w.as_("clin")).status_code == 401
    assert c.delete(f"/api/users/{w.users['res']}", headers=w.as_("admin")).status_code == 204
    assert c.get("/api/auth/me", headers=w.as_("res")).status_code == 401


def test_security_headers_nan_and_size_limits(sqlite_world):
    w, c = sqlite_world, sqlite_world.client
    for path in ("/viewer/", "/viewer/viewer.js", "/api/health", "/api/auth/me", "/openapi.json", "/nowhere"):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert c.get("/api/auth/me").headers["cache-control"] == "no-store"
    docs = c.get("/docs")
    assert docs.status_code == 200 and "unsafe-inline" not in docs.headers["content-security-policy"]
    assert "'sha256-" in docs.headers["content-security-policy"]
    # The viewer's page has no inline script or style that the policy would block.
    page = c.get("/viewer/").text
    assert "<script>" not in page and "<style" not in page and " style=" not in page and " onclick=" not in page

    # NaN and Infinity are not JSON: 422, not 500.
    rec_id = 1
    for bad in (
        '{"onset": NaN, "description": "x"}',
        '{"onset": Infinity, "description": "x"}',
        '{"onset": -Infinity, "description": "x"}',
    ):
        r = c.post(
            f"/api/recordings/{rec_id}/annotations", content=bad, headers={**w.as_("tech"), "Content-Type": "application/json"}
        )
        assert r.status_code == 422 and "not a number in JSON" in r.json()["detail"], r.text
    r = c.patch("/api/annotations/1", content='{"onset": NaN}', headers={**w.as_("tech"), "Content-Type": "application/json"})
    assert r.status_code == 422
    # Size limits: a body over max_body_bytes, a URL over max_url_bytes, an upload declared over max_upload_bytes.
    big = '{"name": "' + "x" * (w.app.state.settings.max_body_bytes + 10) + '"}'
    r = c.post("/api/tokens", content=big, headers={**w.as_("tech"), "Content-Type": "application/json"})
    assert r.status_code == 413 and "x-frame-options" in r.headers
    assert c.get("/api/recordings", params={"q": "y" * 9000}, headers=w.as_("tech")).status_code == 414
    w.app.state.settings.max_upload_bytes = 1000
    r = c.post(
        "/api/recordings",
        params={"filename": "a.edf"},
        content=b"0" * 2000,
        headers={**w.as_("tech"), "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 413


def test_reads_stay_fast_during_a_login_flood(tmp_path):
    """20 threads of wrong passwords, throttle off so that every one costs a real Argon2 verification;
    another user's reads still answer promptly (a loose bound for a loaded 2-core test machine; the figure
    to report comes from benchmarks/_login_flood.py on a quiet machine)."""
    import socket

    import uvicorn

    httpx = pytest.importorskip("httpx2")
    w = _make_world(
        f"sqlite:///{tmp_path / 'dc.sqlite'}", tmp_path / "home", login_client_rate="1000000/minute", login_free_failures=10**9
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(w.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        assert server.started
        stop = threading.Event()
        flood_answers: list[int] = []

        def flood():
            with httpx.Client(base_url=base, timeout=60) as fc:
                while not stop.is_set():
                    flood_answers.append(fc.post("/api/auth/login", json={"username": "clin", "password": "wrong"}).status_code)

        floods = [threading.Thread(target=flood, daemon=True) for _ in range(20)]
        for t in floods:
            t.start()
        time.sleep(1.0)
        times = []
        with httpx.Client(base_url=base, timeout=60, headers=w.as_("res")) as rc:
            for _ in range(30):
                t0 = time.perf_counter()
                assert rc.get("/api/recordings").status_code == 200
                times.append(time.perf_counter() - t0)
                time.sleep(0.05)
        stop.set()
        for t in floods:
            t.join(timeout=60)
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        assert flood_answers and set(flood_answers) <= {401, 429}
        assert flood_answers.count(401) >= 5  # the flood really verified passwords
        assert p95 < 1.5, f"reads p95 {p95:.3f} s during the login flood"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        w.app.state.engine.dispose()


def test_sign_ins_queue_in_their_own_lane():
    # A flood of held (tarpitted) sign-ins must never take the slots of the readers.
    import asyncio

    from dbrain.server.limits import InFlightLimit

    async def scenario():
        release = asyncio.Event()
        served = []

        async def app(scope, receive, send):
            if scope["path"] == "/api/auth/login":
                await release.wait()  # a login held by the tarpit
            served.append(scope["path"])

        limit = InFlightLimit(app, limit=1, uploads=1, logins=1)
        login = {"type": "http", "method": "POST", "path": "/api/auth/login"}
        read = {"type": "http", "method": "GET", "path": "/api/recordings"}
        held = [asyncio.create_task(limit(login, None, None)) for _ in range(5)]
        await asyncio.sleep(0)
        await asyncio.wait_for(limit(read, None, None), timeout=1.0)  # not queued behind the logins
        assert served == ["/api/recordings"]
        release.set()
        await asyncio.gather(*held)
        assert served.count("/api/auth/login") == 5

    asyncio.run(scenario())
