"""Review ergonomics of the browser viewer, end to end in Debian's headless chromium (issue 16).

One real ``dbrain serve`` + worker for the module, with two analysed recordings: the bundled sample
(50 s, one detected seizure) and a simulated 90-min recording whose header start is 23:30:00, so it
crosses midnight (every time must then read ``D1 …``/``D2 …`` the same way in the list, toolbar and trends).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_live import _wait, running_server
from .test_viewer_e2e import CHROMIUM, CHROMIUM_ARGS, PASSWORD, SAMPLE, httpx, sync_api

expect = sync_api.expect
ANNOTATION_ONSET = 2100.4
#: The viewer's Content-Security-Policy (as the security-headers middleware sends it): the viewer must run under it.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)  # 23:30:00 + 35 min 0.4 s = D2 00:05:00


def _midnight_edf(folder: Path) -> Path:
    """A 90-min simulated EEG (2 seizures, 128 Hz) whose header says it started on 14 March 2026 at 23:30:00."""
    out = folder / "midnight.edf"
    cmd = [sys.executable, "-m", "dbrain", "simulate", "--duration", "90min", "--seizures", "2", "--spikes", "5"]
    cmd += ["--artifacts", "--seed", "3", "--sfreq", "128", "--out", str(out), "--overwrite"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with open(out, "r+b") as fid:  # EDF+ start: the recording field's year and the header's date and time
        head = bytearray(fid.read(256))
        # The simulator names the patient "Simulated_EEG" and de-identification on upload then scrubs "EEG"
        # from every channel label ("XXX Fp1-REF"); an anonymous EDF+ patient field avoids that.
        head[8:88] = b"X X X X".ljust(80)
        head[88:168] = head[88:168].decode("ascii").replace("Startdate 01-JAN-2020", "Startdate 14-MAR-2026").encode("ascii")
        head[168:184] = b"14.03.2623.30.00"
        fid.seek(0)
        fid.write(head)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review")
    home = tmp / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    cmd = [sys.executable, "-m", "dbrain"]
    for user, role in (("clin", "clinician"), ("res", "researcher")):
        made = subprocess.run(
            [*cmd, "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    midnight = _midnight_edf(tmp)
    log_path = tmp / "serve.log"
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(running_server(env, db, log_path))
        login = httpx.post(f"{base}/api/auth/login", json={"username": "clin", "password": PASSWORD}, timeout=60)
        assert login.status_code == 200, login.text
        session = {"Cookie": f"dbrain_session={login.cookies['dbrain_session']}", "X-CSRF-Token": login.json()["csrf_token"]}
        token = httpx.post(f"{base}/api/tokens", json={"name": "e2e"}, headers=session, timeout=60).json()["token"]
        client = stack.enter_context(httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}))
        csrf = {}
        recs, analyses = {}, {}
        for key, path in (("sample", SAMPLE), ("midnight", midnight)):
            up = client.post(
                "/api/recordings",
                params={"filename": path.name},
                content=path.read_bytes(),
                headers={**csrf, "Content-Type": "application/octet-stream"},
            )
            assert up.status_code == 201, up.text
            recs[key] = up.json()
            a = client.post(
                f"/api/recordings/{recs[key]['id']}/analyses", json={"only": ["recording", "seizures", "qeeg"]}, headers=csrf
            )
            assert a.status_code == 202, a.text
            analyses[key] = a.json()["id"]
        for key, aid in analyses.items():
            _wait(
                lambda aid=aid: client.get(f"/api/analyses/{aid}").json()["status"] in ("done", "failed"),
                600,
                f"analysis of {key}",
            )
            assert client.get(f"/api/analyses/{aid}").json()["status"] == "done", key
        note = client.post(
            f"/api/recordings/{recs['midnight']['id']}/annotations",
            json={"onset": ANNOTATION_ONSET, "description": "e2e after midnight"},
            headers=csrf,
        )
        assert note.status_code == 201, note.text
        yield {"base": base, "recs": recs, "analyses": analyses, "client": client, "home": home, "db": db, "log": log_path}


@pytest.fixture
def page(world):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            # Serve the page under the strict policy of the security headers (no inline script or style
            # attribute, no eval) and fail on any violation.
            pg.add_init_script(
                "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )

            def strict(route):
                resp = route.fetch()
                route.fulfill(response=resp, headers={**resp.headers, "content-security-policy": CSP})

            pg.route(re.compile(r"^.*/viewer/(index\.html)?$"), strict)
            pg.goto(f"{world['base']}/viewer/")
            # The policy is in force: an inline script is refused (and reported), then the record is cleared.
            pg.evaluate(
                "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.head.appendChild(s); s.remove(); }"
            )
            pg.wait_for_function("() => window.__csp.length > 0")
            assert pg.evaluate("window.__ran") is None
            pg.evaluate("window.__csp = []")
            pg.fill("#login-username", "clin")
            pg.fill("#login-password", PASSWORD)
            pg.click("#login-submit")
            expect(pg.locator("#whoami")).to_have_text("clin (clinician)")
            yield pg
            assert pg.evaluate("window.__csp") == []
            assert pg.evaluate("document.querySelector('script:not([src])')") is None
            assert not errors, errors
        except Exception:
            print(world["log"].read_text()[-3000:])
            raise
        finally:
            browser.close()


def _open(page, rec_id: int, start: float = 0):
    page.evaluate(f"openRecording({rec_id}, {start})")
    try:
        page.wait_for_function(f"() => S.window && S.window.recId === {rec_id} && S.trends !== null && S.events.length > 0")
    except Exception:
        state = "({w: !!S.window, t: S.trends !== null, msg: S.trendMessage, ev: S.events.length, a: S.analysis && S.analysis.status, "
        state += "st: $('#window-status').textContent, err: $('#trace-error').textContent, m: $('#message').textContent})"
        print("viewer state:", page.evaluate(state))
        raise


# Dark pixels drawn inside the trace area (traces are near-black; the empty page is off-white).
INK = """() => {
  const c = document.querySelector('#eeg'), L = S.layout, d = window.devicePixelRatio || 1;
  const img = c.getContext('2d').getImageData(L.left * d, L.top * d, L.width * d, L.height * d).data;
  let n = 0;
  for (let i = 0; i < img.length; i += 4) if (img[i] < 90 && img[i + 1] < 90 && img[i + 2] < 160) n++;
  return n;
}"""


def test_stale_traces_cleared_on_failed_request_and_on_recording_change(world, page):
    sample, midnight = world["recs"]["sample"]["id"], world["recs"]["midnight"]["id"]
    _open(page, sample)
    assert page.evaluate(INK) > 1000
    expect(page.locator("#channels input")).to_have_count(19)

    # A failed page request: the old traces and channel list go, the error is shown in the trace area.
    failing = re.compile(r"/window\?start=40&")
    page.route(
        failing, lambda route: route.fulfill(status=500, content_type="application/json", body='{"detail": "disk on fire"}')
    )
    page.keyboard.press("End")
    expect(page.locator("#trace-error")).to_be_visible()
    expect(page.locator("#trace-error")).to_contain_text("disk on fire")
    assert page.evaluate("S.window") is None and page.evaluate(INK) == 0
    expect(page.locator("#channels input")).to_have_count(0)
    page.unroute(failing)
    page.keyboard.press("Home")
    expect(page.locator("#trace-error")).to_be_hidden()
    page.wait_for_function("() => S.window !== null")

    # Recording change with the old recording's page answering late: it must never be drawn under the new header.
    held = []
    old_pages = re.compile(rf"/api/recordings/{sample}/window\?")
    page.route(old_pages, lambda route: held.append(route))
    page.evaluate("clearPages()")
    page.evaluate(f"openRecording({sample}, 20)")
    _wait(lambda: len(held) > 0, 30, "the held page request")
    page.evaluate(f"openRecording({midnight}, 0)")
    # Until the new page arrives nothing of the old recording is on screen.
    assert page.evaluate(f"S.window === null || S.window.recId === {midnight}")
    page.wait_for_function(f"() => S.window && S.window.recId === {midnight}")
    for route in held:
        route.continue_()
    time.sleep(1.5)
    page.unroute(old_pages)
    assert page.evaluate("S.window.recId") == midnight and page.evaluate("S.rec.id") == midnight
    expect(page.locator("#rec-title")).to_contain_text(f"#{midnight}")
    assert page.evaluate(INK) > 1000


def test_keys_work_after_a_dropdown_and_jump_to_the_next_seizure(world, page):
    _open(page, world["recs"]["sample"]["id"])
    start = page.locator("#page-start")
    expect(start).to_have_attribute("data-start", "0")
    page.select_option("#montage", "average")
    expect(page.locator("#window-status")).to_contain_text("average")
    page.focus("#montage")  # the worst case: focus still on the dropdown
    page.keyboard.press("ArrowRight")
    expect(start).to_have_attribute("data-start", "10")
    assert page.input_value("#montage") == "average"  # → paged, it did not change the montage
    page.select_option("#highpass", "1")
    page.keyboard.press("ArrowLeft")
    expect(start).to_have_attribute("data-start", "0")
    assert page.input_value("#highpass") == "1"
    page.keyboard.press("End")
    expect(start).to_have_attribute("data-start", "40")
    page.keyboard.press("Home")
    expect(start).to_have_attribute("data-start", "0")

    # s: the next seizure (detected, or marked in the file), whatever the list order.
    sz = page.evaluate("S.events.filter(isSeizure).map(e => e.onset)")
    assert page.evaluate("S.events.some(e => e.source === 'analysis' && e.description === 'sz')"), (
        "the sample's seizure was not detected"
    )
    page.keyboard.press("s")
    expect(page.locator("#event-time")).to_have_attribute("data-time", re.compile(r"^00:00:\d\d$"))
    s0 = float(start.get_attribute("data-start"))
    assert s0 <= min(sz) <= s0 + 10
    assert page.evaluate("isSeizure(S.selected)")
    active = page.locator("#events li.active")
    expect(active).to_have_count(1)
    assert float(active.get_attribute("data-onset")) == min(sz)
    # s again: the next seizure in list order — events sharing an onset (here the detection and the file's
    # annotation, all at 20 s) are visited one by one, never skipped.
    seen = [page.evaluate("[S.selected.onset, S.selected.description, S.selected.source]")]
    for _ in range(len(sz) - 1):
        page.keyboard.press("s")
        seen.append(page.evaluate("[S.selected.onset, S.selected.description, S.selected.source]"))
    assert len({tuple(x) for x in seen}) == len(sz) and [x[0] for x in seen] == sorted(sz)
    # n walks the filtered list in time order; with a type filter it only visits that type.
    page.select_option("#event-type-filter", "sz")
    page.keyboard.press("Home")
    page.evaluate("S.selected = null")
    page.keyboard.press("n")
    assert page.evaluate("S.selected.description") == "sz"
    # Typing in a text field is not hijacked.
    page.fill("#event-conf-filter", "50")
    page.focus("#event-conf-filter")
    before = start.get_attribute("data-start")
    page.keyboard.press("ArrowRight")
    assert start.get_attribute("data-start") == before


def test_triage_accept_is_persisted_audited_and_ledgered(world, page):
    from dbrain.ledger import Ledger

    rec, aid = world["recs"]["sample"]["id"], world["analyses"]["sample"]
    _open(page, rec)
    # Seizures are listed first: the detection and the file's own "Seizure (IIIC …)" annotation, both at 20 s.
    first = page.locator('#events li.event[data-source="analysis"]').first
    expect(first).to_have_attribute("data-type", re.compile(r"^(sz|Seizure.*)$"))
    first = page.locator('#events li.event[data-source="analysis"][data-type="sz"]').first
    first.locator("button.accept").click()
    expect(first).to_have_attribute("data-review", "accepted")
    onset = float(first.get_attribute("data-onset"))
    # Persisted: a reload shows it, and the API (what the report reads) has it.
    page.reload()
    page.wait_for_function("() => S.events.length > 0")
    expect(
        page.locator(
            f'#events li.event[data-source="analysis"][data-type="sz"][data-onset="{first.get_attribute("data-onset")}"]'
        ).first
    ).to_have_attribute("data-review", "accepted")
    reviews = world["client"].get(f"/api/analyses/{aid}/reviews").json()
    assert [(r["event_type"], r["decision"]) for r in reviews if abs(r["onset"] - onset) < 1e-6] == [("sz", "accepted")]
    # The key x rejects the selected event; the last decision counts.
    page.locator('#events li.event[data-source="analysis"][data-type="sz"]').first.click()
    page.keyboard.press("x")
    expect(page.locator("#events li.event.active")).to_have_attribute("data-review", "rejected")
    reviews = world["client"].get(f"/api/analyses/{aid}/reviews").json()
    assert [r["decision"] for r in reviews if abs(r["onset"] - onset) < 1e-6] == ["rejected"]
    with Ledger(world["db"], keys=world["home"] / "keys" / "ledger") as ledger:
        changes = [
            e.record["details"]["change"]
            for e in ledger.find(kind="annotation-changed")
            if e.record["details"].get("analysis_id") == aid
        ]
    assert changes[:2] == ["event-accepted", "event-rejected"]
    # The report the viewer links to is printed with the triage: page 1 says the seizure was rejected.
    expect(page.locator("#report-link")).to_have_attribute("href", f"/api/analyses/{aid}/report/pdf")
    pdf = world["client"].get(f"/api/analyses/{aid}/report/pdf")
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    if shutil.which("pdftotext"):
        (world["home"] / "triaged.pdf").write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", "-l", "1", str(world["home"] / "triaged.pdf"), "-"], capture_output=True, text=True
        ).stdout
        page1 = " ".join(text.split())
        assert "Clinician review" in page1 and "DRAFT" in page1
        assert re.search(r"Seizures 0 confirmed, 1 rejected, \d+ not reviewed", page1), page1[:600]
    # The confidence filter hides low-confidence detections; "hide rejected" hides the rejected one.
    page.check("#event-hide-rejected")
    expect(page.locator('#events li.event[data-review="rejected"]')).to_have_count(0)


def test_trend_zoom_hover_and_click_to_jump(world, page):
    _open(page, world["recs"]["midnight"]["id"], 1800)
    lanes = page.evaluate("trendLanes(S.trends).lanes.map(l => l.key)")
    assert lanes == ["dsaL", "dsaR", "aeegL", "aeegR", "asym", "art", "sz"]
    whole = page.evaluate("trendView()")
    assert whole["t0"] == 0 and whole["t1"] == pytest.approx(5400)
    page.select_option("#trend-span", "3600")
    view = page.evaluate("trendView()")
    assert view["t1"] - view["t0"] == pytest.approx(3600) and view["t0"] <= 1800 <= view["t1"]
    assert page.evaluate("document.activeElement.id") != "trend-span"
    # Click to jump: the page centres on the clicked time (on a whole second).
    box = page.locator("#trend").bounding_box()
    x = page.evaluate("trendX(3000.2)")
    lane_y = page.evaluate("trendLanes(S.trends).lanes.find(l => l.key === 'aeegL').y + 20")
    page.mouse.click(box["x"] + x, box["y"] + lane_y)
    page.wait_for_function("() => S.start !== 1800")
    per_px = 3600 / (box["width"] - page.evaluate("TR.left + TR.right"))
    assert abs(page.evaluate("S.start") - 2995) <= 2 * per_px + 1
    # Hover shows the values at that time.
    page.mouse.move(box["x"] + page.evaluate("trendX(3300)"), box["y"] + lane_y)
    hover = page.locator("#trend-hover")
    expect(hover).to_be_visible()
    expect(hover).to_contain_text("aEEG left")
    expect(hover).to_contain_text("seizure probability")
    expect(hover).to_contain_text("artifact")
    if os.environ.get("DBRAIN_E2E_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["DBRAIN_E2E_SCREENSHOT_DIR"]) / "viewer-trends.png"), full_page=True)


def test_time_reads_the_same_in_list_toolbar_and_trends_across_midnight(world, page):
    _open(page, world["recs"]["midnight"]["id"])
    # The list: the annotation after midnight reads D2 00:05:00.
    item = page.locator('#events li.event[data-source="annotation"]')
    expect(item.locator(".t")).to_have_text("D2 00:05:00")
    expect(page.locator("#page-start")).to_contain_text("D1 23:30:00")
    item.click()
    expect(page.locator("#event-time")).to_have_attribute("data-time", "D2 00:05:00")
    expect(page.locator("#page-start")).to_have_attribute("data-time", "D2 00:04:58")  # 2 s before the onset
    # The trends: hovering the event's mark shows the same time.
    box = page.locator("#trend").bounding_box()
    page.mouse.move(box["x"] + page.evaluate(f"trendX({ANNOTATION_ONSET})") + 1, box["y"] + 30)
    expect(page.locator("#trend-hover")).to_have_attribute("data-time", "D2 00:05:00")
    # A detected seizure after midnight: the same in the list and the hover.
    sz = page.evaluate("S.events.filter(e => isSeizure(e) && e.onset > 1800).map(e => [e.onset, clock(e.onset)])")
    assert sz, "no seizure detected after midnight"
    li = page.locator(f'#events li.event[data-source="analysis"][data-onset="{sz[0][0]:g}"]').first
    text = li.locator(".t").inner_text()
    assert text == sz[0][1] and text.startswith("D2 ")
    page.mouse.move(box["x"] + page.evaluate(f"trendX({sz[0][0]})"), box["y"] + 30)
    expect(page.locator("#trend-hover")).to_have_attribute("data-time", text)
    # The cursor on the traces uses the same clock.
    eeg = page.locator("#eeg").bounding_box()
    page.mouse.move(eeg["x"] + 200, eeg["y"] + 100)
    expect(page.locator("#cursor-time")).to_contain_text("D2 00:0")


def test_gain_calibration_channel_gain_montage_editor_and_measurement(world, page):
    _open(page, world["recs"]["sample"]["id"])
    expect(page.locator("#gain-label")).to_have_text("7 µV/mm")
    assert page.evaluate("S.window.channels[S.window.channels.length - 1]") == "ECG"
    # Screen calibration: the bar is 200 px; saying it is 40 mm makes 1 mm = 5 px.
    page.click("#calibrate")
    page.fill("#cal-mm", "40")
    page.click("#calibration-form button[type=submit]")
    # Kept on the server for this user and this screen size (not in the browser).
    page.wait_for_function("async () => (await api('/api/auth/me/settings')).calibrations[screenKey()] === 0.2")
    assert page.evaluate("localStorage.getItem('dbrain.mmPerPx')") is None
    assert page.evaluate("S.rows[0].pxPerUv") == pytest.approx(5 / 7)
    # Per-channel gain: Fp1-F7 to 10 µV/mm, kept in this browser.
    page.locator('#channels .ch:has(input[data-channel="Fp1-F7"]) button.ch-gain-down').click()
    assert page.evaluate("S.rows.find(r => r.name === 'Fp1-F7').pxPerUv") == pytest.approx(5 / 10)
    # Measurement: shift-drag on a trace gives duration and amplitude at that channel's gain.
    L = page.evaluate("({left: S.layout.left, width: S.layout.width, y: S.rows[3].y0})")
    eeg = page.locator("#eeg").bounding_box()
    x0, x1 = eeg["x"] + L["left"] + 0.2 * L["width"], eeg["x"] + L["left"] + 0.3 * L["width"]
    page.keyboard.down("Shift")
    page.mouse.move(x0, eeg["y"] + L["y"] - 10)
    page.mouse.down()
    page.mouse.move(x1, eeg["y"] + L["y"] + 10, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    m = page.locator("#measure")
    assert float(m.get_attribute("data-ms")) == pytest.approx(1000, rel=0.02)  # a tenth of a 10 s page
    assert float(m.get_attribute("data-uv")) == pytest.approx(20 / (5 / 7), rel=0.02)  # 20 px at 5/7 px per µV
    assert float(m.get_attribute("data-ptp")) > 0
    expect(page.locator("#annotation-form")).to_be_hidden()
    # A user montage, saved in this browser and drawn with the ECG below it.
    page.click("#montage-edit")
    page.fill("#montage-name", "mine")
    page.fill("#montage-derivations", "Fp1-F7\nC3-AVG\nCz")
    page.click("#montage-save")
    expect(page.locator("#window-status")).to_contain_text("4 traces")
    assert page.evaluate("S.window.channels") == ["Fp1-F7", "C3-Avg", "Cz", "ECG"]
    page.wait_for_function("async () => 'mine' in (await api('/api/auth/me/settings')).montages")
    # Saved on the server for the user: a browser with nothing stored (another workstation) has it too.
    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_function("() => S.window !== null")
    assert page.evaluate("[...document.querySelectorAll('#montage option')].map(o => o.value)")[-1] == "user:mine"
    assert page.evaluate("S.settings.montages.mine") == ["Fp1-F7", "C3-AVG", "Cz"]
    assert page.evaluate("S.settings.channel_gains['Fp1-F7']") == 10
    assert page.evaluate("mmPerPx()") == pytest.approx(0.2)
    # Each change is saved as a patch of what changed: the ward's field set meanwhile (another tab) is kept; the
    # channel back at the page's gain and a deleted montage are removed on the server (a key sent as null).
    page.evaluate("async () => await api('/api/auth/me/settings', { method: 'PATCH', json: { ward_uv_per_row: 200 } })")
    page.locator('#channels .ch:has(input[data-channel="Fp1-F7"]) button.ch-gain-up').click()
    page.wait_for_function("async () => !('Fp1-F7' in (await api('/api/auth/me/settings')).channel_gains)")
    page.select_option("#montage", "user:mine")
    page.click("#montage-edit")
    page.click("#montage-delete")
    page.wait_for_function("async () => !('mine' in (await api('/api/auth/me/settings')).montages)")
    got = page.evaluate("async () => await api('/api/auth/me/settings')")
    assert got["ward_uv_per_row"] == 200 and got["calibrations"] and got["channel_gains"] == {}


def test_a_failed_analysis_shows_its_reason_and_offers_no_report(world, page):
    rec = world["recs"]["sample"]
    failed = {
        "id": 999, "recording_id": rec["id"], "status": "failed", "only": [], "skip": [], "results": {},
        "error": "no usable EEG: every EEG channel is flat", "n_events": None,
        "created_at": "2026-12-06T10:00:00Z", "finished_at": "2026-12-06T10:01:00Z", "job": None, "ledger_index": None,
    }  # fmt: skip
    pattern = re.compile(rf"/api/recordings/{rec['id']}/analyses$")
    page.route(pattern, lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps([failed])))
    page.evaluate(f"openRecording({rec['id']}, 0)")
    status = page.locator("#analysis-status")
    expect(status).to_have_attribute("data-status", "failed")
    expect(status).to_contain_text("no usable EEG: every EEG channel is flat")
    expect(page.locator("#report-box")).to_be_hidden()
    expect(page.locator("#sign-report")).to_be_hidden()
    page.wait_for_function("() => S.window !== null")
    assert page.evaluate("S.trends") is None
    assert "analysis failed" in page.evaluate("S.trendMessage")
