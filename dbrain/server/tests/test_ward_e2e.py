"""The ward page end to end (issue #21's must-show): a replayed recording with a seizure → the alarm appears on the
live ward page, a clinician acknowledges it there, and it is still there, acknowledged, after a server restart.

A real ``dbrain serve`` and Debian's headless chromium (Playwright). The monitor's updates are computed from the
bundled seizure recording (:mod:`.ward_feed`) and posted over HTTP with a technologist's API token, as
``dbrain monitor --post`` does (docs/ward.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from . import ward_feed
from .test_live import running_server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the python package playwright is not installed (pip install playwright)"
)
httpx = pytest.importorskip("httpx2")

PASSWORD = "a long ward clinician password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _token(base: str, user: str) -> dict:
    with httpx.Client(base_url=base, timeout=30) as c:
        login = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
        assert login.status_code == 200, login.text
        session = {"Cookie": f"dbrain_session={login.cookies['dbrain_session']}", "X-CSRF-Token": login.json()["csrf_token"]}
        return {"Authorization": f"Bearer {c.post('/api/tokens', json={'name': 'monitor'}, headers=session).json()['token']}"}


def _replay(base: str, headers: dict, errors: list, seconds_per_second: float = 0.15) -> None:
    """Post the recording's updates one second at a time, faster than real time."""
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            for body in ward_feed.updates("icu1-replay", per_post=1):
                r = c.post("/api/ward/beds/ICU-1/updates", json=body, headers=headers)
                if r.status_code != 202:
                    errors.append(r.text)
                    return
                time.sleep(seconds_per_second)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(repr(exc))


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/ward")
    assert page.url.endswith("/viewer/ward.html")
    page.fill("#login-username", "clin")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    sync_api.expect(page.locator("#whoami")).to_have_text("clin (clinician)")
    sync_api.expect(page.locator("#conn")).to_have_attribute("data-state", "open")


def test_ward_alarm_appears_is_acknowledged_and_survives_a_restart(tmp_path):
    expect = sync_api.expect
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    for user, role in (("boss", "admin"), ("clin", "clinician"), ("mon", "technologist")):
        made = subprocess.run(
            [sys.executable, "-m", "dbrain", "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    shot = Path(os.environ.get("DBRAIN_E2E_SCREENSHOT", tmp_path / "ward.png"))
    _, alarms = ward_feed.replay()
    raised = alarms[0]["alarm"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page_errors: list[str] = []
            with running_server(env, db, tmp_path / "serve1.log", workers=0) as base:
                boss = _token(base, "boss")
                assert httpx.post(f"{base}/api/ward/beds", json={"name": "ICU-1"}, headers=boss).status_code == 201
                assert httpx.post(f"{base}/api/ward/beds", json={"name": "ICU-2"}, headers=boss).status_code == 201
                monitor = _token(base, "mon")

                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                _sign_in(page, base)
                bed1 = page.locator('.bed:has(.bed-name:text-is("ICU-1"))')
                bed2 = page.locator('.bed:has(.bed-name:text-is("ICU-2"))')
                expect(bed1.locator(".bed-status")).to_have_attribute("data-state", "none")
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "0")

                # The monitor replays the recording: the bed goes live, the seizure alarm appears in the banner.
                post_errors: list[str] = []
                feeder = threading.Thread(target=_replay, args=(base, monitor, post_errors), daemon=True)
                feeder.start()
                expect(bed1.locator(".bed-status")).to_have_attribute("data-state", "live", timeout=20_000)
                expect(bed1.locator(".bed-stream")).to_have_text("stream icu1-replay")
                expect(bed2.locator(".bed-status")).to_have_attribute("data-state", "none")  # nothing under another bed's name
                alarm = page.locator('#open-alarms li[data-type="seizure"]')
                expect(alarm).to_have_count(1, timeout=30_000)
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "1")
                expect(alarm.locator(".bed")).to_have_text("ICU-1")
                expect(alarm.locator(".t")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))  # clock time (time.js)
                expect(bed1).to_have_class(re.compile(r"\balarming\b"))
                feeder.join(60)
                assert not post_errors, post_errors
                expect(alarm).to_have_attribute(
                    "data-state", "cleared", timeout=10_000
                )  # the monitor cleared it; still to acknowledge
                frames = page.evaluate("[...W.beds.values()].find(b => b.name === 'ICU-1').frames.length")
                assert frames == len(ward_feed.replay()[0])
                page.screenshot(path=str(shot), full_page=True)

                # A clinician acknowledges it on the page, with a comment.
                alarm.locator("button.ack-button").click()
                expect(page.locator("#ack-form")).to_be_visible()
                page.fill("#ack-comment", "seen on the ward page, neurologist called")
                page.click("#ack-confirm")
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "0")
                done = page.locator('#done-alarms li[data-type="seizure"]')
                expect(done).to_have_count(1)
                expect(done.locator(".ack")).to_have_text(
                    re.compile(r"^acknowledged by clin at \d\d:\d\d:\d\d: seen on the ward page, neurologist called$")
                )
                page.close()

            # The server restarts: the alarm and its acknowledgement are still there; the live frames are not.
            with running_server(env, db, tmp_path / "serve2.log", workers=0) as base:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                _sign_in(page, base)
                done = page.locator('#done-alarms li[data-type="seizure"]')
                expect(done).to_have_count(1)
                expect(done.locator(".ack")).to_contain_text("acknowledged by clin")
                expect(done.locator(".ack")).to_contain_text("neurologist called")
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "0")
                bed1 = page.locator('.bed:has(.bed-name:text-is("ICU-1"))')
                expect(bed1.locator(".bed-status")).to_have_attribute("data-state", "none")
                expect(bed1.locator(".bed-alarms li")).to_have_count(1)
                stored = httpx.get(f"{base}/api/ward/alarms", headers=_token(base, "clin")).json()
                assert [(a["type"], a["onset"], a["raised"], a["ack"]["username"]) for a in stored] == [
                    ("seizure", raised["onset"], raised["raised"], "clin")
                ]
                page.close()
            assert not page_errors, page_errors
        except Exception:
            for log in sorted(tmp_path.glob("serve*.log")):
                print(log.name, log.read_text()[-3000:])
            raise
        finally:
            browser.close()
