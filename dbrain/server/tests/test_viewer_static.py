"""The viewer's static files are served, and a browser-session (cookie) upload works on SQLite."""

from __future__ import annotations

from .conftest import PASSWORD


def test_viewer_files_are_served(sqlite_world):
    c = sqlite_world.client
    root = c.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/viewer/"
    page = c.get("/viewer/")
    assert page.status_code == 200 and 'id="login-form"' in page.text and "viewer.js" in page.text
    js = c.get("/viewer/viewer.js")
    assert js.status_code == 200 and "/api/recordings/" in js.text
    assert c.get("/viewer/viewer.css").status_code == 200


def test_cookie_session_upload_does_not_wait_for_its_own_lock(sqlite_world, real_edf):
    # The session dependency used to keep SQLite's write lock for the whole request, so a
    # cookie-authenticated upload (the viewer's) waited for itself until "database is locked".
    c = sqlite_world.client
    login = c.post("/api/auth/login", json={"username": "tech", "password": PASSWORD})
    assert login.status_code == 200
    headers = {"X-CSRF-Token": login.json()["csrf_token"], "Content-Type": "application/octet-stream"}
    up = c.post("/api/recordings", params={"filename": "x.edf"}, content=real_edf.read_bytes(), headers=headers)
    assert up.status_code == 201, up.text
    queued = c.post(
        f"/api/recordings/{up.json()['id']}/analyses",
        json={"only": ["recording"]},
        headers={"X-CSRF-Token": headers["X-CSRF-Token"]},
    )
    assert queued.status_code == 202, queued.text
