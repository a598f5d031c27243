"""Integrity of state: every clinically relevant row is vouched for by the ledger; tampering is named."""

from __future__ import annotations

import os
import shutil

import pytest
import sqlalchemy as sa

from dbrain.server import provenance
from dbrain.server.db import Analysis, AuditEvent, Report

from .conftest import upload


def _verify(world):
    return provenance.verify_rows(provenance._ledger(world.app.state.settings), world.app.state.engine)


def _sql(world, statement: str, **params) -> None:
    with world.app.state.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _other_patient_edf(src, tmp_path):
    """Another patient's recording (another header patient field, one other sample)."""
    dst = tmp_path / "other" / "other.edf"
    dst.parent.mkdir()
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as fid:
        fid.seek(8)
        fid.write(b"Q. Other (2001 77)".ljust(80))
        fid.seek(-2, 2)
        fid.write(b"\x01\x00")
    return dst


def _finished_analysis(world, rec: dict) -> tuple[int, int]:
    """An analysis finished as the worker finishes one (row vouched for, report drafted), without running it."""
    with world.session() as db:
        row = Analysis(
            recording_id=rec["id"],
            site_id=rec["site_id"],
            requested_by=world.users["tech"],
            status="done",
            results={"report.pdf": {"sha256": rec["sha256"], "size": rec["size"]}},
            summary={"n_events": 2, "mean_rate": 0.25},
            n_events=2,
        )
        db.add(row)
        db.flush()
        report = Report(analysis_id=row.id, recording_id=rec["id"], site_id=rec["site_id"], sha256=rec["sha256"])
        db.add(report)
        provenance.record_row(db, "report.create", report, actor="worker:test")
        provenance.record_row(db, "analysis.finish", row, actor="worker:test")
        db.commit()
        return row.id, report.id


@pytest.fixture
def history(world, real_edf, tmp_path):
    """A data centre with a clean history: uploads, annotations, a signed report, a role change, a sealed audit log."""
    settings, engine = world.app.state.settings, world.app.state.engine
    provenance.seal_baseline(settings, engine, actor="test")  # the fixture's users were made behind the API
    rec = upload(world, real_edf).json()
    other = upload(world, _other_patient_edf(real_edf, tmp_path), name="other.edf").json()
    assert other["patient_id"] != rec["patient_id"] and other["sha256"] != rec["sha256"]
    c = world.client
    ann = [
        c.post(
            f"/api/recordings/{rec['id']}/annotations", json={"onset": t, "description": f"spike {t}"}, headers=world.as_("tech")
        ).json()["id"]
        for t in (1, 2, 3)
    ]
    assert c.patch(f"/api/annotations/{ann[0]}", json={"description": "sharp wave"}, headers=world.as_("clin")).status_code == 200
    assert c.delete(f"/api/annotations/{ann[2]}", headers=world.as_("clin")).status_code == 204
    analysis_id, report_id = _finished_analysis(world, rec)
    assert c.post(f"/api/analyses/{analysis_id}/report/sign", headers=world.as_("clin")).status_code == 200
    assert (
        c.patch(f"/api/users/{world.users['res']}", json={"role": "technologist"}, headers=world.as_("admin")).status_code == 200
    )
    assert provenance.seal_audit(settings, engine, settle=0.0) > 0
    return {"rec": rec, "other": other, "ann": ann, "analysis": analysis_id, "report": report_id}


def test_clean_history_verifies(world, history):
    check = _verify(world)
    assert check.problems == []
    # 2 recordings, 2 annotations, 1 analysis, 1 report, the fixture's users, 9 audit rows (2 uploads, 5 annotation
    # changes, sign, role)
    n_users = len(world.users)
    assert check.n_vouched == check.n_rows == 2 + 2 + 1 + 1 + n_users + 9 and check.n_pending == 0
    # The audit rows the checks above wrote are pending until the next seal, never problems.
    world.client.get("/api/recordings", headers=world.as_("res"))
    assert _verify(world).problems == []


@pytest.mark.parametrize(
    "case",
    [
        "annotation-text",
        "annotation-added",
        "annotation-deleted",
        "annotation-undeleted",
        "report-signer",
        "recording-object",
        "audit-deleted",
        "audit-altered",
        "analysis-summary",
        "role",
    ],
)
def test_tampering_names_the_row(world, history, case):
    h = history
    if case == "annotation-text":
        _sql(world, "UPDATE annotations SET description = 'normal' WHERE id = :i", i=h["ann"][0])
        want = (f"annotations {h['ann'][0]}", "description")
    elif case == "annotation-added":
        _sql(
            world,
            "INSERT INTO annotations (id, recording_id, site_id, onset, duration, description, channels, author_id, created_at, updated_at) "
            "VALUES (999, :r, :s, 5.0, 0.0, 'seizure', '[]', :a, :t, :t)",
            r=h["rec"]["id"],
            s=h["rec"]["site_id"],
            a=world.users["tech"],
            t="2026-01-01 00:00:00.000000",
        )
        want = ("annotations 999", "added")
    elif case == "annotation-deleted":
        _sql(world, "DELETE FROM annotations WHERE id = :i", i=h["ann"][1])
        want = (f"annotations {h['ann'][1]}", "deleted")
    elif case == "annotation-undeleted":
        _sql(
            world,
            "INSERT INTO annotations (id, recording_id, site_id, onset, duration, description, channels, author_id, created_at, updated_at) "
            "VALUES (:i, :r, :s, 3.0, 0.0, 'spike 3', '[]', :a, :t, :t)",
            i=h["ann"][2],
            r=h["rec"]["id"],
            s=h["rec"]["site_id"],
            a=world.users["tech"],
            t="2026-01-01 00:00:00.000000",
        )
        want = (f"annotations {h['ann'][2]}", "records its deletion")
    elif case == "report-signer":
        _sql(world, "UPDATE reports SET signed_by = :u WHERE id = :i", u=world.users["admin"], i=h["report"])
        want = (f"reports {h['report']}", "signed_by")
    elif case == "recording-object":
        _sql(world, "UPDATE recordings SET sha256 = :s WHERE id = :i", s=h["other"]["sha256"], i=h["rec"]["id"])
        want = (f"recordings {h['rec']['id']}", "sha256")
    elif case == "audit-deleted":
        with world.session() as db:
            victim = db.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "report.sign"))
        _sql(world, "DELETE FROM audit_events WHERE id = :i", i=victim)
        want = (f"audit_events {victim}", "deleted")
    elif case == "audit-altered":
        with world.session() as db:
            victim = db.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "user.update"))
        _sql(world, "UPDATE audit_events SET username = 'someone' WHERE id = :i", i=victim)
        want = (f"audit_events {victim}", "username")
    elif case == "analysis-summary":
        _sql(world, "UPDATE analyses SET summary = :s WHERE id = :i", s='{"n_events": 0}', i=h["analysis"])
        want = (f"analyses {h['analysis']}", "summary")
    else:
        _sql(world, "UPDATE users SET role = 'admin' WHERE id = :i", i=world.users["res"])
        want = (f"users {world.users['res']}", "role")
    problems = _verify(world).problems
    assert [p.item for p in problems] == [want[0]], problems
    assert want[1] in problems[0].message


def _cli(capsys, *args) -> tuple[int, str]:
    from dbrain.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code, out.out + out.err


def test_cli_verify_names_rows_and_objects(sqlite_world, real_edf, capsys, monkeypatch):
    world = sqlite_world
    settings = world.app.state.settings
    provenance.seal_baseline(settings, world.app.state.engine, actor="test")
    rec = upload(world, real_edf).json()
    ann = world.client.post(
        f"/api/recordings/{rec['id']}/annotations", json={"onset": 1, "description": "spike"}, headers=world.as_("tech")
    ).json()
    assert provenance.seal_audit(settings, world.app.state.engine, settle=0.0) > 0
    monkeypatch.setenv("DBRAIN_HOME", str(settings.home))
    code, out = _cli(capsys, "ledger", "verify", "--db", settings.db_url, "--objects")
    assert code == 0, out
    assert "rows vouched" in out and "objects rehashed 1" in out

    _sql(world, "UPDATE annotations SET onset = 30.0 WHERE id = :i", i=ann["id"])
    obj = world.app.state.store.path(rec["sha256"])
    os.chmod(obj, 0o640)
    data = bytearray(obj.read_bytes())
    data[-10] ^= 0xFF
    obj.write_bytes(bytes(data))
    code, out = _cli(capsys, "ledger", "verify", "--db", settings.db_url, "--objects")
    assert code == 3, out
    assert f"ALTERED annotations {ann['id']}: altered: onset differs" in out
    assert f"(recording {rec['id']}): altered" in out
    # The scheduled check quarantined the object: refused whatever its size.
    assert (world.app.state.store.quarantine / rec["sha256"]).is_file()


def test_altered_object_is_refused_when_served(world, real_edf):
    rec = upload(world, real_edf).json()
    c, base = world.client, f"/api/recordings/{rec['id']}"
    good = c.get(f"{base}/file", headers=world.as_("res"))
    assert good.status_code == 200 and good.headers["x-dbrain-integrity"] == "verified"
    assert good.headers["x-content-sha256"] == rec["sha256"]
    assert c.get(f"{base}/window", params={"duration": 5}, headers=world.as_("res")).status_code == 200
    obj = world.app.state.store.path(rec["sha256"])
    os.chmod(obj, 0o640)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one sample
    obj.write_bytes(bytes(data))
    for path in ("/file", "/window", "/events"):
        r = c.get(f"{base}{path}", headers=world.as_("res"))
        assert r.status_code == 409, (path, r.status_code)
        assert "altered" in r.json()["detail"]
    data[len(data) // 2] ^= 0x01  # restored: served again
    obj.write_bytes(bytes(data))
    assert c.get(f"{base}/file", headers=world.as_("res")).content == bytes(data)


def test_large_objects_rest_on_the_scheduled_check(sqlite_world, real_edf):
    from dbrain.server.storage import ObjectCorrupt

    store = sqlite_world.app.state.store
    rec = upload(sqlite_world, real_edf).json()
    path, state = store.verified_path(rec["sha256"], max_bytes=1000)
    assert state == "verified"  # hashed when stored, unchanged since
    os.chmod(path, 0o640)
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    # Too large to re-hash per request: served on the strength of the scheduled check (and said so) ...
    assert store.verified_path(rec["sha256"], max_bytes=1000)[1] == "scheduled"
    with pytest.raises(ObjectCorrupt, match="altered"):
        store.verified_path(rec["sha256"])  # ... while a small one is re-hashed and refused
    # ... which finds it, quarantines it, and from then on it is refused whatever its size.
    assert "altered" in store.check(rec["sha256"])
    with pytest.raises(ObjectCorrupt, match="quarantined"):
        store.verified_path(rec["sha256"], max_bytes=1000)
