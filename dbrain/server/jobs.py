"""A work queue in the database: the ``jobs`` table.

Life of a job: ``queued`` → (a worker claims it) ``running`` → ``done`` or
``failed``. A claim sets ``worker``, adds one to ``attempts`` and gives the
worker a *lease* (``lease_expires``, epoch seconds). The worker renews the
lease with every heartbeat and writes its progress. A worker that dies stops
renewing; once its lease has expired, the next claim by any worker puts the
job back to ``queued`` (or to ``failed`` once ``attempts`` reached
``max_attempts``), so work survives restarts and crashes. Every write by a
worker is fenced by ``worker`` and ``status``: a worker whose lease was taken
over cannot overwrite the new owner's job.

Claims are atomic: SQLite takes its write lock first (``BEGIN IMMEDIATE``);
PostgreSQL selects with ``FOR UPDATE SKIP LOCKED`` so concurrent workers take
different jobs without waiting for each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .db import Analysis, Job, utcnow, write_lock


@dataclass(frozen=True)
class Claim:
    """A job a worker now owns."""

    job_id: int
    analysis_id: int
    attempt: int
    worker: str


def enqueue(db: Session, analysis: Analysis, *, max_attempts: int = 3) -> Job:
    """Queue the analysis job of ``analysis`` (the caller commits).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    analysis : Analysis
        A flushed analysis row.
    max_attempts : int
        Claims the job gets before it fails.

    Returns
    -------
    job : Job
    """
    job = Job(kind="analyze", analysis_id=analysis.id, status="queued", max_attempts=max_attempts, message="queued")
    db.add(job)
    return job


def reap_expired(db: Session, now: float | None = None) -> int:
    """Re-queue running jobs whose lease expired; fail those out of attempts.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
        In a write transaction.
    now : float | None
        Epoch seconds; default: now.

    Returns
    -------
    n : int
        Jobs re-queued or failed.
    """
    now = time.time() if now is None else now
    expired = (Job.status == "running") & (Job.lease_expires < now)
    failed_ids = list(db.scalars(select(Job.analysis_id).where(expired & (Job.attempts >= Job.max_attempts))))
    n = db.execute(
        update(Job)
        .where(expired & (Job.attempts >= Job.max_attempts))
        .values(status="failed", error="the worker stopped responding on every attempt", finished_at=utcnow(), worker=None)
    ).rowcount
    if failed_ids:
        db.execute(
            update(Analysis)
            .where(Analysis.id.in_(failed_ids))
            .values(status="failed", error="the worker stopped responding on every attempt", finished_at=utcnow())
        )
    n += db.execute(
        update(Job)
        .where(expired & (Job.attempts < Job.max_attempts))
        .values(status="queued", worker=None, message="re-queued: the worker stopped responding")
    ).rowcount
    return n


def claim(db: Session, worker: str, lease_seconds: float) -> Claim | None:
    """Atomically take the oldest queued job, or return None.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
        A session with no transaction open; the claim commits.
    worker : str
        The claiming worker's id.
    lease_seconds : float
        How long the job stays the worker's without a heartbeat.

    Returns
    -------
    claim : Claim | None
    """
    write_lock(db)
    try:
        reap_expired(db)
        stmt = select(Job).where(Job.status == "queued").order_by(Job.id).limit(1)
        if db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        job = db.scalar(stmt)
        if job is None:
            db.commit()
            return None
        now = time.time()
        job.status = "running"
        job.worker = worker
        job.attempts += 1
        job.lease_expires = now + lease_seconds
        job.heartbeat_at = now
        job.started_at = utcnow()
        job.progress = 0.0
        job.message = f"attempt {job.attempts} on {worker}"
        db.execute(update(Analysis).where(Analysis.id == job.analysis_id).values(status="running"))
        result = Claim(job.id, job.analysis_id, job.attempts, worker)
        db.commit()
        return result
    except BaseException:
        db.rollback()
        raise


def heartbeat(db: Session, claim: Claim, lease_seconds: float, progress: float, message: str) -> bool:
    """Renew the lease and record progress; False if the job is no longer ours.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    claim : Claim
    lease_seconds : float
    progress : float
        Fraction done, 0 to 1.
    message : str
        What the worker is doing.

    Returns
    -------
    owned : bool
    """
    now = time.time()
    write_lock(db)
    n = db.execute(
        update(Job)
        .where(Job.id == claim.job_id, Job.worker == claim.worker, Job.status == "running", Job.attempts == claim.attempt)
        .values(lease_expires=now + lease_seconds, heartbeat_at=now, progress=float(progress), message=message[:200])
    ).rowcount
    db.commit()
    return n == 1


def finish(db: Session, claim: Claim, *, error: str | None = None, **analysis_values) -> bool:
    """Mark the job done (or failed with ``error``) and update its analysis.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    claim : Claim
    error : str | None
        None for success.
    **analysis_values
        Columns of the analysis row to set on success (``results``, ``summary`` …).

    Returns
    -------
    owned : bool
        False when the lease had been taken over; nothing is written then.
    """
    write_lock(db)
    status = "failed" if error else "done"
    n = db.execute(
        update(Job)
        .where(Job.id == claim.job_id, Job.worker == claim.worker, Job.status == "running", Job.attempts == claim.attempt)
        .values(status=status, error=error, finished_at=utcnow(), progress=1.0 if not error else Job.progress, message=status)
    ).rowcount
    if n != 1:
        db.rollback()
        return False
    values = {"status": status, "error": error, "finished_at": utcnow(), **(analysis_values if not error else {})}
    db.execute(update(Analysis).where(Analysis.id == claim.analysis_id).values(**values))
    db.commit()
    return True
