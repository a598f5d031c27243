"""The database work queue: atomic claims, leases, heartbeats, retries (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from dbrain.server.db import Analysis, Job, Patient, Recording, Site, User, make_engine, make_sessionmaker, migrate
from dbrain.server.jobs import claim, enqueue, finish, heartbeat


def _queue(db_url, n, max_attempts=2):
    engine = make_engine(db_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        site = Site(name="S")
        db.add(site)
        db.flush()
        user = User(username="u", password_hash="x", role="technologist", site_id=site.id)
        patient = Patient(site_id=site.id, pseudonym="P-1")
        db.add_all([user, patient])
        db.flush()
        rec = Recording(
            site_id=site.id,
            patient_id=patient.id,
            uploaded_by=user.id,
            original_filename="a.edf",
            original_sha256="0" * 64,
            sha256="0" * 64,
            size=1,
            format="EDF",
            n_channels=1,
            sfreq=1.0,
            duration=1.0,
            channels=[],
        )
        db.add(rec)
        db.flush()
        for _ in range(n):
            a = Analysis(recording_id=rec.id, site_id=site.id, requested_by=user.id, only=[], skip=[])
            db.add(a)
            db.flush()
            enqueue(db, a, max_attempts=max_attempts)
        db.commit()
    return engine, sessions


def test_lease_expiry_requeues_then_fails_and_fences_old_workers(db_url):
    engine, sessions = _queue(db_url, 1, max_attempts=2)
    try:
        with sessions() as db:
            first = claim(db, "w1", lease_seconds=0.3)
        assert first is not None and first.attempt == 1
        with sessions() as db:
            assert claim(db, "w2", lease_seconds=0.3) is None  # still leased to w1
            assert heartbeat(db, first, 0.3, 0.5, "qeeg")
            job = db.get(Job, first.job_id)
            assert (job.progress, job.message, job.status) == (0.5, "qeeg", "running")
        time.sleep(0.5)  # w1 "died": no heartbeat
        with sessions() as db:
            second = claim(db, "w2", lease_seconds=0.3)
        assert second is not None and second.job_id == first.job_id and second.attempt == 2
        with sessions() as db:
            # The dead worker's late writes are refused.
            assert heartbeat(db, first, 30, 0.9, "late") is False
            assert finish(db, first, results={"x": 1}) is False
        time.sleep(0.5)  # w2 dies too: out of attempts
        with sessions() as db:
            assert claim(db, "w3", lease_seconds=0.3) is None
            job = db.get(Job, first.job_id)
            assert job.status == "failed" and "stopped responding" in job.error
            assert db.get(Analysis, job.analysis_id).status == "failed"
    finally:
        engine.dispose()


def test_finish_records_success_and_failure(db_url):
    engine, sessions = _queue(db_url, 2)
    try:
        with sessions() as db:
            a = claim(db, "w", 30)
            b = claim(db, "w", 30)
        with sessions() as db:
            assert finish(db, a, results={"summary.json": {"sha256": "1" * 64, "size": 3}}, n_events=4)
            assert finish(db, b, error="cannot read 'x.edf': damaged")
            ra, rb = db.get(Analysis, a.analysis_id), db.get(Analysis, b.analysis_id)
            assert (ra.status, ra.n_events, rb.status, rb.error) == ("done", 4, "failed", "cannot read 'x.edf': damaged")
            assert db.get(Job, a.job_id).progress == 1.0
    finally:
        engine.dispose()


def test_concurrent_claims_take_each_job_once(db_url):
    n = 24
    engine, sessions = _queue(db_url, n)
    taken: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(name):
        while True:
            with sessions() as db:
                c = claim(db, name, 30)
            if c is None:
                return
            with lock:
                taken.append((name, c.job_id))
            with sessions() as db:
                finish(db, c)

    try:
        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ids = [j for _, j in taken]
        assert sorted(ids) == sorted(set(ids)) and len(ids) == n
        with sessions() as db:
            assert set(db.scalars(select(Job.status))) == {"done"}
    finally:
        engine.dispose()
