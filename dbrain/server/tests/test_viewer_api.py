"""The viewer's server side: compact int16 pages, gzip, ECG in every montage, user montages, event triage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import dbrain

from .conftest import upload

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"


def decode_int16(payload: bytes) -> tuple[dict, np.ndarray, np.ndarray]:
    """The Python twin of the viewer's decoder (static/viewer-data.js)."""
    assert payload[:4] == b"DBW1"
    (n,) = struct.unpack("<I", payload[4:8])
    head = json.loads(payload[8 : 8 + n])
    off = 8 + n
    m, ch = head["n_times"], len(head["channels"])
    if head["has_times"]:
        times = head["start"] + np.frombuffer(payload, "<f4", m, off).astype(float)
        off += 4 * m
    else:
        times = head["t0"] + np.arange(m) * head["dt"]
    planes = np.frombuffer(payload, np.uint8, 2 * m * ch, off).reshape(ch, 2, m).astype(np.int32)
    deltas = (planes[:, 0] | (planes[:, 1] << 8)).astype(np.uint16).astype(np.int16)
    counts = ((np.cumsum(deltas.astype(np.int64), axis=1) + 32768) % 65536) - 32768
    data = counts * np.asarray(head["scale"])[:, None]
    assert head["coding"] == "delta-int16-byteplanes" and off + 2 * m * ch == len(payload)
    return head, times, data


@pytest.fixture
def sample_rec(sqlite_world):
    up = upload(sqlite_world, SAMPLE)
    assert up.status_code == 201, up.text
    return up.json()


@pytest.mark.parametrize("max_points", [5000, 500])
def test_int16_page_matches_json_and_is_small(sqlite_world, sample_rec, max_points):
    w = sqlite_world
    url = f"/api/recordings/{sample_rec['id']}/window"
    params = {"start": 12, "duration": 10, "highpass": 0.5, "max_points": max_points}
    js = w.client.get(url, params=params, headers=w.as_("clin"))
    binary = w.client.get(url, params={**params, "format": "i16"}, headers={**w.as_("clin"), "Accept-Encoding": "gzip"})
    assert js.status_code == binary.status_code == 200
    assert binary.headers["content-type"] == "application/octet-stream"
    head, times, data = decode_int16(binary.content)
    ref = js.json()
    assert head["channels"] == ref["channels"] and head["channels"][-1] == "ECG"  # ECG below the EEG
    np.testing.assert_allclose(times, ref["times"], atol=2e-4)
    ref_data = np.asarray(ref["data"])
    # Quantisation: half a count of the channel's scale (+ the JSON's 0.001 µV rounding).
    assert np.all(np.abs(data - ref_data) <= np.asarray(head["scale"])[:, None] * 0.5 + 1e-3)
    if max_points == 5000:  # every sample: 19 traces x 2000 samples x 2 bytes + header
        assert head["decimation"] == "none" and len(binary.content) < 19 * 2000 * 2 + 4000
        assert len(binary.content) < len(js.content) / 3


def test_json_answers_are_gzipped(sqlite_world, sample_rec):
    w = sqlite_world
    r = w.client.get(
        f"/api/recordings/{sample_rec['id']}/window",
        params={"duration": 10},
        headers={**w.as_("clin"), "Accept-Encoding": "gzip"},
    )
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert int(r.headers["content-length"]) < len(r.content) / 2  # the wire size, vs the decoded body


@pytest.mark.parametrize("montage", ["double-banana", "transverse", "referential", "average", "laplacian"])
def test_ecg_is_last_in_every_montage(sqlite_world, sample_rec, montage):
    w = sqlite_world
    r = w.client.get(f"/api/recordings/{sample_rec['id']}/window", params={"montage": montage}, headers=w.as_("clin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["channels"][-1] == "ECG" and body["groups"][-1] == ["ECG"] and body["channels"].count("ECG") == 1


def test_custom_montage(sqlite_world, sample_rec):
    w = sqlite_world
    url = f"/api/recordings/{sample_rec['id']}/window"
    params = [
        ("montage", "custom"),
        ("derivation", "fp1-f7"),
        ("derivation", "C3-avg"),
        ("derivation", "Cz"),
        ("max_points", "5000"),
    ]
    r = w.client.get(url, params=params, headers=w.as_("clin"))
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["channels"] == ["Fp1-F7", "C3-Avg", "Cz", "ECG"] and body["montage"] == "custom"
    ref = w.client.get(url, params={"montage": "double-banana", "max_points": 5000}, headers=w.as_("clin")).json()
    np.testing.assert_allclose(body["data"][0], ref["data"][ref["channels"].index("Fp1-F7")], atol=2e-3)
    for bad in (
        [("montage", "custom")],
        [("montage", "custom"), ("derivation", "Fp1;drop")],
        [("montage", "custom"), ("derivation", "Xx1-Yy2")],
    ):
        r = w.client.get(url, params=bad, headers=w.as_("clin"))
        assert r.status_code == 422 and "\n" not in r.json()["detail"], r.text[:300]


def test_event_triage_is_stored_listed_audited_and_ledgered(sqlite_world, sample_rec, tmp_path):
    from dbrain.ledger import Ledger
    from dbrain.server.db import AuditEvent
    from dbrain.server.worker import Worker

    w = sqlite_world
    rid = sample_rec["id"]
    queued = w.client.post(f"/api/recordings/{rid}/analyses", json={"only": ["recording", "seizures"]}, headers=w.as_("tech"))
    assert queued.status_code == 202, queued.text
    worker = Worker(w.app.state.settings, worker_id="w")
    try:
        worker.run_once()
    finally:
        worker.close()
    aid = queued.json()["id"]
    assert w.client.get(f"/api/analyses/{aid}", headers=w.as_("tech")).json()["status"] == "done"
    events = w.client.get(f"/api/recordings/{rid}/events", headers=w.as_("tech")).json()
    detected = [e for e in events if e["source"] == "analysis"]
    assert detected and all(e["review"] is None and e["analysis_id"] == aid for e in detected)
    ev = next(e for e in detected if e["description"] == "sz")
    body = {"onset": ev["onset"], "event_type": ev["description"], "channel": ev["channel"], "decision": "accepted"}
    url = f"/api/analyses/{aid}/reviews"
    assert w.client.put(url, json=body, headers=w.as_("res")).status_code == 403
    assert w.client.put(url, json={**body, "onset": ev["onset"] + 1.5}, headers=w.as_("tech")).status_code == 404
    assert w.client.put(url, json=body, headers=w.as_("tech_b")).status_code == 404  # another site's analysis
    r = w.client.put(url, json=body, headers=w.as_("tech"))
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "accepted" and r.json()["reviewer_id"] == w.users["tech"]
    r = w.client.put(url, json={**body, "decision": "rejected"}, headers=w.as_("clin"))  # the last decision counts
    assert r.status_code == 200 and r.json()["decision"] == "rejected"
    listed = w.client.get(url, headers=w.as_("res")).json()
    assert [x["decision"] for x in listed] == ["rejected"] and listed[0]["reviewer_id"] == w.users["clin"]
    again = w.client.get(f"/api/recordings/{rid}/events", headers=w.as_("tech")).json()
    assert [
        e["review"] for e in again if e["source"] == "analysis" and e["onset"] == ev["onset"] and e["description"] == "sz"
    ] == ["rejected"]
    with w.session() as db:
        actions = [a.action for a in db.scalars(select(AuditEvent).where(AuditEvent.action.like("event.%")))]
    assert actions.count("event.accept") == 1 and actions.count("event.reject") == 1
    s = w.app.state.settings
    with Ledger(s.db_url, keys=s.home / "keys" / "ledger") as ledger:
        changes = [e for e in ledger.find(kind="annotation-changed") if e.record["details"].get("analysis_id") == aid]
    assert [c.record["details"]["change"] for c in changes] == ["event-accepted", "event-rejected"]
    # An event without channels (events.tsv "n/a", e.g. the file's scored segment) can be triaged too: the list
    # gives "n/a" as its channel and the review route used to answer 404 for it.
    bare = [e for e in detected if e["channel"] in (None, "n/a")]
    assert bare, "the sample's analysis should list an event without channels"
    nb = {"onset": bare[0]["onset"], "event_type": bare[0]["description"], "channel": bare[0]["channel"], "decision": "accepted"}
    assert w.client.put(url, json=nb, headers=w.as_("clin")).status_code == 200
    listed = w.client.get(f"/api/recordings/{rid}/events", headers=w.as_("tech")).json()
    assert [e["review"] for e in listed if e["source"] == "analysis" and e["description"] == nb["event_type"]] == ["accepted"]
    # The triage reaches the report and is sealed with the signature (#16: triage -> report and ledger).
    report = w.client.get(f"/api/analyses/{aid}/report", headers=w.as_("clin")).json()
    n = report["triage"]["n_events"]
    assert report["triage"]["rejected"] == 1 and report["triage"]["accepted"] == 1 and report["triage"]["not_reviewed"] == n - 2
    assert report["triage"]["by_type"] == {"sz": {"accepted": 0, "rejected": 1}, nb["event_type"]: {"accepted": 1, "rejected": 0}}
    # The draft PDF is printed with the triage so far; the signed one says who confirmed what, on page 1.
    draft = w.client.get(f"/api/analyses/{aid}/report/pdf", headers=w.as_("res"))
    assert draft.status_code == 200 and draft.content[:4] == b"%PDF"
    again = w.client.get(f"/api/analyses/{aid}/report/pdf", headers=w.as_("clin"))  # printed once per review set
    assert again.headers["etag"] == draft.headers["etag"] and again.content == draft.content
    page1 = _pdf_page1(draft.content, tmp_path)
    if page1 is not None:
        assert "Clinician review" in page1 and "DRAFT" in page1 and "0 confirmed, 1 rejected" in page1
        assert "Findings (automatic detections, before review)" in page1
    signed = w.client.post(f"/api/analyses/{aid}/report/sign", headers=w.as_("clin"))
    assert signed.status_code == 200, signed.text
    assert w.client.put(url, json=body, headers=w.as_("tech")).status_code == 409  # no triage after signing
    pdf = w.client.get(f"/api/analyses/{aid}/report/pdf", headers=w.as_("res"))
    assert pdf.status_code == 200 and pdf.headers["x-content-sha256"] == signed.json()["sha256"]
    original = w.client.get(f"/api/analyses/{aid}/files/report.pdf", headers=w.as_("res"))
    assert original.headers["x-content-sha256"] != signed.json()["sha256"]  # the analysis's own PDF is kept as written
    page1 = _pdf_page1(pdf.content, tmp_path)
    if page1 is not None:
        assert "Clinician review" in page1 and "DRAFT" not in page1 and "0 confirmed, 1 rejected" in page1
        assert "Signed" in page1 and "clin," in page1
    with Ledger(s.db_url, keys=s.home / "keys" / "ledger") as ledger:
        entry = [e for e in ledger.find(kind="report-signed") if e.record["details"].get("analysis_id") == aid][-1]
    sealed = entry.record["details"]["triage"]
    assert sealed["rejected"] == "1" and sealed["reviews_sha256"] == report["triage"]["reviews_sha256"]
    # The ledger's signature is over the PDF the clinician signed (the one with the review on page 1).
    assert [a["sha256"] for a in entry.record["artifacts"]] == [signed.json()["sha256"]]


def _pdf_page1(pdf: bytes, tmp_path) -> str | None:
    """Page 1 of a PDF as text (poppler's pdftotext); None when poppler is not installed."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        return None
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(path), "-"], capture_output=True, text=True, timeout=60
    )
    return " ".join(out.stdout.split())


def test_event_times_follow_the_one_clock_across_midnight(sqlite_world, tmp_path):
    # The sample (50 s) re-dated to start at 23:59:40: an event 30 s in happens on day 2.
    edf = bytearray(SAMPLE.read_bytes())
    edf[176:184] = b"23.59.40"
    path = tmp_path / "late.edf"
    path.write_bytes(bytes(edf))
    w = sqlite_world
    rec = upload(w, path).json()
    assert rec["start_time"].endswith("23:59:40") or "23:59:40" in rec["start_time"]
    made = w.client.post(
        f"/api/recordings/{rec['id']}/annotations", json={"onset": 30.0, "description": "x"}, headers=w.as_("tech")
    )
    assert made.status_code == 201, made.text
    events = w.client.get(f"/api/recordings/{rec['id']}/events", headers=w.as_("tech")).json()
    mine = [e for e in events if e["source"] == "annotation"]
    assert [e["time"] for e in mine] == ["D2 00:00:10"]
    assert all(e["time"].startswith(("D1 ", "D2 ")) for e in events)


def test_detected_spikes_carry_the_cutoff_and_the_count_below(sqlite_world, tmp_path):
    # Issue 18: the viewer states the confidence cut-off of the spike list and how many candidates lie below it.
    from dbrain.detect.spikes import SENSITIVITY_PRESETS
    from dbrain.server.worker import Worker
    from dbrain.simulate import write_simulated_edf

    w = sqlite_world
    edf, _ = write_simulated_edf(tmp_path / "spikes.edf", 60, spikes=10, seed=312, verbose="error")
    up = upload(w, edf)
    assert up.status_code == 201, up.text
    rid = up.json()["id"]
    queued = w.client.post(f"/api/recordings/{rid}/analyses", json={"only": ["recording", "spikes"]}, headers=w.as_("tech"))
    assert queued.status_code == 202, queued.text
    worker = Worker(w.app.state.settings, worker_id="w")
    try:
        worker.run_once()
    finally:
        worker.close()
    summary = w.client.get(f"/api/analyses/{queued.json()['id']}", headers=w.as_("tech")).json()
    assert summary["status"] == "done"
    events = w.client.get(f"/api/recordings/{rid}/events", headers=w.as_("tech")).json()
    spikes = [e for e in events if e["source"] == "analysis" and e["description"] == "spike"]
    assert spikes, "the sample has spikes at medium"
    assert {e["cutoff"] for e in spikes} == {SENSITIVITY_PRESETS["medium"]}
    assert all(isinstance(e["below_cutoff"], int) and e["below_cutoff"] >= 0 for e in spikes)
    assert all(e["cutoff"] is None for e in events if e["description"] != "spike")
    # The analysis states the count as page 1 of the report does: the cut-off and the candidates below it.
    n, below = len(spikes), spikes[0]["below_cutoff"]
    cut = f"{SENSITIVITY_PRESETS['medium']:.2f}"
    assert summary["spikes"] == (
        f"{n}; all at or above the medium cut-off (confidence {cut}); {below} candidate{'' if below == 1 else 's'} below it, not listed"
    )


def test_an_analysis_without_spikes_says_none_at_or_above_the_cutoff():
    from types import SimpleNamespace

    from dbrain.server.routes._common import _spike_text

    def row(**summary):
        return SimpleNamespace(summary={"steps": [{"name": "recording", "summary": {}}, {"name": "spikes", "summary": summary}]})

    text = _spike_text(row(computed=True, n_spikes=0, sensitivity="medium", cutoff=0.91, n_below_cutoff=34))
    assert text == (
        "none at or above the medium cut-off (confidence 0.91); 34 candidates below it, not listed: "
        "this does not exclude discharges"
    )
    assert _spike_text(row(computed=False, reason="no EEG")) is None
    assert _spike_text(SimpleNamespace(summary={"steps": [{"name": "recording", "summary": {}}]})) is None
    assert _spike_text(SimpleNamespace(summary=None)) is None


def test_an_analysis_states_its_screens_with_caveat_and_scope():
    # The API's analysis summary words each screen as page 1 of the report does: never a bare probability.
    from types import SimpleNamespace

    from dbrain.server.routes._common import _screen_texts

    adhd = {"outcome": "negative", "probability": 0.21, "interval": [0.08, 0.41], "threshold": 0.53, "reason": None,
            "caveat": "research screen, not a diagnosis", "scope": "validated only on 72 children aged 7-12 y"}  # fmt: skip
    dementia = {"outcome": "not applicable", "probability": None, "reason": "age 9 y is outside the 18-120 y"}
    row = SimpleNamespace(
        summary={"steps": [{"name": "diagnosis", "summary": {"screens": {"adhd": adhd, "dementia": dementia}}}]}
    )
    texts = _screen_texts(row)
    assert texts["adhd"].startswith("negative, probability 21 % (5–95 % interval 8 % to 41 %; threshold 53 %)")
    assert "Research screen, not a diagnosis; validated only on 72 children aged 7-12 y" in texts["adhd"]
    assert texts["dementia"] == "not applicable — age 9 y is outside the 18-120 y"
    assert _screen_texts(SimpleNamespace(summary={"steps": [{"name": "recording", "summary": {}}]})) is None
    assert _screen_texts(SimpleNamespace(summary=None)) is None
