"""Audit rows are written by the commit of their transaction, in it: kept with it, dropped with it."""

from __future__ import annotations

import sqlalchemy as sa

from dbrain.server.auth import Principal, audit
from dbrain.server.db import AuditEvent, User, make_engine, make_sessionmaker, migrate
from dbrain.server.settings import Settings


def _factory(tmp_path):
    url = f"sqlite:///{tmp_path / 'dbrain.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    return make_sessionmaker(engine, Settings(db_url=url, home=tmp_path, ledger=False)), engine


def _actions(factory) -> list[str]:
    with factory() as db:
        return list(db.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_audit_rows_follow_their_transaction(tmp_path):
    factory, engine = _factory(tmp_path)
    who = Principal(User(id=7, username="clin", role="clinician", site_id=3), "token")
    with factory() as db:
        audit(db, who, "kept", object_type="recording", object_id=1, patient_id=2, detail={"n": 1})
        db.commit()
    with factory() as db:  # rolled back: nothing of it is kept
        db.execute(sa.text("SELECT 1"))
        audit(db, who, "rolled-back")
        db.rollback()
        db.commit()
    with factory() as db:  # closed without commit, before and after any statement
        audit(db, who, "closed-early")
    db = factory()
    db.execute(sa.text("SELECT 1"))
    audit(db, who, "closed")
    db.close()
    db.commit()  # the same session used again: the dropped rows do not come back
    with factory() as db:  # several rows in one commit, in order, with the change they describe
        audit(db, who, "first")
        audit(db, None, "second", site_id=3, outcome="denied")
        db.commit()
    assert _actions(factory) == ["kept", "first", "second"]
    with factory() as db:
        row = db.scalar(sa.select(AuditEvent).where(AuditEvent.action == "kept"))
        assert (row.user_id, row.username, row.site_id, row.object_id, row.patient_id, row.detail) == (
            7,
            "clin",
            3,
            1,
            2,
            {"n": 1},
        )
        assert row.time is not None and row.outcome == "ok"
        anon = db.scalar(sa.select(AuditEvent).where(AuditEvent.action == "second"))
        assert anon.user_id is None and anon.outcome == "denied" and anon.site_id == 3
    engine.dispose()


def test_a_session_from_elsewhere_still_audits(tmp_path):
    factory, engine = _factory(tmp_path)
    with sa.orm.Session(engine) as db:  # not a make_sessionmaker session: the ORM writes the row
        audit(db, None, "plain-session", site_id=1)
        db.commit()
    assert _actions(factory) == ["plain-session"]
    engine.dispose()
