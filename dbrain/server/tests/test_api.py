"""The data-centre API in-process (FastAPI TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import shutil

import pytest
from sqlalchemy import func, select

from dbrain.server.db import AuditEvent, Recording

from .conftest import PASSWORD, upload


def _audit(world, action):
    with world.session() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_upload_deidentifies_and_restricts_identity(world, real_edf):
    from dbrain.deid import find_phi, phi_strings

    phi = phi_strings(real_edf)
    assert phi  # the real file's header names the patient
    r = upload(world, real_edf)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["format"] == "EDF" and rec["n_channels"] == 16 and rec["duration"] == pytest.approx(60.0)
    assert rec["pseudonym"].startswith("P-") and "original_filename" not in rec
    stored = world.app.state.store.path(rec["sha256"])
    assert stored.is_file() and not find_phi(stored, phi)  # the stored object is the de-identified copy
    data = stored.read_bytes()
    assert b"J. B." not in data and b"Patient_JB" not in data

    # De-identified download for every role of the site, 404 for another site.
    for who in ("clin", "tech", "res", "admin"):
        assert world.client.get(f"/api/recordings/{rec['id']}", headers=world.as_(who)).status_code == 200
        down = world.client.get(f"/api/recordings/{rec['id']}/file", headers=world.as_(who))
        assert down.status_code == 200 and down.content == data
    for path in ("", "/file", "/window", "/events", "/annotations", "/analyses"):
        assert world.client.get(f"/api/recordings/{rec['id']}{path}", headers=world.as_("clin_b")).status_code == 404
    assert world.client.get("/api/recordings", headers=world.as_("clin_b")).json() == []

    # The identity link: clinicians of the site only.
    ident = world.client.get(f"/api/recordings/{rec['id']}/identity", headers=world.as_("clin"))
    assert ident.status_code == 200
    assert ident.json()["identity"]["patient_code"] == "J. B. (1066 28)"
    assert ident.json()["original_filename"] == "Patient_JB_1997.edf"
    for who in ("res", "tech", "admin"):
        assert world.client.get(f"/api/recordings/{rec['id']}/identity", headers=world.as_(who)).status_code == 403
    assert world.client.get(f"/api/recordings/{rec['id']}/identity", headers=world.as_("clin_b")).status_code == 404
    assert world.client.get(f"/api/patients/{rec['patient_id']}/identity", headers=world.as_("res")).status_code == 403
    pats = world.client.get("/api/patients", headers=world.as_("res")).json()
    assert [p["pseudonym"] for p in pats] == [rec["pseudonym"]] and "name" not in pats[0]

    # A second recording of the same patient code joins the same pseudonymous patient.
    again = upload(world, real_edf, name="second.edf")
    assert again.status_code == 201 and again.json()["patient_id"] == rec["patient_id"]
    # The same patient code at another site is another patient.
    other = upload(world, real_edf, who="tech_b")
    assert other.status_code == 201 and other.json()["patient_id"] != rec["patient_id"]

    # Researchers and others cannot upload/annotate where their role forbids it.
    assert upload(world, real_edf, who="res").status_code == 403
    assert upload(world, real_edf, who="clin").status_code == 201

    # Audit: every access to patient data, and the denials.
    assert [e.object_id for e in _audit(world, "recording.upload")][:1] == [rec["id"]]
    reads = _audit(world, "identity.read")
    assert {e.username for e in reads} == {"clin"} and all(e.patient_id == rec["patient_id"] for e in reads)
    assert {e.username for e in _audit(world, "access-denied")} >= {"res", "tech", "admin"}
    assert len(_audit(world, "recording.download")) == 4
    # Provenance: the ingest is in the ledger of the same database.
    assert rec["ledger_index"] is not None


def test_bad_upload_is_refused_with_the_core_message_and_nothing_is_stored(world, real_edf, tmp_path):
    from dbrain.errors import CorruptRecordingError
    from dbrain.io import read_recording

    cut = tmp_path / "cut" / "truncated.edf"
    cut.parent.mkdir()
    cut.write_bytes(real_edf.read_bytes()[: 256 + 16 * 256 + 5000])
    with pytest.raises(CorruptRecordingError) as info:
        read_recording(cut)
    r = upload(world, cut)
    assert r.status_code == 422
    assert r.json()["detail"] == " ".join(str(info.value).split())
    assert "truncated.edf" in r.json()["detail"]
    objects = world.app.state.store.objects
    assert not any(p.is_file() for p in objects.rglob("*"))
    assert not any(world.app.state.store.tmp.iterdir())
    with world.session() as db:
        assert db.scalar(select(func.count()).select_from(Recording)) == 0
    assert _audit(world, "recording.upload")[-1].outcome == "failed"

    other = upload(world, real_edf, name="recording.vhdr")
    assert other.status_code == 415 and "dbrain convert" in other.json()["detail"]
    empty = tmp_path / "cut" / "empty.edf"
    empty.write_bytes(b"")
    assert upload(world, empty).status_code == 422


def test_login_session_cookie_csrf_and_tokens(sqlite_world):
    w = sqlite_world
    c = w.client
    assert c.get("/api/auth/me").status_code == 401
    assert c.post("/api/auth/login", json={"username": "clin", "password": "wrong"}).status_code == 401
    assert c.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    r = c.post("/api/auth/login", json={"username": "clin", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    csrf = r.json()["csrf_token"]
    assert c.get("/api/auth/me").json()["user"]["role"] == "clinician"
    # A cookie-authenticated change needs the CSRF header.
    assert c.post("/api/tokens", json={"name": "script"}).status_code == 403
    made = c.post("/api/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("dbr_")
    assert all("token" not in t for t in c.get("/api/tokens").json())
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert c.get("/api/auth/me").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/auth/me", headers=bearer).json()["user"]["username"] == "clin"
    assert c.delete(f"/api/tokens/{made.json()['id']}", headers=bearer).status_code == 204
    assert c.get("/api/auth/me", headers=bearer).status_code == 401
    assert c.get("/api/auth/me", headers={"Authorization": "Bearer dbr_forged"}).status_code == 401
    logins = _audit(w, "auth.login")
    assert [e.outcome for e in logins] == ["denied", "denied", "ok"]

    # Sites: the instance administrator only; users: a site's admin, at its own site.
    assert c.post("/api/sites", json={"name": "Site C"}, headers=w.as_("clin")).status_code == 403
    assert c.post("/api/sites", json={"name": "Site C"}, headers=w.as_("admin")).status_code == 403
    site = c.post("/api/sites", json={"name": "Site C"}, headers=w.as_("root"))
    assert site.status_code == 201
    user = {"username": "newtech", "password": "a long enough password", "role": "technologist", "site_id": site.json()["id"]}
    assert c.post("/api/users", json=user, headers=w.as_("admin")).status_code == 404  # another site
    own = c.get("/api/sites", headers=w.as_("admin")).json()
    assert len(own) == 1
    user["site_id"] = own[0]["id"]
    assert c.post("/api/users", json=user, headers=w.as_("admin")).status_code == 201
    assert c.post("/api/users", json=user, headers=w.as_("admin")).status_code == 409
    assert c.post("/api/auth/login", json={"username": "newtech", "password": "a long enough password"}).status_code == 200
    audit = c.get("/api/audit", headers=w.as_("admin"))
    assert audit.status_code == 200 and {"user.create"} <= {e["action"] for e in audit.json()}
    assert c.get("/api/audit", headers=w.as_("clin")).status_code == 403
    # A leaver: deactivated by an admin, its tokens stop working; an admin cannot lock itself out.
    assert c.get("/api/auth/me", headers=w.as_("tech")).status_code == 200
    assert c.patch(f"/api/users/{w.users['tech']}", json={"active": False}, headers=w.as_("clin")).status_code == 403
    off = c.patch(f"/api/users/{w.users['tech']}", json={"active": False}, headers=w.as_("admin"))
    assert off.status_code == 200 and off.json()["active"] is False
    assert c.get("/api/auth/me", headers=w.as_("tech")).status_code == 401
    assert c.patch(f"/api/users/{w.users['admin']}", json={"role": "researcher"}, headers=w.as_("admin")).status_code == 422
    assert c.patch("/api/users/999", json={"active": True}, headers=w.as_("admin")).status_code == 404


def test_window_events_and_annotations(sqlite_world, real_edf):
    w = sqlite_world
    rec = upload(w, real_edf).json()
    url = f"/api/recordings/{rec['id']}"
    win = w.client.get(f"{url}/window", params={"start": 5, "duration": 10}, headers=w.as_("res"))
    assert win.status_code == 200, win.text
    body = win.json()
    assert body["montage"] == "double-banana" and body["decimation"] == "minmax" and body["units"] == "uV"
    assert "Fp1-F7" in body["channels"] and len(body["data"]) == len(body["channels"])
    assert len(body["times"]) <= 2000 and all(len(row) == len(body["times"]) for row in body["data"])
    assert body["times"][0] == pytest.approx(5.0) and body["times"][-1] < 15.0
    full = w.client.get(
        f"{url}/window",
        params={
            "start": 5,
            "duration": 10,
            "montage": "referential",
            "max_points": 5000,
            "highpass": 1,
            "lowpass": 30,
            "notch": 50,
        },
        headers=w.as_("clin"),
    ).json()
    assert (
        full["decimation"] == "none"
        and len(full["times"]) == 2560
        and full["filters"] == {"highpass": 1.0, "lowpass": 30.0, "notch": 50.0}
    )
    # The min/max envelope keeps every extreme of the undecimated window.
    import numpy as np

    plain = w.client.get(
        f"{url}/window", params={"start": 5, "duration": 10, "montage": "referential", "max_points": 5000}, headers=w.as_("clin")
    ).json()
    small = w.client.get(
        f"{url}/window", params={"start": 5, "duration": 10, "montage": "referential", "max_points": 500}, headers=w.as_("clin")
    ).json()
    assert np.allclose(np.max(plain["data"], axis=1), np.max(small["data"], axis=1))
    assert np.allclose(np.min(plain["data"], axis=1), np.min(small["data"], axis=1))
    for bad in ({"start": 61}, {"montage": "../../etc/passwd"}, {"highpass": 40, "lowpass": 30}, {"lowpass": 200}):
        r = w.client.get(f"{url}/window", params=bad, headers=w.as_("clin"))
        assert r.status_code == 422, bad
    assert len(_audit(w, "recording.window")) >= 4

    # Annotations CRUD: clinicians and technologists write, researchers read.
    made = w.client.post(
        f"{url}/annotations",
        json={"onset": 12.5, "duration": 2, "description": "spike-wave", "channels": ["T7"]},
        headers=w.as_("tech"),
    )
    assert made.status_code == 201
    aid = made.json()["id"]
    assert w.client.post(f"{url}/annotations", json={"onset": 1, "description": "x"}, headers=w.as_("res")).status_code == 403
    assert w.client.post(f"{url}/annotations", json={"onset": 100, "description": "x"}, headers=w.as_("tech")).status_code == 422
    patched = w.client.patch(f"/api/annotations/{aid}", json={"description": "sharp wave"}, headers=w.as_("clin"))
    assert patched.status_code == 200 and patched.json()["description"] == "sharp wave" and patched.json()["onset"] == 12.5
    assert w.client.patch(f"/api/annotations/{aid}", json={"description": "x"}, headers=w.as_("clin_b")).status_code == 404
    events = w.client.get(f"{url}/events", headers=w.as_("res")).json()
    assert [e["description"] for e in events if e["source"] == "annotation"] == ["sharp wave"]
    assert [a["id"] for a in w.client.get(f"{url}/annotations", headers=w.as_("res")).json()] == [aid]
    assert w.client.delete(f"/api/annotations/{aid}", headers=w.as_("res")).status_code == 403
    assert w.client.delete(f"/api/annotations/{aid}", headers=w.as_("tech")).status_code == 204
    assert w.client.get(f"{url}/annotations", headers=w.as_("res")).json() == []
    assert [e.action for e in _audit(w, "annotation.create")] == ["annotation.create"]
    # Each change is in the provenance ledger: the hash of the annotation set after it.
    from dbrain.ledger import Ledger

    settings = w.app.state.settings
    with Ledger(settings.db_url, keys=settings.home / "keys" / "ledger") as ledger:
        changes = ledger.find(kind="annotation-changed")
        assert [e.record["details"]["change"] for e in changes] == ["create", "update", "delete"]
        assert changes[0].record["parents"] == [ledger.entry(rec["ledger_index"]).leaf_hash.hex()]
        hashes = [e.record["content_hash"] for e in changes]
        assert len(set(hashes)) == 3
    assert len(_audit(w, "annotation.update")) == 1 and len(_audit(w, "annotation.delete")) == 1


def test_analysis_runs_in_a_worker_and_results_are_served(sqlite_world, real_edf):
    from dbrain.server import Worker

    w = sqlite_world
    rec = upload(w, real_edf).json()
    assert (
        w.client.post(f"/api/recordings/{rec['id']}/analyses", json={"only": ["nope"]}, headers=w.as_("tech")).status_code == 422
    )
    assert w.client.post(f"/api/recordings/{rec['id']}/analyses", json={}, headers=w.as_("res")).status_code == 403
    r = w.client.post(f"/api/recordings/{rec['id']}/analyses", json={"only": ["recording", "qeeg"]}, headers=w.as_("tech"))
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["job"]["status"] == "queued"
    aid = r.json()["id"]
    worker = Worker(w.app.state.settings, worker_id="test-worker")
    try:
        assert worker.run_once() is True
        assert worker.run_once() is False
    finally:
        worker.close()
    a = w.client.get(f"/api/analyses/{aid}", headers=w.as_("res")).json()
    assert a["status"] == "done", a
    assert a["job"]["attempts"] == 1 and a["job"]["progress"] == 1.0
    assert {"summary.json", "events.tsv", "report.pdf", "report.html", "qeeg.parquet"} <= set(a["results"])
    assert a["ledger_index"] is not None
    pdf = w.client.get(f"/api/analyses/{aid}/files/report.pdf", headers=w.as_("res"))
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    assert w.client.get(f"/api/analyses/{aid}/files/nothing", headers=w.as_("res")).status_code == 404
    assert w.client.get(f"/api/analyses/{aid}", headers=w.as_("clin_b")).status_code == 404
    table = w.client.get(f"/api/analyses/{aid}/tables/qeeg", params={"max_rows": 50}, headers=w.as_("res")).json()
    # Thinned by time point: every kept start keeps all its rows; filters keep only what is asked for.
    full = w.client.get(f"/api/analyses/{aid}/tables/qeeg", params={"max_rows": 100000}, headers=w.as_("res")).json()
    assert full["step"] == 1 and table["step"] > 1
    ci = table["columns"].index("start")
    per_start = {}
    for r in full["rows"]:
        per_start[r[ci]] = per_start.get(r[ci], 0) + 1
    kept = {}
    for r in table["rows"]:
        kept[r[ci]] = kept.get(r[ci], 0) + 1
    assert kept and all(kept[s] == per_start[s] for s in kept)
    only = w.client.get(
        f"/api/analyses/{aid}/tables/qeeg",
        params={"measure": ["rel_alpha", "artifact_strength"], "channel": ["left", "Cz"]},
        headers=w.as_("res"),
    ).json()
    mi, chi = only["columns"].index("measure"), only["columns"].index("channel")
    assert only["rows"] and {r[mi] for r in only["rows"]} <= {"rel_alpha", "artifact_strength"}
    assert {r[chi] for r in only["rows"]} <= {"left", "Cz"}
    assert table["n_rows"] > 0 and len(table["rows"][0]) == len(table["columns"])
    summary = w.client.get(f"/api/analyses/{aid}/files/summary.json", headers=w.as_("res")).json()
    assert summary["input"] == {"recording_id": rec["id"], "sha256": rec["sha256"]}  # no scratch paths, no PHI
    # The report: draft until a clinician of the site signs it.
    assert w.client.get(f"/api/analyses/{aid}/report", headers=w.as_("res")).json()["status"] == "draft"
    assert w.client.post(f"/api/analyses/{aid}/report/sign", headers=w.as_("tech")).status_code == 403
    signed = w.client.post(f"/api/analyses/{aid}/report/sign", headers=w.as_("clin"))
    assert signed.status_code == 200 and signed.json()["signed_by"] == w.users["clin"]
    assert w.client.post(f"/api/analyses/{aid}/report/sign", headers=w.as_("clin")).status_code == 409
    listed = w.client.get(f"/api/recordings/{rec['id']}/analyses", headers=w.as_("res")).json()
    assert [x["id"] for x in listed] == [aid]
    # Provenance: ingest and analysis are in the ledger of the same database, and it verifies
    # (every stored object re-hashed); the analysis names the ingest as its parent.
    from dbrain.ledger import Ledger

    settings = w.app.state.settings
    with Ledger(settings.db_url, keys=settings.home / "keys" / "ledger") as ledger:
        report = ledger.verify()
        assert report.ok, report.problems
        run = ledger.entry(a["ledger_index"]).record
        assert run["kind"] == "analysis-run" and run["parents"] == [ledger.entry(rec["ledger_index"]).leaf_hash.hex()]
        signed = ledger.find(kind="report-signed")
        assert len(signed) == 1 and signed[0].record["parents"] == [ledger.entry(a["ledger_index"]).leaf_hash.hex()]
    # The report shows its entries with their inclusion proofs, and the API gives receipts and the checkpoint;
    # all of it checks out with the verifier keys alone, and a changed byte does not.
    # Entries recorded with server paths are shown redacted (no path, no raw bytes): their inclusion still verifies.
    from dbrain.ledger import LedgerError, verify_receipt
    from dbrain.server.routes.ledger import verify_redacted_receipt

    def check(r):
        assert str(settings.home) not in str(r)
        return (
            verify_redacted_receipt(r, cp["verifier_keys"]) if r.get("redacted") else verify_receipt(r, cp["verifier_keys"]).size
        )

    cp = w.client.get("/api/ledger/checkpoint", headers=w.as_("res")).json()
    assert cp["tree_size"] >= 3 and cp["checkpoint"].count("\n") >= 3
    shown = w.client.get(f"/api/analyses/{aid}/report", headers=w.as_("res")).json()["provenance"]
    assert [r["entry"]["index"] for r in shown] == [a["ledger_index"], signed[0].index]
    for r in shown:
        check(r)
    got = w.client.get(f"/api/ledger/entries/{rec['ledger_index']}/receipt", headers=w.as_("res")).json()
    assert check(got) == got["inclusion_proof"]["tree_size"]
    bad = copy.deepcopy(got)
    h = bad["inclusion_proof"]["hashes"][0]
    bad["inclusion_proof"]["hashes"][0] = ("0" if h[0] != "0" else "1") + h[1:]
    with pytest.raises(LedgerError):
        check(bad)
    assert w.client.get("/api/ledger/entries/999999/receipt", headers=w.as_("res")).status_code == 404
    assert w.client.get("/api/ledger/checkpoint").status_code == 401


def test_deidentification_can_remove_the_start_date(sqlite_url, tmp_path, real_edf):
    from .conftest import _make_world

    w = _make_world(sqlite_url, tmp_path / "home", deid_remove_date=True, ledger=False)
    try:
        with w.client:
            rec = upload(w, real_edf).json()
        assert rec["start_time"].startswith("1985-01-01")  # EDF+ "unknown date"; the original was 1997
    finally:
        w.app.state.engine.dispose()


def test_migrations_match_the_models(db_url, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from dbrain.server.db import Base, make_engine, migrate

    engine = make_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"include_name": lambda n, t, p: not (t == "table" and str(n).startswith("ledger_"))}
            )
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_store_streams_and_deduplicates(tmp_path):
    from dbrain.server.storage import ObjectStore, TooLarge, stream_to_file

    store = ObjectStore(tmp_path / "s")
    blocks = [b"x" * 700_000] * 5
    sha, size = stream_to_file(iter(blocks), tmp_path / "f")
    assert size == 3_500_000
    assert store.put_file(tmp_path / "f") == (sha, size)
    assert store.put_file(tmp_path / "f", move=True) == (sha, size) and not (tmp_path / "f").exists()
    assert store.path(sha).stat().st_size == size
    with pytest.raises(TooLarge):
        stream_to_file(iter(blocks), tmp_path / "g", limit=1_000_000)
    with pytest.raises(ValueError, match="SHA-256"):
        store.path("../../etc/passwd")
    shutil.rmtree(tmp_path / "s")


def test_a_failing_analysis_records_the_reason_and_is_not_retried(sqlite_world, real_edf):
    from dbrain.server import Worker

    w = sqlite_world
    rec = upload(w, real_edf).json()
    store = w.app.state.store
    store.path(rec["sha256"]).chmod(0o600)
    store.delete(rec["sha256"])  # the web and the worker do not share the object store
    aid = w.client.post(f"/api/recordings/{rec['id']}/analyses", json={"only": ["recording"]}, headers=w.as_("tech")).json()["id"]
    worker = Worker(w.app.state.settings, worker_id="w")
    try:
        assert worker.run_once() is True
        assert worker.run_once() is False  # failed for a reason: not queued again
    finally:
        worker.close()
    a = w.client.get(f"/api/analyses/{aid}", headers=w.as_("tech")).json()
    assert a["status"] == "failed" and a["job"]["status"] == "failed" and a["job"]["attempts"] == 1
    assert "not in the object store" in a["error"] and "DBRAIN_HOME" in a["error"]


def test_worker_survives_a_locked_database(sqlite_world, monkeypatch):
    """A claim that fails with "database is locked" is retried; the worker does not exit."""
    from sqlalchemy.exc import OperationalError

    from dbrain.server.worker import Worker

    worker = Worker(sqlite_world.app.state.settings, worker_id="w")
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("claim", {}, Exception("database is locked"))
        return False

    monkeypatch.setattr(worker, "run_once", flaky)
    try:
        worker.run(poll_seconds=0.01, once=True)
    finally:
        worker.close()
    assert len(calls) == 2
