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


def _ward_users(tmp_path) -> tuple[dict, str]:
    """A fresh DBRAIN_HOME with its SQLite database and the ward's three users of Site A (boss admin, clin
    clinician, mon technologist), made with ``dbrain admin``: the server's environment and database URL."""
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    for user, role in (("boss", "admin"), ("clin", "clinician"), ("mon", "technologist")):
        made = subprocess.run(
            [sys.executable, "-m", "dbrain", "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    return env, db


def _flow(tmp_path, feed, stream: str, after_restart=None, filters: str = "unfiltered") -> dict:
    """The must-show on the page: ``feed(base, monitor_headers, errors)`` replays the recording to bed ICU-1.

    ``filters``: what the strip's corner must say of its display filters.

    Returns the stored alarm, acknowledged, as read after the restart (``after_restart(base, clinician_headers)``
    may check more then).
    """
    expect = sync_api.expect
    env, db = _ward_users(tmp_path)
    shot = Path(os.environ.get("DBRAIN_E2E_SCREENSHOT", tmp_path / "ward.png"))
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

                # The recording is replayed to the bed: it goes live, the seizure alarm appears in the banner.
                feed_errors: list[str] = []
                feeder = threading.Thread(target=feed, args=(base, monitor, feed_errors), daemon=True)
                feeder.start()
                expect(bed1.locator(".bed-status")).to_have_attribute("data-state", "live", timeout=60_000)
                expect(bed1.locator(".bed-stream")).to_have_text(f"stream {stream}")
                expect(bed2.locator(".bed-status")).to_have_attribute("data-state", "none")  # nothing under another bed's name
                alarm = page.locator('#open-alarms li[data-type="seizure"]')
                expect(alarm).to_have_count(1, timeout=90_000)
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "1")
                expect(alarm.locator(".bed")).to_have_text("ICU-1")
                expect(alarm.locator(".t")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))  # clock time (time.js)
                expect(alarm).to_contain_text(re.compile(r"raised · confidence \d+ %"))  # a bare "82 %" read as P(seizure)
                expect(bed1).to_have_class(re.compile(r"\balarming\b"))
                # The strip is drawn, at the default fixed sensitivity (not chosen from the seizure's amplitude).
                expect(bed1.locator("canvas.strip")).to_have_attribute("data-uv-per-row", "100")
                expect(bed1.locator("canvas.strip")).to_have_attribute("data-filters", filters)
                page.screenshot(path=str(shot), full_page=True)

                # A clinician acknowledges it on the page, with a comment.
                alarm.locator("button.ack-button").click()
                expect(page.locator("#ack-form")).to_be_visible()
                page.fill("#ack-comment", "seen on the ward page, neurologist called")
                page.click("#ack-confirm")
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "0")
                done = page.locator('#done-alarms li[data-type="seizure"]')
                expect(done).to_have_count(1)
                ack_text = re.compile(r"^acknowledged by clin at \d\d:\d\d:\d\d: seen on the ward page, neurologist called$")
                expect(done.locator(".ack")).to_have_text(ack_text)
                feeder.join(180)
                assert not feeder.is_alive() and not feed_errors, feed_errors
                page.close()

            # The server restarts: the alarm and its acknowledgement are still there; the live frames are not.
            with running_server(env, db, tmp_path / "serve2.log", workers=0) as base:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                _sign_in(page, base)
                done = page.locator('#done-alarms li[data-type="seizure"]')
                expect(done).to_have_count(1)
                expect(done.locator(".ack")).to_have_text(ack_text)
                expect(page.locator("#alarm-banner")).to_have_attribute("data-count", "0")
                bed1 = page.locator('.bed:has(.bed-name:text-is("ICU-1"))')
                expect(bed1.locator(".bed-status")).to_have_attribute("data-state", "none")
                expect(bed1.locator(".bed-alarms li")).to_have_count(1)
                clin = _token(base, "clin")
                stored = httpx.get(f"{base}/api/ward/alarms", headers=clin).json()
                if stored and stored[0]["recording_id"]:  # linked: the alarm leads to its recording in the viewer
                    href = re.compile(rf"^/viewer/#rec={stored[0]['recording_id']}&t=\d+$")
                    expect(done.locator("a.rec-link")).to_have_attribute("href", href)
                if after_restart is not None:
                    after_restart(base, clin)
                page.close()
            assert not page_errors, page_errors
            assert len(stored) == 1 and stored[0]["ack"]["username"] == "clin"
            return stored[0]
        except Exception:
            for log in sorted(tmp_path.glob("*.log")):
                print(log.name, log.read_text()[-3000:])
            raise
        finally:
            browser.close()


def test_ward_alarm_appears_is_acknowledged_and_survives_a_restart(tmp_path):
    """Updates computed from the recording (ward_feed) posted once per replayed second, as the monitor posts."""
    alarm = _flow(tmp_path, _replay, "icu1-replay")
    raised = ward_feed.replay()[1][0]["alarm"]
    assert (alarm["type"], alarm["onset"], alarm["raised"], alarm["state"]) == (
        "seizure",
        raised["onset"],
        raised["raised"],
        "cleared",
    )


def test_ward_real_chain_stream_monitor_post(tmp_path):
    """The real chain: ``dbrain stream`` replays the recording over LSL, ``dbrain monitor --post`` detects the seizure
    and posts to the data centre, the page shows it; at the session's end the monitor's recording is uploaded and
    linked, and carries the alarm and the acknowledgement as annotations."""
    pytest.importorskip("mne_lsl", reason="dbrain stream/monitor need mne-lsl")
    stream = f"dbrain-ward-e2e-{os.getpid()}-{int(time.time())}"  # unique: other LSL streams may run on this machine
    out = tmp_path / "monitor-out"
    linked: dict = {}

    def feed(base, headers, errors):
        token_file = tmp_path / "monitor.token"
        token_file.write_text(headers["Authorization"].split(" ", 1)[1] + "\n")
        cmd = [sys.executable, "-m", "dbrain"]
        with open(tmp_path / "monitor.log", "w") as mlog, open(tmp_path / "stream.log", "w") as slog:
            monitor = subprocess.Popen(
                [*cmd, "monitor", "--stream", stream, "--out", str(out), "--until-end", "--speed", "2", "--timeout", "60",
                 "--post", base, "--bed", "ICU-1", "--token-file", str(token_file)],
                stdout=mlog, stderr=subprocess.STDOUT,
            )  # fmt: skip
            source = subprocess.Popen(
                [*cmd, "stream", str(ward_feed.SAMPLE), "--name", stream, "--speed", "2"], stdout=slog, stderr=subprocess.STDOUT
            )
            try:
                rc = monitor.wait(240)
            finally:
                for proc in (monitor, source):
                    if proc.poll() is None:
                        proc.terminate()
                        proc.wait(30)
        if rc != 0:
            errors.append(f"dbrain monitor exited {rc}: {(tmp_path / 'monitor.log').read_text()[-2000:]}")
            return
        # The session ends: its recording is uploaded with the monitor's token and linked to the bed's stream.
        with httpx.Client(base_url=base, timeout=60) as c:
            up = c.post(
                "/api/recordings", params={"filename": "recording.edf"}, content=(out / "recording.edf").read_bytes(),
                headers={**headers, "Content-Type": "application/octet-stream"},
            )  # fmt: skip
            if up.status_code != 201:
                errors.append(up.text)
                return
            r = c.post(
                "/api/ward/beds/ICU-1/recording", json={"stream": stream, "recording_id": up.json()["id"]}, headers=headers
            )
            if r.status_code != 200:
                errors.append(r.text)
                return
            linked.update(r.json())

    def annotations(base, clin):
        notes = httpx.get(f"{base}/api/recordings/{linked['recording_id']}/annotations", headers=clin).json()
        texts = [n["description"] for n in notes]
        assert any(t.startswith("ward alarm: seizure (raised at ") for t in texts), texts
        assert any(
            t.startswith("ward alarm seizure acknowledged by clin at ") and t.endswith("neurologist called") for t in texts
        ), texts

    # The monitor's strip comes through its display filters, which the strip's corner states.
    alarm = _flow(tmp_path, feed, stream, after_restart=annotations, filters="LFF 0.5 Hz · HFF 30 Hz")
    # The stored alarm is the monitor's: the same raise and onset as its alarms.tsv.
    import pandas as pd

    table = pd.read_csv(out / "alarms.tsv", sep="\t")
    seizure = table[table["type"] == "seizure"].iloc[0]
    assert alarm["raised"] == pytest.approx(seizure["raised"], abs=1e-3)
    assert alarm["onset"] == pytest.approx(seizure["onset"], abs=1e-3)
    assert alarm["recording_id"] == linked["recording_id"] and linked["alarms"] >= 1


def _sine_frames(t0: int, n: int, amplitude_uv: float, offset_uv: float = 0.0, **filters) -> list[dict]:
    """``n`` one-second frames from stream second ``t0``: channel A-B a 10 Hz sine of ``amplitude_uv`` (plus
    ``offset_uv``), C-D flat; ``filters`` (``lff``, ``hff``) as the strip states them."""
    import numpy as np

    sfreq, scale = 50, 0.1  # µV per int16 step
    frames = []
    for t in range(t0, t0 + n):
        x = offset_uv + amplitude_uv * np.sin(2 * np.pi * 10 * (t + np.arange(sfreq) / sfreq))
        data = [np.round(x / scale).astype(int).tolist(), [0] * sfreq]
        strip = {"sfreq": sfreq, "channels": ["A-B", "C-D"], "scale_uv": scale, "data": data, **filters}
        frames.append({"t": float(t), "wall": time.time(), "seizure_probability": 0.1, "dsa": None, "strip": strip})
    return frames


# Dark (trace-coloured) pixels of the flat channel's row away from its baseline: a neighbour's trace drawn into it.
_OVERDRAWN = """(c) => {
  const r = window.devicePixelRatio || 1, rows = Number(c.dataset.rowsHeight) * r;  // the footer's text lies below
  const ctx = c.getContext("2d"), w = c.width, h = c.height, rowH = rows / 2, y0 = rowH * 1.5;
  const img = ctx.getImageData(0, 0, w, h).data;
  let n = 0;
  for (let y = Math.ceil(rowH) + 1; y < rows; y++) {
    if (Math.abs(y - y0) <= 3) continue;
    for (let x = 60; x < w - 80; x++) {
      const i = 4 * (y * w + x);
      if (img[i + 3] > 0 && img[i] < 120 && img[i + 1] < 120 && img[i + 2] < 120) n++;
    }
  }
  return n;
}"""

# The first x (CSS px) of a red clip bar on the top edge of the strip's first row, right of the channel labels.
_CLIP_BAR_START = """(c) => {
  const r = window.devicePixelRatio || 1, w = c.width;
  const img = c.getContext("2d").getImageData(0, 0, w, Math.ceil(2 * r)).data;
  for (let x = Math.ceil(48 * r); x < w; x++) {
    for (let y = 0; y < Math.ceil(2 * r); y++) {
      const i = 4 * (y * w + x);
      if (img[i + 3] > 200 && img[i] > 150 && img[i + 1] < 100 && img[i + 2] < 100) return { x: x / r, w: c.clientWidth };
    }
  }
  return null;
}"""


def _one_bed(base: str):
    """Bed ICU-1 made by the admin; returns ``post(stream, frames)``, which posts frames to it as the monitor."""
    assert httpx.post(f"{base}/api/ward/beds", json={"name": "ICU-1"}, headers=_token(base, "boss")).status_code == 201
    monitor = _token(base, "mon")

    def post(stream: str, frames: list[dict]) -> None:
        body = {"stream": stream, "frames": frames, "alarms": []}
        r = httpx.post(f"{base}/api/ward/beds/ICU-1/updates", json=body, headers=monitor)
        assert r.status_code == 202, r.text

    return post


def test_ward_strip_fixed_sensitivity(tmp_path):
    """The strip is drawn at the user's fixed sensitivity, never auto-scaled: an EEG whose amplitude grows ×10 keeps
    its µV/row (and is clipped to its row, marked, never drawn over its neighbour); the control steps it, and the
    choice is the user's, kept on the server."""
    expect = sync_api.expect
    env, db = _ward_users(tmp_path)
    with sync_api.sync_playwright() as p, running_server(env, db, tmp_path / "serve.log", workers=0) as base:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            post = _one_bed(base)
            boss = _token(base, "boss")

            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()  # one context: a second tab below
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _sign_in(page, base)
            canvas = page.locator('.bed:has(.bed-name:text-is("ICU-1")) canvas.strip')
            expect(page.locator("#sens-label")).to_have_text("100 µV/row")

            # 20 µV: drawn at the default 100 µV/row (auto-scaling chose 50), nothing clipped.
            post("s", _sine_frames(0, 10, 20.0))
            expect(canvas).to_have_attribute("data-clipped", "", timeout=30_000)
            expect(canvas).to_have_attribute("data-uv-per-row", "100")
            expect(canvas).to_have_attribute("data-filters", "unfiltered")  # no filters stated: said so
            # The same EEG ×10 (200 µV): still 100 µV/row (auto-scaling chose 500); clipped to its row, and marked.
            post("s", _sine_frames(10, 10, 200.0))
            expect(canvas).to_have_attribute("data-clipped", "A-B", timeout=30_000)
            expect(canvas).to_have_attribute("data-uv-per-row", "100")
            assert canvas.evaluate(_OVERDRAWN) == 0  # the flat channel's row holds no part of A-B's trace

            # The control steps the sensitivity: more gain (50), less gain (200: still clipped, 500: not).
            page.click("#sens-more")
            expect(canvas).to_have_attribute("data-uv-per-row", "50")
            page.click("#sens-less")
            page.click("#sens-less")
            expect(canvas).to_have_attribute("data-uv-per-row", "200")
            expect(canvas).to_have_attribute("data-clipped", "A-B")
            page.click("#sens-less")
            expect(page.locator("#sens-label")).to_have_text("500 µV/row")
            expect(canvas).to_have_attribute("data-uv-per-row", "500")
            expect(canvas).to_have_attribute("data-clipped", "")
            expect(page.locator("#sens-label")).to_have_attribute("data-saved", "500")
            # A strip that states its display filters (the monitor's) is drawn about zero, not about its median, and
            # says which filters: 20 µV on an offset of 300 µV runs off its row at 500 µV/row (about the median it did not).
            post("s", _sine_frames(20, 10, 20.0, offset_uv=300.0, lff=0.5, hff=30.0))
            expect(canvas).to_have_attribute("data-filters", "LFF 0.5 Hz · HFF 30 Hz", timeout=30_000)
            expect(canvas).to_have_attribute("data-clipped", "A-B")

            # The choice is the user's: kept on the server, shown again after a reload; another user keeps the default.
            clin = _token(base, "clin")
            assert httpx.get(f"{base}/api/auth/me/settings", headers=clin).json()["ward_uv_per_row"] == 500
            assert httpx.get(f"{base}/api/auth/me/settings", headers=boss).json()["ward_uv_per_row"] is None
            page.reload()
            expect(page.locator("#sens-label")).to_have_text("500 µV/row")
            expect(canvas).to_have_attribute("data-uv-per-row", "500", timeout=30_000)
            # A viewer tab and the ward tab open side by side: each saves only what it changes (PATCH), so neither
            # puts back the other's older value (with whole-set PUTs the later save erased the other's change).
            viewer = page.context.new_page()
            viewer.on("pageerror", lambda exc: errors.append(str(exc)))
            viewer.goto(f"{base}/viewer/")
            viewer.wait_for_function("typeof saveSettings === 'function'")
            viewer.evaluate("async () => { await loadSettings(); }")  # the viewer has read the settings (500 then)
            page.click("#sens-less")  # the ward: 1000, after the viewer read
            expect(page.locator("#sens-label")).to_have_attribute("data-saved", "1000")
            assert viewer.evaluate("async () => await saveSettings({ channel_gains: { 'Cz': 7 } })") is True
            got = httpx.get(f"{base}/api/auth/me/settings", headers=clin).json()
            assert got["ward_uv_per_row"] == 1000 and got["channel_gains"] == {"Cz": 7.0}
            page.click("#sens-more")  # the ward again, after the viewer's save: the viewer's gain stays
            expect(page.locator("#sens-label")).to_have_attribute("data-saved", "500")
            got = httpx.get(f"{base}/api/auth/me/settings", headers=clin).json()
            assert got["ward_uv_per_row"] == 500 and got["channel_gains"] == {"Cz": 7.0}

            # The strip is drawn at its stream time: the real monitor's frames of a 2 mV step at stream time 14.3 s
            # (a new session on the bed) run off their rows from 14.3 s on the page's grid (15.3 s when a frame was
            # labelled with its second's end). Where: the start of Fp1's red clip bar, read from the canvas's pixels.
            from dbrain.monitor.tests.test_monitor import _marked_stream

            marked = [f for f, _, _ in _marked_stream(256.0, 14.3)]
            post("marked", marked)
            expect(canvas).to_have_attribute("data-clipped", re.compile(r"^Fp1,"), timeout=30_000)
            bar = canvas.evaluate(_CLIP_BAR_START)
            assert bar is not None
            t_start = marked[-1]["t"] + 1 - 10  # the strip's left edge (ward-draw.js: 10 s ending at the last frame's end)
            drawn = t_start + (bar["x"] + 1 - 48) * 10 / (bar["w"] - 48 - 34)  # the bar starts 1 px left of the sample
            assert 14.3 - 0.03 <= drawn <= 14.3 + 0.1, drawn
            assert not errors, errors
        except Exception:
            print((tmp_path / "serve.log").read_text()[-3000:])
            raise
        finally:
            browser.close()


# The strip's corner text against its traces (CSS px): the top of the grey corner text (#677486: the first pixel row
# with at least 8 pixels of that colour, so a grid line blended into a trace edge does not count) and the bottom of
# the dark trace pixels (#1d2430), between the channel labels and the scale bar.
_TEXT_AND_TRACES = """(c) => {
  const r = window.devicePixelRatio || 1, w = c.width, h = c.height;
  const img = c.getContext("2d").getImageData(0, 0, w, h).data;
  let textTop = null, traceBottom = null;
  for (let y = 0; y < h; y++) {
    let grey = 0;
    for (let x = Math.ceil(60 * r); x < w - Math.ceil(40 * r); x++) {
      const i = 4 * (y * w + x), R = img[i], G = img[i + 1], B = img[i + 2], A = img[i + 3];
      if (A < 100) continue;
      if (Math.abs(R - 0x67) < 12 && Math.abs(G - 0x74) < 12 && Math.abs(B - 0x86) < 12) grey++;
      if (R < 60 && G < 60 && B < 70) traceBottom = Math.max(traceBottom ?? 0, y / r);
    }
    if (grey >= 8 && textTop === null) textTop = y / r;
  }
  return { textTop, traceBottom, h: c.clientHeight, rows: Number(c.dataset.rowsHeight) };
}"""

# The stream time at which the probability trend's highest point is drawn (ward-draw.js: 600 s ending at the last
# frame's end, right of a 48 px label margin), from the centre of the topmost red pixels of the canvas.
_PEAK_TIME = """(c, tEnd) => {
  const r = window.devicePixelRatio || 1, w = c.width, h = c.height;
  const img = c.getContext("2d").getImageData(0, 0, w, h).data;
  for (let y = 0; y < h; y++) {
    const xs = [];
    for (let x = Math.ceil(48 * r); x < w; x++) {
      const i = 4 * (y * w + x);
      if (img[i + 3] > 150 && img[i] > 150 && img[i + 1] < 110 && img[i + 2] < 110) xs.push(x);
    }
    if (xs.length) {
      const x = (xs[0] + xs[xs.length - 1] + 1) / 2 / r;
      return { t: tEnd - 600 + (x - 48) * 600 / (c.clientWidth - 48), y: y / r, h: c.clientHeight };
    }
  }
  return null;
}"""


def test_ward_corner_text_below_the_traces_and_probability_at_its_second(tmp_path):
    """The strip's corner text (filters, sensitivity, span) lies under the bottom row, never over a trace; and a known
    seizure probability of a known second, posted by the real monitor, is drawn at that second's start (the time
    ``seizure_probability.parquet``, the report and the viewer give it), not half a second later."""
    expect = sync_api.expect
    env, db = _ward_users(tmp_path)
    from dbrain.monitor.tests.test_monitor import _probability_stream

    with sync_api.sync_playwright() as p, running_server(env, db, tmp_path / "serve.log", workers=0) as base:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            post = _one_bed(base)

            # one bed per row (a wide trend: ~2 px per second) at 2 device pixels per CSS pixel
            page = browser.new_context(viewport={"width": 1250, "height": 1000}, device_scale_factor=2).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _sign_in(page, base)
            bed = page.locator('.bed:has(.bed-name:text-is("ICU-1"))')
            strip, prob = bed.locator("canvas.strip"), bed.locator("canvas.prob")

            # Both rows at 200 µV on 100 µV/row: the bottom trace runs to its row's bottom edge; the text stays below it.
            frames = _sine_frames(0, 10, 200.0, lff=0.5, hff=30.0)
            for f in frames:
                f["strip"]["data"][1] = f["strip"]["data"][0]
            post("s", frames)
            expect(strip).to_have_attribute("data-clipped", "A-B,C-D", timeout=30_000)
            got = strip.evaluate(_TEXT_AND_TRACES)
            assert got["textTop"] is not None and got["traceBottom"] is not None, got
            assert got["traceBottom"] < got["textTop"], got  # no trace pixel at or below the text's top
            assert got["traceBottom"] <= got["rows"] < got["textTop"], got  # the text starts under the last row's edge
            assert got["textTop"] >= got["h"] - 14, got

            # A probability of 0.9 in second 12 (0 in every other), posted as the monitor posts it.
            marked, stamped = _probability_stream(256.0, 12, 0.9)
            assert (12, pytest.approx(0.9)) in stamped
            post("known-p", marked)
            expect(bed.locator(".bed-stream")).to_have_text("stream known-p", timeout=30_000)
            page.wait_for_timeout(500)  # the next animation frame has drawn the new stream
            peak = prob.evaluate(_PEAK_TIME, marked[-1]["t"] + 1)
            assert peak is not None and peak["y"] < 0.2 * peak["h"], peak  # the 0.9 point: near the top
            assert abs(peak["t"] - 12.0) <= 0.25, peak  # at the second's start (12.5 before: drawn at t + 0.5)
            assert not errors, errors
        except Exception:
            print((tmp_path / "serve.log").read_text()[-3000:])
            raise
        finally:
            browser.close()
