"""The browser viewer end to end: a real ``dbrain serve`` and worker, driven by Playwright in Debian's headless chromium.

Log in through the form, upload the bundled sample EDF, wait for the analysis, page through,
jump to a detected event, add an annotation, reload: the annotation is still there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dbrain

from .test_live import running_server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the python package playwright is not installed (pip install playwright)"
)
httpx = pytest.importorskip("httpx2")

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"
PASSWORD = "a long clinician password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_server(tmp_path):
    """A real ``dbrain serve`` with one worker on a free port; a clinician and a researcher made with ``dbrain admin create-user``."""
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    cmd = [sys.executable, "-m", "dbrain"]
    for user, role in (("clin", "clinician"), ("res", "researcher")):
        made = subprocess.run(
            [*cmd, "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    log_path = tmp_path / "serve.log"
    with running_server(env, db, log_path) as base:
        yield base, log_path


def test_viewer_login_upload_review_annotate_reload(live_server, tmp_path):
    base, log_path = live_server
    expect = sync_api.expect
    shot = Path(os.environ.get("DBRAIN_E2E_SCREENSHOT", tmp_path / "viewer.png"))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/")
            assert page.url.endswith("/viewer/")

            # Log in through the form.
            page.fill("#login-username", "clin")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            expect(page.locator("#whoami")).to_have_text("clin (clinician)")

            # Upload the sample through the file input; the page queues its review analysis and shows the status.
            page.set_input_files("#upload-file", str(SAMPLE))
            expect(page.locator("#rec-title")).to_contain_text("P-")
            status = page.locator("#analysis-status")
            expect(status).to_have_attribute("data-status", "done", timeout=120_000)
            expect(page.locator("#window-status")).to_contain_text("19 traces")  # double banana + the ECG below it

            # Page forward (button, then keyboard) and back.
            start = page.locator("#page-start")
            expect(start).to_have_attribute("data-start", "0")
            page.click("#next")
            expect(start).to_have_attribute("data-start", "10")
            page.keyboard.press("ArrowRight")
            expect(start).to_have_attribute("data-start", "20")
            page.click("#prev")
            expect(start).to_have_attribute("data-start", "10")
            page.select_option("#page-duration", "20")
            page.select_option("#montage", "average")
            expect(page.locator("#window-status")).to_contain_text("average")
            page.select_option("#page-duration", "10")
            page.click("#next")
            expect(start).to_have_attribute("data-start", "20")

            # The time cursor follows the mouse.
            box = page.locator("#eeg").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
            expect(page.locator("#cursor-time")).to_have_text(re.compile(r"^00:00:\d\d\.\d\d$"))  # clock time, the one convention

            # Jump to the detected seizure: the page moves to around its onset.
            # (the file's own "Seizure (IIIC …)" annotation is listed among the seizures too; take the detection)
            detected = page.locator('#events li[data-source="analysis"][data-type="sz"]').first
            expect(detected).to_contain_text("sz")
            onset = float(detected.get_attribute("data-onset"))
            detected.click()
            page.wait_for_function("Number(document.querySelector('#page-start').dataset.start) !== 20")
            new_start = float(start.get_attribute("data-start"))
            assert new_start <= onset <= new_start + 10, (onset, new_start)

            # Trend panel drawn from the analysis tables; a click moves the page.
            page.wait_for_function("S.trends && !!S.trends.seizure && !!S.trends.artifact && !!S.trends.dsa.left")
            tbox = page.locator("#trend").bounding_box()
            page.mouse.click(tbox["x"] + page.evaluate("trendX(35.3)"), tbox["y"] + tbox["height"] - 25)
            expect(start).to_have_attribute("data-start", "30")  # centred on 35 s
            page.click("#prev")
            expect(start).to_have_attribute("data-start", "20")

            # Add an annotation.
            page.click("#add-annotation")
            page.fill("#annotation-onset", "23.5")
            page.fill("#annotation-duration", "2")
            page.fill("#annotation-text", "e2e: rhythmic discharge")
            page.click("#annotation-save")
            added = page.locator('#events li[data-source="annotation"]')
            expect(added).to_contain_text("e2e: rhythmic discharge")

            # Drag across the traces: the form opens for a span; cancel it.
            page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 100)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 120, steps=5)
            page.mouse.up()
            expect(page.locator("#annotation-form")).to_be_visible()
            assert float(page.input_value("#annotation-duration")) > 1
            page.click("#annotation-cancel")

            # Edit the annotation's text.
            added.locator("button.edit").click()
            expect(page.locator("#annotation-text")).to_have_value("e2e: rhythmic discharge")
            page.fill("#annotation-text", "e2e: rhythmic discharge, 2 Hz")
            page.click("#annotation-save")
            expect(added).to_contain_text("e2e: rhythmic discharge, 2 Hz")
            expect(added).to_have_count(1)

            # Sign the report (clinician).
            page.once("dialog", lambda d: d.accept())
            page.click("#sign-report")
            # Signing prints the report again with the review on page 1: seconds, more on a loaded machine.
            expect(page.locator("#report-status")).to_have_attribute("data-status", "signed", timeout=60_000)
            page.screenshot(path=str(shot), full_page=True)

            # Reload: still signed in, same recording and page, the annotation still listed and drawn.
            page.reload()
            expect(added).to_contain_text("e2e: rhythmic discharge, 2 Hz")
            expect(start).to_have_attribute("data-start", "20")
            drawn = page.evaluate(
                "S.events.filter(e => e.source === 'annotation' && e.onset >= S.start && e.onset <= S.start + S.pageDur).map(e => e.description)"
            )
            assert drawn == ["e2e: rhythmic discharge, 2 Hz"]
            expect(page.locator("#report-status")).to_have_attribute("data-status", "signed")

            # A researcher reviews the same recording by pseudonym, without upload, annotation, identity or signing controls.
            page.click("#logout")
            expect(page.locator("#login-form")).to_be_visible()
            page.fill("#login-username", "res")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            expect(page.locator("#whoami")).to_have_text("res (researcher)")
            page.locator("#recordings li").first.click()
            expect(page.locator("#rec-title")).to_contain_text("P-")
            expect(page.locator("#window-status")).to_contain_text("traces")
            expect(added).to_contain_text("e2e: rhythmic discharge, 2 Hz")
            for hidden in (
                "#upload-file",
                "#add-annotation",
                "#sign-report",
                "#show-identity",
                "#run-analysis",
                "li button.edit",
            ):
                expect(page.locator(hidden)).to_be_hidden()
            assert not errors, errors
        except Exception:
            print(log_path.read_text()[-5000:])
            raise
        finally:
            browser.close()
