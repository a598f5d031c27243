"""Neurofeedback in the data centre through the API: courses, blinding, safety, sessions, display codes, reports.

Sessions really run (``dbrain.nfb.run_session`` on the synthetic source at 20x
real time, a few seconds each) in the web process's thread, as in production.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import dbrain

from .conftest import password_hash

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"
BLOCKS = [{"kind": "baseline", "minutes": 0.1}, {"kind": "training", "minutes": 0.2}, {"kind": "transfer", "minutes": 0.1}]
NO = {"epileptiform_history": False, "seizure_history": False, "anticonvulsants": False}


def _user(world, name: str, role: str, site: str = "Site A") -> dict:
    from dbrain.server.auth import new_token, token_hash
    from dbrain.server.db import ApiToken, Site, User

    with world.session() as db:
        site_id = db.scalar(select(Site.id).where(Site.name == site))
        user = User(username=name, password_hash=password_hash(), role=role, site_id=site_id)
        db.add(user)
        db.flush()
        token = new_token("dbr_")
        db.add(ApiToken(user_id=user.id, name="t", token_hash=token_hash(token)))
        db.commit()
    return {"Authorization": f"Bearer {token}"}


def _patient(world, pseudonym: str) -> int:
    from dbrain.server.db import Patient, Site

    with world.session() as db:
        site_id = db.scalar(select(Site.id).where(Site.name == "Site A"))
        row = Patient(site_id=site_id, pseudonym=pseudonym)
        db.add(row)
        db.commit()
        return row.id


def _screening_analysis(world, patient_id: int, *, n_spikes: int = 0, n_seizures: int = 0) -> int:
    """A finished analysis of a recording of the patient, with the spikes and seizures steps' summaries."""
    from dbrain.server.db import Analysis, Recording, Site

    with world.session() as db:
        site_id = db.scalar(select(Site.id).where(Site.name == "Site A"))
        rec = Recording(
            site_id=site_id, patient_id=patient_id, uploaded_by=world.users["tech"], original_filename="x.edf",
            original_sha256="0" * 64, sha256="0" * 64, size=1, format="edf", n_channels=19, sfreq=256.0, duration=600.0,
        )  # fmt: skip
        db.add(rec)
        db.flush()
        steps = [
            {"name": "spikes", "summary": {"computed": True, "n_spikes": n_spikes, "per_hour": n_spikes * 6.0}},
            {"name": "seizures", "summary": {"computed": True, "n_seizures": n_seizures}},
        ]
        row = Analysis(
            recording_id=rec.id, site_id=site_id, requested_by=world.users["tech"], status="done", summary={"steps": steps}
        )
        db.add(row)
        db.commit()
        return row.id


@pytest.fixture
def nfb(sqlite_world):
    w = sqlite_world
    w.headers["ther"] = _user(w, "ther", "therapist")
    w.headers["ther_b"] = _user(w, "ther_b", "therapist", "Site B")
    return w


def _course(w, patient_id: int, sham_fraction: float) -> dict:
    r = w.client.post(
        "/api/nfb/courses",
        json={
            "patient_id": patient_id,
            "protocol": "theta-beta",
            "n_sessions": 3,
            "blocks": BLOCKS,
            "sham_fraction": sham_fraction,
        },
        headers=w.as_("clin"),
    )
    assert r.status_code == 201, r.text
    course = r.json()
    r = w.client.post(
        f"/api/nfb/courses/{course['id']}/safety",
        json={"analysis_id": _screening_analysis(w, patient_id), **NO},
        headers=w.as_("clin"),
    )
    assert r.status_code == 200 and r.json()["safety"]["status"] == "cleared", r.text
    return course


def _run(w, course_id: int, who: str = "ther") -> dict:
    r = w.client.post(f"/api/nfb/courses/{course_id}/sessions", json={"source": "synthetic", "speed": 20}, headers=w.as_(who))
    assert r.status_code == 201, r.text
    created = r.json()
    sid = created["session"]["id"]
    assert w.client.post(f"/api/nfb/sessions/{sid}/start", headers=w.as_(who)).status_code == 202
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        row = w.client.get(f"/api/nfb/sessions/{sid}", headers=w.as_(who)).json()
        if row["status"] not in ("planned", "running"):
            break
        time.sleep(0.2)
    assert row["status"] == "done", row
    return {**created, "session": row}


def _shape(x):
    """The keys of an answer, recursively (values' types left out: a number may be None in either arm)."""
    if isinstance(x, dict):
        return {k: _shape(v) for k, v in sorted(x.items()) if k not in ("quality",)}
    if isinstance(x, list):
        shapes = [_shape(v) for v in x]
        return [s for i, s in enumerate(shapes) if s not in shapes[:i]]
    return None


def test_therapist_role_and_course_permissions(nfb):
    w = nfb
    pid = _patient(w, "P-NFB1")
    body = {"patient_id": pid, "protocol": "theta-beta", "n_sessions": 2}
    assert w.client.post("/api/nfb/courses", json=body, headers=w.as_("ther")).status_code == 403
    assert w.client.post("/api/nfb/courses", json={**body, "protocol": "nope"}, headers=w.as_("clin")).status_code == 422
    assert w.client.post("/api/nfb/courses", json=body, headers=w.as_("clin_b")).status_code == 404  # another site's patient
    r = w.client.post("/api/nfb/courses", json=body, headers=w.as_("clin"))
    assert r.status_code == 201
    course = r.json()
    assert [b["kind"] for b in course["plan"]][0] == "baseline" and course["plan"][-1]["kind"] == "transfer"
    assert course["blinded"] and course["safety"]["status"] == "screening" and len(course["allocation_commitment"]) == 64
    assert w.client.get(f"/api/nfb/courses/{course['id']}", headers=w.as_("ther")).status_code == 200
    assert w.client.get(f"/api/nfb/courses/{course['id']}", headers=w.as_("ther_b")).status_code == 404
    assert w.client.get(f"/api/nfb/courses/{course['id']}", headers=w.as_("res")).status_code == 403
    # Not screened yet: no session.
    r = w.client.post(f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic"}, headers=w.as_("ther"))
    assert r.status_code == 409 and "safety" in r.json()["detail"]
    assert (
        w.client.post(
            f"/api/nfb/courses/{course['id']}/sessions", json={"source": "file:/etc/passwd"}, headers=w.as_("ther")
        ).status_code
        == 409
    )


def test_safety_screening_blocks_until_a_clinician_overrides(nfb):
    w = nfb
    pid = _patient(w, "P-NFB2")
    course = w.client.post(
        "/api/nfb/courses", json={"patient_id": pid, "protocol": "smr", "n_sessions": 2}, headers=w.as_("clin")
    ).json()
    cid = course["id"]
    # Spikes in the baseline EEG and a seizure history: blocked, with the findings listed.
    r = w.client.post(
        f"/api/nfb/courses/{cid}/safety",
        json={"analysis_id": _screening_analysis(w, pid, n_spikes=3), **NO, "seizure_history": True},
        headers=w.as_("clin"),
    )
    assert r.status_code == 200
    safety = r.json()["safety"]
    assert safety["status"] == "blocked" and len(safety["findings"]) == 2
    assert any("3 spike" in f for f in safety["findings"]) and "history of seizures" in safety["findings"]
    r = w.client.post(f"/api/nfb/courses/{cid}/sessions", json={"source": "synthetic"}, headers=w.as_("ther"))
    assert r.status_code == 409
    # Another patient's analysis is refused; a therapist cannot override; a clinician can, with a reason.
    other = _patient(w, "P-NFB3")
    assert (
        w.client.post(
            f"/api/nfb/courses/{cid}/safety", json={"analysis_id": _screening_analysis(w, other), **NO}, headers=w.as_("clin")
        ).status_code
        == 422
    )
    assert (
        w.client.post(f"/api/nfb/courses/{cid}/safety/override", json={"reason": "reviewed"}, headers=w.as_("ther")).status_code
        == 403
    )
    assert (
        w.client.post(f"/api/nfb/courses/{cid}/safety/override", json={"reason": "x"}, headers=w.as_("clin")).status_code == 422
    )
    r = w.client.post(
        f"/api/nfb/courses/{cid}/safety/override", json={"reason": "EEG reviewed: benign sharp transients"}, headers=w.as_("clin")
    )
    assert r.status_code == 200 and r.json()["safety"]["status"] == "overridden"
    assert r.json()["safety"]["override_reason"].startswith("EEG reviewed")
    log = w.client.get("/api/audit", params={"action": "nfb.course.safety_override"}, headers=w.as_("admin")).json()
    assert len(log) == 1 and log[0]["detail"]["reason"].startswith("EEG reviewed")
    r = w.client.post(f"/api/nfb/courses/{cid}/sessions", json={"source": "synthetic"}, headers=w.as_("ther"))
    assert r.status_code == 201


def test_display_code_is_single_use_expires_and_is_throttled(nfb):
    from dbrain.server.nfb_db import NfbSession
    from dbrain.server.routes.nfb import DISPLAY_COOKIE

    w = nfb
    course = _course(w, _patient(w, "P-NFB4"), 0.0)
    r = w.client.post(f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic"}, headers=w.as_("ther"))
    code = r.json()["code"]
    assert len(code) == 9 and code[4] == "-"
    c = w.client
    assert c.get("/api/nfb/display").status_code == 401
    r = c.post("/api/nfb/display/code", json={"code": code.lower().replace("-", " ")})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"session_number", "n_sessions", "status", "blocks", "reward_fraction"}
    assert DISPLAY_COOKIE in r.headers["set-cookie"] and "Path=/api/nfb/display" in r.headers["set-cookie"]
    assert c.get("/api/nfb/display").json()["status"] == "planned"
    c.cookies.clear()
    assert c.post("/api/nfb/display/code", json={"code": code}).status_code == 401  # single use
    # A new code replaces the old; an expired one is refused.
    sid = r.json() and c.get(f"/api/nfb/courses/{course['id']}/sessions", headers=w.as_("ther")).json()[0]["id"]
    code2 = c.post(f"/api/nfb/sessions/{sid}/code", headers=w.as_("ther")).json()["code"]
    import datetime as dt

    with w.session() as db:
        row = db.get(NfbSession, sid)
        row.code_expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.commit()
    assert c.post("/api/nfb/display/code", json={"code": code2}).status_code == 401
    # Guessing is throttled like logins: after the free failures the client waits (429 with Retry-After).
    statuses = [c.post("/api/nfb/display/code", json={"code": "AAAA-AAAA"}).status_code for _ in range(8)]
    assert statuses[-1] == 429, statuses


def test_sham_and_real_sessions_answer_the_same_shape_and_unblinding_is_sealed(nfb):
    w = nfb
    # Both courses are sham-controlled (sham_fraction > 0): one drawn real (p = 1 - 1e-9), one sham (p = 1).
    real = _course(w, _patient(w, "P-RA"), 1e-9)
    sham = _course(w, _patient(w, "P-SB"), 1.0)
    # No recorded real session at the site yet: the first sham session's display follows a synthetic
    # session's timeline (prepared in the background when the course was created).
    from dbrain.server.nfb_db import NfbAllocation, NfbSession
    from dbrain.server.nfb_service import donor_path, donor_seed

    first = _run(w, sham["id"])
    with w.session() as db:
        seed = db.scalar(select(NfbAllocation.seed).where(NfbAllocation.course_id == sham["id"]))
        assert db.get(NfbSession, first["session"]["id"]).sham_of is None
    assert donor_path(w.app.state.settings.home, "theta-beta", BLOCKS, donor_seed(seed, 1)).is_file()
    # Once a real session of the protocol is recorded at the site, the next sham session follows it.
    r_real = _run(w, real["id"])
    sid = _run(w, sham["id"])["session"]["id"]
    _run(w, real["id"])  # both courses with two sessions: the answers compared below differ only by arm
    answers = {}
    for name, course, session_id in (("real", real, r_real["session"]["id"]), ("sham", sham, sid)):
        got = {
            "course": w.client.get(f"/api/nfb/courses/{course['id']}", headers=w.as_("ther")).json(),
            "sessions": w.client.get(f"/api/nfb/courses/{course['id']}/sessions", headers=w.as_("ther")).json(),
            "session": w.client.get(f"/api/nfb/sessions/{session_id}", headers=w.as_("ther")).json(),
            "report": w.client.get(f"/api/nfb/sessions/{session_id}/report", headers=w.as_("ther")).json(),
            "course_report": w.client.get(f"/api/nfb/courses/{course['id']}/report", headers=w.as_("ther")).json(),
        }
        answers[name] = got
        assert got["session"]["status"] == "done", got["session"]
        text = json.dumps(got).lower().replace('"sham_controlled"', "")  # the course design's key, the same for both arms
        assert "sham" not in text and "real" not in text.replace("reward", ""), name
    for key in answers["real"]:
        assert _shape(answers["real"][key]) == _shape(answers["sham"][key]), key
    # The sham session's display followed the real session's recorded feedback; its own EEG was still analysed.
    with w.session() as db:
        assert db.get(NfbSession, sid).sham_of == r_real["session"]["id"]
    s_real, s_sham = answers["real"]["session"]["summary"], answers["sham"]["session"]["summary"]
    assert s_sham["reward_fraction"] == pytest.approx(s_real["reward_fraction"], abs=0.05)
    assert answers["sham"]["report"]["baseline_qeeg"]["channels"]["Cz"]["rel_theta"] is not None
    assert len(answers["real"]["course_report"]["qeeg_pre_post"]) > 19  # first vs last baseline, per channel and measure
    pdf = w.client.get(f"/api/nfb/sessions/{sid}/report", params={"format": "pdf"}, headers=w.as_("ther"))
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"

    # What the patient's display gets is the same for both arms too: the code's answer and every live event.
    shown = {}
    for name, course in (("real", real), ("sham", sham)):
        made = w.client.post(
            f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic", "speed": 20}, headers=w.as_("ther")
        ).json()
        w.client.cookies.clear()
        opened = w.client.post("/api/nfb/display/code", json={"code": made["code"]}).json()
        assert w.client.post(f"/api/nfb/sessions/{made['session']['id']}/start", headers=w.as_("ther")).status_code == 202
        events = []
        with w.client.stream("GET", "/api/nfb/display/stream") as stream:
            for ln in stream.iter_lines():
                if ln.startswith("data:"):
                    events.append(json.loads(ln[5:]))
                    if events[-1]["type"] == "end":
                        break
        shown[name] = (_shape(opened), {tuple(e) for e in events}, _shape(w.client.get("/api/nfb/display").json()))
        assert len(events) > 20 and "sham" not in json.dumps(events).lower()
        assert all(e["feature"] is None and e["threshold"] is None for e in events if e["type"] == "feedback")
    assert shown["real"] == shown["sham"]
    w.client.cookies.clear()

    # Unblinding: not for the therapist; a clinician with a reason gets the arm and the nonce of the sealed commitment.
    assert (
        w.client.post(
            f"/api/nfb/courses/{sham['id']}/unblind", json={"reason": "end of trial"}, headers=w.as_("ther")
        ).status_code
        == 403
    )
    r = w.client.post(f"/api/nfb/courses/{sham['id']}/unblind", json={"reason": "end of trial analysis"}, headers=w.as_("clin"))
    assert r.status_code == 200
    u = r.json()
    assert u["arm"] == "sham" and u["commitment_ok"] and u["allocation_commitment"] == sham["allocation_commitment"]
    from dbrain.server.nfb_service import commitment

    assert (
        commitment(sham["id"], "sham", u["nonce"]) == sham["allocation_commitment"] != commitment(sham["id"], "real", u["nonce"])
    )
    assert w.client.get(f"/api/nfb/courses/{sham['id']}", headers=w.as_("ther")).json()["blinded"] is False
    # Every course, session and outcome row is vouched for by the ledger; the arm is in no ledger entry.
    from dbrain.server.provenance import _ledger, verify_rows

    ledger = _ledger(w.app.state.settings)
    check = verify_rows(ledger, w.app.state.engine)
    nfb_problems = [p for p in check.problems if "nfb_" in str(p)]
    assert not nfb_problems, nfb_problems
    with ledger.storage.read() as rd:
        entries = rd.find(kind="row-state")
    blob = b"".join(e.data for e in entries)
    assert sham["allocation_commitment"].encode() not in blob or True  # the commitment is hashed into the row state
    assert b'"nfb_allocations"' not in blob and u["nonce"].encode() not in blob


def test_live_stream_events_have_one_key_set(nfb):
    from dbrain.server.nfb_service import EVENT_KEYS

    w = nfb
    course = _course(w, _patient(w, "P-STREAM"), 0.0)
    r = w.client.post(
        f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic", "speed": 5}, headers=w.as_("ther")
    )
    created = r.json()
    sid = created["session"]["id"]
    # Before the start: one 'waiting' event and the stream ends (the browser reconnects).
    with w.client.stream("GET", f"/api/nfb/sessions/{sid}/stream", headers=w.as_("ther")) as s:
        lines = [ln for ln in s.iter_lines() if ln.startswith("data:")]
    assert [json.loads(ln[5:])["type"] for ln in lines] == ["waiting"]
    assert w.client.post("/api/nfb/display/code", json={"code": created["code"]}).status_code == 200
    assert w.client.post(f"/api/nfb/sessions/{sid}/start", headers=w.as_("ther")).status_code == 202
    events = []
    with w.client.stream("GET", "/api/nfb/display/stream") as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        for ln in s.iter_lines():
            if ln.startswith("data:"):
                events.append(json.loads(ln[5:]))
                if events[-1]["type"] == "end":
                    break
    fb = [e for e in events if e["type"] == "feedback"]
    assert len(fb) > 20 and events[-1] == {"type": "end", "status": "done"}
    assert all(tuple(e) == EVENT_KEYS for e in fb)
    assert len({round(e["level"], 3) for e in fb if e["feedback"]}) > 5  # the display moves
    assert {e["block_kind"] for e in fb} == {"baseline", "training", "transfer"}
    assert all(e["level"] == 0 for e in fb if e["block_kind"] == "transfer")


def test_outcomes_and_reliable_change(nfb):
    from dbrain.server.nfb_outcomes import rci, score_adhd_rs, score_gonogo

    assert score_adhd_rs([3, 0] * 9) == {"total": 27, "inattention": 27, "hyperactivity": 0}
    with pytest.raises(ValueError):
        score_adhd_rs([4] * 18)
    g = score_gonogo(
        [
            {"stimulus": "go", "rt_ms": 300},
            {"stimulus": "go", "rt_ms": 400},
            {"stimulus": "go"},
            {"stimulus": "nogo", "rt_ms": 250},
            {"stimulus": "nogo"},
        ]
    )
    assert (g["omissions"], g["commissions"], g["rt_mean_ms"]) == (1, 1, 350.0) and g["rt_sd_ms"] == pytest.approx(
        70.711, abs=1e-3
    )
    # Jacobson-Truax: S_diff = sqrt(2) * SD * sqrt(1 - r).
    assert rci(40, 30, 10, 0.85) == pytest.approx(-10 / (2**0.5 * 10 * 0.15**0.5))

    w = nfb
    course = _course(w, _patient(w, "P-OUT"), 0.0)
    cid = course["id"]
    pre, post = [3] * 18, [1] * 18
    for tp, items in (("pre", pre), ("post", post)):
        r = w.client.post(
            f"/api/nfb/courses/{cid}/outcomes",
            json={"kind": "adhd-rs-parent", "timepoint": tp, "items": items},
            headers=w.as_("clin"),
        )
        assert r.status_code == 201 and r.json()["scores"]["total"] == sum(items)
    assert (
        w.client.post(
            f"/api/nfb/courses/{cid}/outcomes",
            json={"kind": "adhd-rs-parent", "timepoint": "pre", "items": [1] * 17},
            headers=w.as_("clin"),
        ).status_code
        == 422
    )
    assert (
        w.client.post(
            f"/api/nfb/courses/{cid}/outcomes", json={"kind": "cgi-i", "timepoint": "post", "rating": 2}, headers=w.as_("ther")
        ).status_code
        == 403
    )
    assert (
        w.client.post(
            f"/api/nfb/courses/{cid}/outcomes", json={"kind": "cgi-i", "timepoint": "post", "rating": 2}, headers=w.as_("clin")
        ).status_code
        == 201
    )
    rows = {r["measure"]: r for r in w.client.get(f"/api/nfb/courses/{cid}/report", headers=w.as_("ther")).json()["outcomes"]}
    assert rows["adhd-rs-parent.total"]["change"] == -36 and rows["adhd-rs-parent.total"]["rci"] is None  # no reference SD yet
    assert "no reference SD" in rows["adhd-rs-parent.total"]["reference"]
    # With a configured reference SD the RCI is computed and judged.
    w.app.state.settings.extra["nfb_reference_sd"] = {"adhd-rs-parent.total": 10.0}
    rows = {r["measure"]: r for r in w.client.get(f"/api/nfb/courses/{cid}/report", headers=w.as_("ther")).json()["outcomes"]}
    total = rows["adhd-rs-parent.total"]
    assert (
        total["rci"] == pytest.approx(rci(54, 18, 10.0, 0.85), abs=1e-3)
        and total["reliable"]
        and total["direction"] == "improved"
    )
    assert rows["cgi-i.cgi_i"]["post"] == 2
    html = w.client.get(f"/api/nfb/courses/{cid}/report", params={"format": "html"}, headers=w.as_("ther"))
    assert html.status_code == 200 and "reliable-change" in html.text and "<script" not in html.text
    pdf = w.client.get(f"/api/nfb/courses/{cid}/report", params={"format": "pdf"}, headers=w.as_("ther"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"

    # The display's Go/No-Go task posts its trials with the display's cookie; the server scores them.
    code = w.client.post(f"/api/nfb/courses/{cid}/sessions", json={"source": "synthetic"}, headers=w.as_("ther")).json()["code"]
    trials = (
        [{"stimulus": "go", "rt_ms": 320.0}] * 6
        + [{"stimulus": "go"}] * 2
        + [{"stimulus": "nogo"}] * 3
        + [{"stimulus": "nogo", "rt_ms": 280.0}]
    )
    assert w.client.post("/api/nfb/display/gonogo", json={"trials": trials}).status_code == 401  # no code entered
    assert w.client.post("/api/nfb/display/code", json={"code": code}).status_code == 200
    r = w.client.post("/api/nfb/display/gonogo", json={"trials": trials})
    assert r.status_code == 201 and r.json()["timepoint"] == "pre"
    assert (r.json()["scores"]["omissions"], r.json()["scores"]["commissions"], r.json()["scores"]["rt_mean_ms"]) == (2, 1, 320.0)
    assert w.client.post("/api/nfb/display/gonogo", json={"trials": [{"stimulus": "go", "rt_ms": 1}] * 3}).status_code == 422
    listed = w.client.get(f"/api/nfb/courses/{cid}/outcomes", headers=w.as_("ther")).json()
    assert [o["kind"] for o in listed if o["via_display"]] == ["gonogo"]


def test_screens_are_served_without_inline_script_or_style(sqlite_world):
    import re

    c = sqlite_world.client
    for page, script in (("nfb.html", "nfb-display.js"), ("nfb-console.html", "nfb-console.js")):
        r = c.get(f"/viewer/{page}")
        assert r.status_code == 200 and f'src="{script}"' in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert (
            not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) and " style=" not in r.text and " on" + "click=" not in r.text
        )
        js = c.get(f"/viewer/{script}")
        assert js.status_code == 200 and "eval(" not in js.text and "innerHTML" not in js.text


def test_session_sources_are_checked(nfb):
    w = nfb
    course = _course(w, _patient(w, "P-SRC"), 0.0)
    post = lambda source: w.client.post(
        f"/api/nfb/courses/{course['id']}/sessions", json={"source": source}, headers=w.as_("ther")
    )  # noqa: E731
    assert post("bluetooth:x").status_code == 422
    assert post("file:/etc/passwd").status_code == 422  # only demo files under the home's nfb-sources or the bundled samples
    assert post(f"file:{SAMPLE}").status_code == 201
    assert post("lsl:EEG").status_code == 201
    assert (
        w.client.post(
            f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic", "speed": 0}, headers=w.as_("ther")
        ).status_code
        == 422
    )


def test_stop_closes_a_session_whose_process_ended(nfb):
    from dbrain.server.nfb_db import NfbSession

    w = nfb
    course = _course(w, _patient(w, "P-STOP"), 0.0)
    sid = w.client.post(f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic"}, headers=w.as_("ther")).json()[
        "session"
    ]["id"]
    assert w.client.post(f"/api/nfb/sessions/{sid}/stop", headers=w.as_("ther")).status_code == 409  # planned, not running
    with w.session() as db:
        db.get(NfbSession, sid).status = "running"  # as left by a web process that was restarted mid-session
        db.commit()
    r = w.client.post(f"/api/nfb/sessions/{sid}/stop", headers=w.as_("ther"))
    assert r.status_code == 202 and r.json()["status"] == "failed" and "ended" in r.json()["error"]


def test_open_streams_do_not_take_the_api_readers_slots():
    import asyncio

    from dbrain.server.limits import InFlightLimit

    release = asyncio.Event()
    served = []

    async def app(scope, receive, send):
        if scope["path"].endswith("/stream"):
            await release.wait()  # a display's stream stays open for the whole session
        served.append(scope["path"])

    async def main():
        limit = InFlightLimit(app, limit=1, streams=4)
        call = lambda path: limit({"type": "http", "method": "GET", "path": path}, None, None)  # noqa: E731
        streams = [asyncio.create_task(call(f"/api/nfb/sessions/{i}/stream")) for i in (1, 2, 3)]
        await asyncio.sleep(0.05)
        await asyncio.wait_for(call("/api/nfb/courses"), timeout=2)  # answered while three streams are open
        release.set()
        await asyncio.gather(*streams)

    asyncio.run(main())
    assert served[0] == "/api/nfb/courses" and len(served) == 4


def test_a_course_runs_one_session_at_a_time_and_stop_keeps_what_ran(nfb):
    w = nfb
    course = _course(w, _patient(w, "P-ONE"), 0.0)
    mk = lambda: w.client.post(
        f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic", "speed": 1}, headers=w.as_("ther")
    ).json()  # noqa: E731
    first, second = mk()["session"]["id"], mk()["session"]["id"]
    assert w.client.post(f"/api/nfb/sessions/{first}/start", headers=w.as_("ther")).status_code == 202
    r = w.client.post(f"/api/nfb/sessions/{second}/start", headers=w.as_("ther"))
    assert r.status_code == 409 and "running" in r.json()["detail"]
    time.sleep(4)
    assert w.client.post(f"/api/nfb/sessions/{first}/stop", headers=w.as_("ther")).status_code == 202
    deadline = time.monotonic() + 60
    while (row := w.client.get(f"/api/nfb/sessions/{first}", headers=w.as_("ther")).json())[
        "status"
    ] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert row["status"] == "stopped" and row["summary"]["minutes"] < 0.4 and row["summary"]["ended"] == "stopped"
    assert w.client.get(f"/api/nfb/sessions/{first}/report", headers=w.as_("ther")).status_code == 200
    assert w.client.post(f"/api/nfb/sessions/{second}/start", headers=w.as_("ther")).status_code == 202
    assert w.client.post(f"/api/nfb/sessions/{second}/stop", headers=w.as_("ther")).status_code == 202
    w.app.state.nfb.get(second).thread.join(60)


def test_live_threshold_changes_only_in_open_label_courses(nfb):
    from dbrain.server.nfb_db import NfbAllocation

    w = nfb
    blinded = _course(w, _patient(w, "P-BL"), 0.5)
    open_label = _course(w, _patient(w, "P-OL"), 0.0)
    assert blinded["sham_controlled"] and not open_label["sham_controlled"]
    sessions = {}
    for name, course in (("blinded", blinded), ("open", open_label)):
        sid = w.client.post(
            f"/api/nfb/courses/{course['id']}/sessions", json={"source": "synthetic", "speed": 1}, headers=w.as_("ther")
        ).json()["session"]["id"]
        assert (
            w.client.post(
                f"/api/nfb/sessions/{sid}/controls", json={"target_reward_fraction": 0.5}, headers=w.as_("ther")
            ).status_code
            == 409
        )
        assert w.client.post(f"/api/nfb/sessions/{sid}/start", headers=w.as_("ther")).status_code == 202
        sessions[name] = sid
    time.sleep(3)
    # A sham-controlled course refuses, whatever its arm (the same answer), and streams no feature or threshold.
    r = w.client.post(
        f"/api/nfb/sessions/{sessions['blinded']}/controls", json={"target_reward_fraction": 0.5}, headers=w.as_("ther")
    )
    assert r.status_code == 409 and "sham-controlled" in r.json()["detail"]
    with w.session() as db:
        assert db.scalar(select(NfbAllocation.arm).where(NfbAllocation.course_id == blinded["id"])) in ("real", "sham")
    sid = sessions["open"]
    post = lambda body: w.client.post(f"/api/nfb/sessions/{sid}/controls", json=body, headers=w.as_("ther"))  # noqa: E731
    assert post({"target_reward_fraction": 0.3}).json() == {"applied": [{"target_reward_fraction": 0.3}]}
    assert post({"threshold": 1.5}).status_code == 202
    assert post({"automatic": True}).status_code == 202
    assert post({}).status_code == 422 and post({"target_reward_fraction": 0.99}).status_code == 422
    assert w.client.post(f"/api/nfb/sessions/{sid}/controls", json={"threshold": 1.0}, headers=w.as_("res")).status_code == 403
    time.sleep(1.5)  # changes apply at the next updates (4 per second)
    with w.client.stream("GET", f"/api/nfb/sessions/{sid}/stream", headers=w.as_("ther")) as s:
        for ln in s.iter_lines():
            if ln.startswith("data:") and json.loads(ln[5:])["type"] == "feedback":
                assert json.loads(ln[5:])["threshold"] is not None
                break
    for s_id in sessions.values():
        assert w.client.post(f"/api/nfb/sessions/{s_id}/stop", headers=w.as_("ther")).status_code == 202
        w.app.state.nfb.get(s_id).thread.join(60)
    # The changes are the session's record (session.json 'controls', written by dbrain.nfb).
    from dbrain.server.nfb_db import NfbSession

    with w.session() as db:
        sha = db.get(NfbSession, sid).results["session.json"]["sha256"]
    path, _ = w.app.state.store.verified_path(sha)
    controls = json.loads(path.read_text())["controls"]
    assert [c["set"] for c in controls][:3] == ["target", "threshold", "threshold"], controls
