"""A whole neurofeedback session end to end: a real ``dbrain serve`` and worker, Debian's headless chromium.

A clinician uploads the bundled sample EEG, has it screened (spike and seizure detectors, run by the
worker) and overrides the findings with a reason; the therapist signs in to the console, plans a
session (synthetic source, real time) and reads out its one-time code; the patient's display takes
the code; the therapist starts; the balloon follows the feedback stream; the display measures the
end-to-end latency from each update's newest sample arriving at the server to the frame that shows
it; at the end the display thanks the patient and the therapist opens the session report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .test_live import running_server
from .test_viewer_e2e import CHROMIUM, CHROMIUM_ARGS, SAMPLE

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the python package playwright is not installed (pip install playwright)"
)
httpx = pytest.importorskip("httpx2")
if not CHROMIUM.exists():  # pragma: no cover - test_viewer_e2e already skips
    pytest.skip(f"{CHROMIUM} not found", allow_module_level=True)

PASSWORD = "a long clinician password"
#: The session plan: short, in real time (speed 1), so the latency is that of a live session.
BLOCKS = [{"kind": "baseline", "minutes": 0.15}, {"kind": "training", "minutes": 0.5}, {"kind": "transfer", "minutes": 0.15}]
LATENCY_P95_MS = 250.0


def prepare_course(base: str, *, blocks=BLOCKS, n_sessions: int = 2) -> dict:
    """As the clinician: upload the sample, screen it (worker analysis), create a real-arm course, clear it."""
    c = httpx.Client(base_url=base, timeout=60)
    r = c.post("/api/auth/login", json={"username": "clin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    # The session cookie is Secure: httpx keeps it from plain http, chromium allows it on 127.0.0.1. Send it by hand.
    c.cookies.clear()
    c.headers["Cookie"] = f"dbrain_session={r.cookies['dbrain_session']}"
    h = {"X-CSRF-Token": r.json()["csrf_token"]}
    rec = c.post(
        "/api/recordings",
        params={"filename": "baseline.edf"},
        content=SAMPLE.read_bytes(),
        headers={**h, "Content-Type": "application/octet-stream"},
    )
    assert rec.status_code == 201, rec.text
    rec = rec.json()
    an = c.post(f"/api/recordings/{rec['id']}/analyses", json={"only": ["spikes", "seizures"]}, headers=h).json()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        an = c.get(f"/api/analyses/{an['id']}").json()
        if an["status"] in ("done", "failed"):
            break
        time.sleep(1)
    assert an["status"] == "done", an
    body = {
        "patient_id": rec["patient_id"],
        "protocol": "theta-beta",
        "n_sessions": n_sessions,
        "blocks": blocks,
        "sham_fraction": 0.0,
    }
    course = c.post("/api/nfb/courses", json=body, headers=h).json()
    flags = {"epileptiform_history": False, "seizure_history": False, "anticonvulsants": False}
    screened = c.post(f"/api/nfb/courses/{course['id']}/safety", json={"analysis_id": an["id"], **flags}, headers=h).json()
    if screened["safety"]["status"] == "blocked":
        # The sample is a seizure recording: the detectors' findings block the course until a clinician decides.
        assert screened["safety"]["findings"]
        r = c.post(
            f"/api/nfb/courses/{course['id']}/safety/override", json={"reason": "e2e: findings reviewed, proceed"}, headers=h
        )
        assert r.status_code == 200 and r.json()["safety"]["status"] == "overridden"
    c.close()
    return course


def make_users(env: dict, db: str) -> None:
    for user, role in (("clin", "clinician"), ("ther", "therapist")):
        made = subprocess.run(
            [sys.executable, "-m", "dbrain", "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr


@pytest.fixture
def nfb_server(tmp_path):
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    make_users(env, db)
    with running_server(env, db, tmp_path / "serve.log") as base:
        yield base, home, db


def play_gonogo(page, n_trials: int) -> None:
    """Do the display's Go/No-Go task as a perfect player: space for each green circle, nothing for red squares."""
    page.click("#gonogo-start")
    seen = 0
    deadline = time.monotonic() + n_trials * 1.5 + 30
    while seen < n_trials and time.monotonic() < deadline:
        cls = page.evaluate("() => document.querySelector('#gonogo-stim').className")
        if cls in ("go", "nogo"):
            seen += 1
            if cls == "go":
                page.keyboard.press("Space")
            page.wait_for_function("() => document.querySelector('#gonogo-stim').className === ''")
        else:
            time.sleep(0.03)
    sync_api.expect(page.locator("#gonogo-status")).to_have_text("Thank you!")
    sync_api.expect(page.locator("#game-view")).to_be_visible(timeout=10_000)


def run_display_session(browser, base: str, course_id: int, gonogo_trials: int | None = None) -> dict:
    """Therapist console + patient display through one session; returns what the display measured."""
    expect = sync_api.expect
    errors: list[str] = []
    ther = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    ther.on("pageerror", lambda exc: errors.append(f"console: {exc}"))
    ther.goto(f"{base}/viewer/nfb-console.html")
    ther.fill("#login-username", "ther")
    ther.fill("#login-password", PASSWORD)
    ther.click("#login-submit")
    expect(ther.locator("#whoami")).to_have_text("ther (therapist)")
    ther.click(f'#courses li[data-id="{course_id}"]')
    expect(ther.locator("#new-session")).to_be_enabled()
    ther.fill("#speed", "1")
    ther.click("#new-session")
    code = ther.locator("#code-shown")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))
    code_text = code.inner_text()

    patient = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
    patient.on("pageerror", lambda exc: errors.append(f"display: {exc}"))
    patient.goto(f"{base}/viewer/nfb.html" + (f"?gonogo_trials={gonogo_trials}" if gonogo_trials else ""))
    patient.fill("#code-input", "WRONG-CODE")
    patient.click("#code-submit")
    expect(patient.locator("#code-error")).to_contain_text("did not work")
    patient.fill("#code-input", code_text)
    patient.click("#code-submit")
    expect(patient.locator("#status")).to_contain_text("Waiting")
    expect(patient.locator("#session-label")).to_have_text("Session 1 of 2")
    if gonogo_trials:
        play_gonogo(patient, gonogo_trials)  # the pre-course attention task, on the display, before the start

    ther.click("#start")
    patient.wait_for_function("() => window.dbrainNfb.events > 20", timeout=60_000)
    # The console shows the live signal quality of every electrode and the session running.
    expect(ther.locator("#quality .chip")).to_have_count(19)
    expect(ther.locator("#session-status")).to_have_text("running")
    # An open-label course (no sham arm): the therapist may change the threshold rule during the session.
    expect(ther.locator("#live-controls")).to_be_visible()
    ther.fill("#live-target", "0.5")
    ther.click("#set-target")
    expect(ther.locator("#message")).to_have_text("")
    shots = os.environ.get("DBRAIN_NFB_SCREENSHOTS")  # a folder: keep screenshots of both screens in training
    if shots:
        patient.wait_for_function("() => document.querySelector('#status').textContent === 'Training'", timeout=60_000)
        time.sleep(3)
        patient.screenshot(path=str(Path(shots) / "nfb-display.png"))
        ther.screenshot(path=str(Path(shots) / "nfb-console.png"))
    levels_seen = set()
    for _ in range(20):  # the balloon moves while the session runs
        levels_seen.add(patient.locator("#nfb-level").get_attribute("data-level"))
        time.sleep(0.25)
    expect(patient.locator("#end-view")).to_be_visible(timeout=180_000)
    expect(patient.locator("#end-summary")).to_contain_text("Session 1 of 2")
    measured = patient.evaluate("() => ({latencies: window.dbrainNfb.latencies, shown: window.dbrainNfb.shown})")

    expect(ther.locator("#session-report")).to_be_visible(timeout=30_000)
    with ther.context.expect_page() as opened:
        ther.click("#session-report")
    report = opened.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_contain_text("session 1")
    expect(report.locator("body")).to_contain_text("Learning curve of the trained feature")
    expect(report.locator("body")).to_contain_text("Baseline qEEG")
    measured["levels_seen"] = sorted(levels_seen)
    measured["errors"] = errors
    return measured


def feedback_table(home: Path, db: str):
    """The session's feedback.parquet from the object store (what the server computed)."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(db)
    with engine.connect() as conn:
        results = conn.execute(sa.text("SELECT results FROM nfb_sessions ORDER BY id DESC LIMIT 1")).scalar_one()
    engine.dispose()
    import json

    from dbrain.server.storage import ObjectStore

    sha = (json.loads(results) if isinstance(results, str) else results)["feedback.parquet"]["sha256"]
    return pd.read_parquet(ObjectStore(home).path(sha))


def test_whole_session_code_feedback_report(nfb_server):
    base, home, db = nfb_server
    course = prepare_course(base)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
        )
        try:
            m = run_display_session(browser, base, course["id"], gonogo_trials=12)
        finally:
            browser.close()
    assert not m["errors"], m["errors"]
    assert len(m["levels_seen"]) > 3, m["levels_seen"]

    # The display followed the signal: every update it drew is the server's feedback value for that time.
    fb = feedback_table(home, db)
    by_t = dict(zip(np.round(fb["t"].to_numpy(), 6), fb["displayed_level"].to_numpy(), strict=True))
    shown = [(round(t, 6), lvl) for t, lvl in m["shown"] if t is not None]
    assert len(shown) > 0.8 * len(fb), (len(shown), len(fb))
    assert all(abs(by_t[t] - lvl) < 1e-5 for t, lvl in shown)
    training = fb[fb["block_kind"] == "training"]
    assert training["displayed_level"].std() > 0.05 and (fb[fb["block_kind"] == "transfer"]["displayed_level"] == 0).all()

    # The Go/No-Go run was scored by the server and stored as the course's 'pre' outcome.
    c = httpx.Client(base_url=base, timeout=60)
    r = c.post("/api/auth/login", json={"username": "clin", "password": PASSWORD})
    outcomes = c.get(
        f"/api/nfb/courses/{course['id']}/outcomes", headers={"Cookie": f"dbrain_session={r.cookies['dbrain_session']}"}
    ).json()
    c.close()
    (gng,) = [o for o in outcomes if o["kind"] == "gonogo"]
    sc = gng["scores"]
    assert gng["timepoint"] == "pre" and gng["via_display"] and sc["n_go"] + sc["n_nogo"] == 12
    assert sc["omissions"] == 0 and sc["commissions"] == 0 and 0 < sc["rt_mean_ms"] < 1500, sc

    lat = np.asarray(m["latencies"], float)
    p95 = float(np.percentile(lat, 95))
    print(
        f"display latency (sample arrival -> frame shown): n={lat.size} p50={np.percentile(lat, 50):.1f} ms p95={p95:.1f} ms max={lat.max():.1f} ms"
    )
    assert p95 <= LATENCY_P95_MS, p95
