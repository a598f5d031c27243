"""Lookups shared by the routers: objects of the caller's own site, or 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import Principal
from ..db import Analysis, Job, Patient, Recording
from ..schemas import AnalysisOut, JobOut, RecordingOut

#: A row id in a URL path (32-bit, as the databases store it).
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]
#: The same bounds for an id in a query.
MAX_ID = 2_147_483_647

#: Error answers every authenticated route can give (for the OpenAPI spec).
ERRORS = {401: {"description": "Not authenticated"}, 403: {"description": "Role not allowed"}}
NOT_FOUND = {404: {"description": "Not found (or another site's)"}}


def other_site(db: Session, who: Principal, row, object_type: str, object_id: int) -> None:
    """Audit an attempt on another site's object in THAT site's log (the caller then answers 404).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    who : Principal
    row : a row with ``site_id``, or None (no such object: nothing to audit)
    object_type : str
    object_id : int
    """
    if row is None:
        return
    from ..auth import audit

    target = row.site_id
    db.rollback()  # nothing of the refused request is kept but this row
    detail = {"reason": "other site", "from_site": who.site_id}
    audit(db, who, "cross-site", object_type=object_type, object_id=object_id, site_id=target, outcome="denied", detail=detail)
    db.commit()


def event_key(onset: float, event_type: str, channel: str | None) -> str:
    """The identity of one row of an analysis's events.tsv (onset to the microsecond, type, channels).

    Parameters
    ----------
    onset : float
    event_type : str
    channel : str | None

    Returns
    -------
    key : str
    """
    return f"{round(float(onset) * 1e6)}|{event_type}|{channel or ''}"


def recording_of_site(db: Session, who: Principal, recording_id: int) -> Recording:
    """Return the recording if it belongs to the caller's site, else raise 404.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    who : Principal
    recording_id : int

    Returns
    -------
    recording : Recording
    """
    rec = db.get(Recording, recording_id)
    if rec is None or rec.site_id != who.site_id:
        other_site(db, who, rec, "recording", recording_id)
        raise HTTPException(404, f"no recording {recording_id}")
    return rec


def analysis_of_site(db: Session, who: Principal, analysis_id: int) -> Analysis:
    """Return the analysis if it belongs to the caller's site, else raise 404.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    who : Principal
    analysis_id : int

    Returns
    -------
    analysis : Analysis
    """
    row = db.get(Analysis, analysis_id)
    if row is None or row.site_id != who.site_id:
        other_site(db, who, row, "analysis", analysis_id)
        raise HTTPException(404, f"no analysis {analysis_id}")
    return row


def recording_out(db: Session, rec: Recording) -> RecordingOut:
    """Serialise a recording (de-identified view: no file name, no identity).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    rec : Recording

    Returns
    -------
    out : RecordingOut
    """
    patient = db.get(Patient, rec.patient_id)
    return RecordingOut(
        id=rec.id,
        site_id=rec.site_id,
        patient_id=rec.patient_id,
        pseudonym=patient.pseudonym,
        sha256=rec.sha256,
        size=rec.size,
        format=rec.format,
        n_channels=rec.n_channels,
        sfreq=rec.sfreq,
        duration=rec.duration,
        start_time=rec.start_time,
        channels=rec.channels or [],
        created_at=rec.created_at,
        ledger_index=rec.ledger_index,
    )


def _spike_text(row: Analysis) -> str | None:
    """The spikes step's count in the report's page-1 words (None before it ran, or when it could not)."""
    spk = next((s.get("summary") or {} for s in (row.summary or {}).get("steps", []) if s.get("name") == "spikes"), None)
    if not spk or not spk.get("computed", True):
        return None
    from ...report._clinical import spike_cutoff_text

    n = int(spk.get("n_spikes", 0) or 0)
    text = spike_cutoff_text(spk)
    return text if not n else f"{n}; {text}"


def _screen_texts(row: Analysis) -> dict[str, str] | None:
    """The diagnosis step's screens in the report's page-1 words, caveat and scope included (None before it ran)."""
    diag = next((s.get("summary") or {} for s in (row.summary or {}).get("steps", []) if s.get("name") == "diagnosis"), None)
    if not diag or not diag.get("screens"):
        return None
    from ...report._clinical import screen_text

    return {name: screen_text(s) for name, s in diag["screens"].items()}


def analysis_out(db: Session, row: Analysis) -> AnalysisOut:
    """Serialise an analysis with its job's state.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    row : Analysis

    Returns
    -------
    out : AnalysisOut
    """
    job = db.scalar(select(Job).where(Job.analysis_id == row.id).order_by(Job.id.desc()).limit(1))
    return AnalysisOut(
        id=row.id,
        recording_id=row.recording_id,
        status=row.status,
        only=row.only or [],
        skip=row.skip or [],
        error=row.error,
        results=row.results or {},
        n_events=row.n_events,
        created_at=row.created_at,
        finished_at=row.finished_at,
        ledger_index=row.ledger_index,
        spikes=_spike_text(row),
        screens=_screen_texts(row),
        job=JobOut(
            id=job.id,
            status=job.status,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            progress=job.progress,
            message=job.message,
            error=job.error,
        )
        if job is not None
        else None,
    )


def store(request: Request):
    """Return the app's object store.

    Parameters
    ----------
    request : fastapi.Request

    Returns
    -------
    store : dbrain.server.storage.ObjectStore
    """
    return request.app.state.store
