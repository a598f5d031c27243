"""``/api/recordings`` (upload, list, file, viewer window, events, annotations) and ``/api/patients``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...errors import DbrainError
from ...utils._time import format_time, is_multiday
from .. import pages
from ..auth import ANY_ROLE, CAN_ANNOTATE, CAN_SEE_IDENTITY, CAN_UPLOAD, Principal, audit, get_db, require
from ..db import Analysis, Annotation, EventReview, Patient, PatientIdentity, Recording, utcnow
from ..ingest import check_extension, discard, ingest_file, ledger_ingest, safe_filename
from ..provenance import record_row
from ..schemas import (
    AnnotationIn,
    AnnotationOut,
    AnnotationPatch,
    EventOut,
    Identity,
    PatientOut,
    RecordingIdentityOut,
    RecordingOut,
    WindowOut,
)
from ..storage import TooLarge, astream_to_file
from ._common import ERRORS, MAX_ID, NOT_FOUND, IdPath, event_key, other_site, recording_of_site, recording_out

router = APIRouter(tags=["recordings"])
anyone = require(*ANY_ROLE)
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The EDF/BDF file's bytes, streamed (not multipart).",
    }
}


def _without_names(message: str, filename: str, upload) -> str:
    """The core's message with every form of the uploaded file's name and path replaced by ``[upload]``."""
    from pathlib import Path

    names = {filename, safe_filename(filename), Path(filename).name, str(upload), upload.name, str(upload.parent)}
    for name in sorted((n for n in names if n), key=len, reverse=True):
        message = message.replace(name, "[upload]")
    return " ".join(message.split())[:500]


def _ingest(app, who: Principal, upload, sha: str, filename: str) -> RecordingOut:
    settings, store = app.state.settings, app.state.store
    with app.state.sessionmaker() as db:
        try:
            rec = ingest_file(db, store, settings, who, upload, sha, filename)
            record_row(db, "recording.ingest", rec, actor=f"user:{who.user.id}")
            db.commit()
        except DbrainError as exc:
            db.rollback()
            # The file name often names the patient: the audit keeps the upload's hash, never its name.
            detail = {
                "error": _without_names(str(exc), filename, upload),
                "error_type": type(exc).__name__,
                "original_sha256": sha,
            }
            audit(db, who, "recording.upload", outcome="failed", detail=detail)
            db.commit()
            raise
        if settings.ledger:
            rec.ledger_index = ledger_ingest(settings, store, rec.sha256, who, rec.id)
            db.commit()
        return recording_out(db, rec)


@router.post(
    "/api/recordings",
    response_model=RecordingOut,
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    responses={
        **ERRORS,
        413: {"description": "Too large"},
        415: {"description": "Not EDF/BDF"},
        422: {"description": "Damaged recording"},
    },
)
async def upload_recording(
    request: Request,
    filename: str = Query(..., min_length=1, max_length=255, description="The file's name; its extension decides the format."),
    who: Principal = Depends(require(*CAN_UPLOAD)),
) -> RecordingOut:
    """Upload an EDF/BDF recording as the raw request body.

    The body is streamed to disk in 1 MB blocks while its SHA-256 is computed
    (a 2 GB file is never held in memory), validated by the core (a damaged
    file answers 422 with the core's one-line reason, and nothing is kept),
    de-identified, and stored; the patient's identity from the header is kept
    apart for clinicians of the uploader's site.
    """
    check_extension(filename)
    store = request.app.state.store
    scratch = store.scratch()
    try:
        upload = scratch / safe_filename(filename)
        try:
            sha, size = await astream_to_file(request.stream(), upload, limit=request.app.state.settings.max_upload_bytes)
        except TooLarge:
            raise HTTPException(413, "upload exceeds the size limit") from None
        if size == 0:
            raise HTTPException(422, f"cannot read '{safe_filename(filename)}': the upload is empty")
        return await run_in_threadpool(_ingest, request.app, who, upload, sha, filename)
    finally:
        discard(scratch)


@router.get("/api/recordings", response_model=list[RecordingOut], responses=ERRORS)
def list_recordings(
    request: Request,
    patient_id: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    who: Principal = Depends(anyone),
    db: Session = Depends(get_db),
) -> list[RecordingOut]:
    """Recordings of the caller's site (de-identified view), newest first."""
    stmt = select(Recording).where(Recording.site_id == who.site_id)
    if patient_id is not None:
        stmt = stmt.where(Recording.patient_id == patient_id)
    rows = list(db.scalars(stmt.order_by(Recording.id.desc()).limit(limit).offset(offset)))
    out = [recording_out(db, r) for r in rows]
    audit(db, who, "recording.list", request=request, detail={"recording_ids": [r.id for r in rows]})
    db.commit()
    return out


@router.get("/api/recordings/{recording_id}", response_model=RecordingOut, responses={**ERRORS, **NOT_FOUND})
def get_recording(
    recording_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> RecordingOut:
    """One recording (de-identified view)."""
    rec = recording_of_site(db, who, recording_id)
    out = recording_out(db, rec)  # read in the same transaction as the audit row (one BEGIN … COMMIT)
    audit(db, who, "recording.read", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return out


@router.get("/api/recordings/{recording_id}/identity", response_model=RecordingIdentityOut, responses={**ERRORS, **NOT_FOUND})
def get_identity(
    recording_id: IdPath, request: Request, who: Principal = Depends(require(*CAN_SEE_IDENTITY)), db: Session = Depends(get_db)
) -> RecordingIdentityOut:
    """Who the recording belongs to: the identity link (clinicians of the same site only)."""
    rec = recording_of_site(db, who, recording_id)
    patient = db.get(Patient, rec.patient_id)
    ident = db.scalar(select(PatientIdentity).where(PatientIdentity.patient_id == rec.patient_id))
    audit(db, who, "identity.read", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return RecordingIdentityOut(
        recording_id=rec.id,
        patient_id=rec.patient_id,
        pseudonym=patient.pseudonym,
        original_filename=rec.original_filename,
        original_sha256=rec.original_sha256,
        header_recording=rec.header_recording,
        identity=Identity.model_validate(ident) if ident is not None else None,
    )


@router.get(
    "/api/recordings/{recording_id}/file",
    response_class=FileResponse,
    responses={
        **ERRORS,
        **NOT_FOUND,
        200: {"content": {"application/octet-stream": {}}, "description": "The de-identified EDF/BDF"},
    },
)
def download_recording(recording_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)):
    """The stored, de-identified EDF/BDF file."""
    rec = recording_of_site(db, who, recording_id)
    audit(db, who, "recording.download", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request)
    db.commit()
    patient = db.get(Patient, rec.patient_id)
    suffix = ".bdf" if rec.format.startswith("BDF") else ".edf"
    path, checked = request.app.state.store.verified_path(rec.sha256)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=f"{patient.pseudonym}-{rec.id}{suffix}",
        headers={"X-Content-SHA256": rec.sha256, "X-Dbrain-Integrity": checked},
    )


def _named(request: Request, rec: Recording):
    request.app.state.store.verified_path(rec.sha256)  # refuse an altered file before reading it
    return request.app.state.store.named(rec.sha256, ".bdf" if rec.format.startswith("BDF") else ".edf")


_WINDOW_RESPONSES = {
    **ERRORS,
    **NOT_FOUND,
    422: {"description": "Bad window"},
    200: {
        "description": "The window: JSON (format=json), or int16 with a per-channel scale (format=i16, see dbrain.server.window.encode_int16)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}


@router.get("/api/recordings/{recording_id}/window", response_model=WindowOut, responses=_WINDOW_RESPONSES)
def get_window(
    recording_id: IdPath,
    request: Request,
    start: float = Query(0.0, ge=0, le=1e7, description="Seconds from the recording start."),
    duration: float = Query(10.0, gt=0, le=3600, description="Seconds."),
    montage: str = Query(
        "double-banana",
        pattern="^(referential|average|double-banana|transverse|laplacian|custom)$",
        description="A built-in montage, or 'custom' with its derivations. ECG channels are appended to every montage.",
    ),
    derivation: list[str] | None = Query(
        None, max_length=128, description="Derivations of a custom montage: 'Fp1-F7', 'C3-AVG', 'C3-LAP' or 'C3'."
    ),
    fmt: Literal["json", "i16"] = Query(
        "json", alias="format", description="json, or i16: the compact binary transport of the viewer."
    ),
    highpass: float | None = Query(None, gt=0, le=1e4, description="Hz."),
    lowpass: float | None = Query(None, gt=0, le=1e4, description="Hz."),
    notch: float | None = Query(None, gt=0, le=1e4, description="Mains frequency, Hz (harmonics notched too)."),
    max_points: int = Query(2000, ge=100, le=20000, description="Most points per channel."),
    who: Principal = Depends(anyone),
    db: Session = Depends(get_db),
) -> WindowOut:
    """A decimated, filtered window in a montage, for the viewer (never the whole file).

    More samples than ``max_points`` are reduced by min/max envelope, so
    spikes stay visible. Values in µV.
    """
    rec = recording_of_site(db, who, recording_id)
    audit(
        db,
        who,
        "recording.window",
        object_type="recording",
        object_id=rec.id,
        patient_id=rec.patient_id,
        request=request,
        detail={"start": start, "duration": duration, "montage": montage},
    )
    db.commit()
    if montage == "custom" and not derivation:
        raise HTTPException(422, "montage=custom needs its derivations (derivation=Fp1-F7&derivation=…)")
    # The rendered page comes from the per-process page cache (dbrain.server.pages): keyed by the object's
    # hash and every parameter; the access check and audit row above are done for every request.
    path = _named(request, rec)  # the integrity check runs on every request, cached page or not
    params = dict(
        start=start,
        duration=duration,
        montage=montage,
        derivations=derivation,
        highpass=highpass,
        lowpass=lowpass,
        notch=notch,
        max_points=max_points,
    )
    return pages.answer(request, pages.window_key(rec.sha256, fmt, **params), lambda: pages.render_window(path, fmt, **params))


@router.get("/api/recordings/{recording_id}/events", response_model=list[EventOut], responses={**ERRORS, **NOT_FOUND})
def get_events(
    recording_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> list[EventOut]:
    """Everything to mark on the time line: the file's annotations, the newest finished analysis's events, users' annotations."""
    import math

    from ...events import read_events
    from ..window import recording_events

    rec = recording_of_site(db, who, recording_id)
    out = [EventOut(**e) for e in recording_events(_named(request, rec))]
    done = db.scalar(
        select(Analysis).where(Analysis.recording_id == rec.id, Analysis.status == "done").order_by(Analysis.id.desc()).limit(1)
    )
    if done is not None and "events.tsv" in (done.results or {}):
        table = read_events(request.app.state.store.named(done.results["events.tsv"]["sha256"], ".tsv"))
        reviews = {r.event_key: r.decision for r in db.scalars(select(EventReview).where(EventReview.analysis_id == done.id))}
        spk = next((s.get("summary") or {} for s in (done.summary or {}).get("steps", []) if s.get("name") == "spikes"), {})
        for row in table.itertuples(index=False):
            conf = (
                None
                if row.confidence is None or (isinstance(row.confidence, float) and math.isnan(row.confidence))
                else float(row.confidence)
            )
            chan = None if not isinstance(row.channels, str) else row.channels
            review = reviews.get(
                event_key(row.onset, str(row.eventType), None if chan in ("", "n/a") else chan)
            )  # keyed as the review route keys it
            out.append(
                EventOut(
                    onset=float(row.onset), duration=float(row.duration), description=str(row.eventType), source="analysis",
                    channel=chan, confidence=conf, analysis_id=done.id, review=review,
                    **({"cutoff": spk.get("cutoff"), "below_cutoff": spk.get("n_below_cutoff")} if row.eventType == "spike" else {}),
                )
            )  # fmt: skip
    for a in db.scalars(select(Annotation).where(Annotation.recording_id == rec.id).order_by(Annotation.onset)):
        out.append(
            EventOut(
                onset=a.onset,
                duration=a.duration,
                description=a.description,
                source="annotation",
                id=a.id,
                channel=",".join(a.channels) or None,
            )
        )
    audit(db, who, "recording.events", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request)
    db.commit()
    start = _start_of(rec)
    multiday = is_multiday(start, rec.duration)
    for e in out:
        e.time = format_time(e.onset, start, multiday=multiday)
    return sorted(out, key=lambda e: e.onset)


def _start_of(rec: Recording):
    """The recording's start as the viewer reads it: the stored wall-clock digits (offset ignored)."""
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(rec.start_time).replace(tzinfo=None) if rec.start_time else None
    except ValueError:
        return None


@router.get("/api/recordings/{recording_id}/annotations", response_model=list[AnnotationOut], responses={**ERRORS, **NOT_FOUND})
def list_annotations(
    recording_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> list[AnnotationOut]:
    """Users' annotations of a recording."""
    rec = recording_of_site(db, who, recording_id)
    rows = list(db.scalars(select(Annotation).where(Annotation.recording_id == rec.id).order_by(Annotation.onset, Annotation.id)))
    audit(db, who, "annotation.list", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return [AnnotationOut.model_validate(r) for r in rows]


@router.post(
    "/api/recordings/{recording_id}/annotations", response_model=AnnotationOut, status_code=201, responses={**ERRORS, **NOT_FOUND}
)
def create_annotation(
    recording_id: IdPath,
    body: AnnotationIn,
    request: Request,
    who: Principal = Depends(require(*CAN_ANNOTATE)),
    db: Session = Depends(get_db),
) -> AnnotationOut:
    """Add an annotation (clinicians and technologists)."""
    rec = recording_of_site(db, who, recording_id)
    if body.onset > rec.duration:
        raise HTTPException(422, f"onset {body.onset} s is after the recording's end ({rec.duration:.3f} s)")
    row = Annotation(recording_id=rec.id, site_id=rec.site_id, author_id=who.user.id, **body.model_dump())
    db.add(row)
    db.flush()
    audit(db, who, "annotation.create", object_type="annotation", object_id=row.id, patient_id=rec.patient_id, request=request)
    record_row(db, "annotation.create", row, actor=f"user:{who.user.id}")
    db.commit()
    _ledger_annotations(request, db, who, rec, "create", row.id)
    return AnnotationOut.model_validate(row)


def _ledger_annotations(request: Request, db: Session, who: Principal, rec: Recording, change: str, annotation_id: int) -> None:
    """Append ``annotation-changed`` (the set after the change) once the change is committed."""
    from .. import provenance

    # The hashed columns only (plain rows, not ORM objects: the set grows with every annotation of the recording).
    cols = (Annotation.id, Annotation.onset, Annotation.duration, Annotation.description, Annotation.channels)
    content_hash = provenance.annotations_hash(db.execute(select(*cols).where(Annotation.recording_id == rec.id)))
    db.commit()  # end this read before the ledger takes the database's write lock
    provenance.record(
        request.app.state.settings,
        "annotation-changed",
        content_hash=content_hash,
        actor=f"user:{who.user.id}",
        parent_hash=rec.sha256,
        details={"recording_id": rec.id, "recording_sha256": rec.sha256, "change": change, "annotation_id": annotation_id},
    )


def _annotation(db: Session, who: Principal, annotation_id: int) -> tuple[Annotation, Recording]:
    row = db.get(Annotation, annotation_id)
    if row is None or row.site_id != who.site_id:
        other_site(db, who, row, "annotation", annotation_id)
        raise HTTPException(404, f"no annotation {annotation_id}")
    return row, db.get(Recording, row.recording_id)


@router.patch("/api/annotations/{annotation_id}", response_model=AnnotationOut, responses={**ERRORS, **NOT_FOUND})
def update_annotation(
    annotation_id: IdPath,
    body: AnnotationPatch,
    request: Request,
    who: Principal = Depends(require(*CAN_ANNOTATE)),
    db: Session = Depends(get_db),
) -> AnnotationOut:
    """Change an annotation's onset, duration, text or channels."""
    row, rec = _annotation(db, who, annotation_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    audit(
        db,
        who,
        "annotation.update",
        object_type="annotation",
        object_id=row.id,
        patient_id=rec.patient_id,
        request=request,
        detail={"fields": sorted(changes)},
    )
    record_row(db, "annotation.update", row, actor=f"user:{who.user.id}")
    db.commit()
    _ledger_annotations(request, db, who, rec, "update", row.id)
    return AnnotationOut.model_validate(row)


@router.delete("/api/annotations/{annotation_id}", status_code=204, responses={**ERRORS, **NOT_FOUND})
def delete_annotation(
    annotation_id: IdPath, request: Request, who: Principal = Depends(require(*CAN_ANNOTATE)), db: Session = Depends(get_db)
) -> Response:
    """Delete an annotation."""
    row, rec = _annotation(db, who, annotation_id)
    audit(db, who, "annotation.delete", object_type="annotation", object_id=row.id, patient_id=rec.patient_id, request=request)
    record_row(db, "annotation.delete", row, actor=f"user:{who.user.id}", deleted=True)
    db.delete(row)
    db.commit()
    _ledger_annotations(request, db, who, rec, "delete", annotation_id)
    return Response(status_code=204)


@router.get("/api/patients", response_model=list[PatientOut], responses=ERRORS)
def list_patients(request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)) -> list[PatientOut]:
    """Pseudonymous patients of the caller's site."""
    counts = dict(
        db.execute(
            select(Recording.patient_id, func.count()).where(Recording.site_id == who.site_id).group_by(Recording.patient_id)
        ).all()
    )
    rows = list(db.scalars(select(Patient).where(Patient.site_id == who.site_id).order_by(Patient.id)))
    audit(db, who, "patient.list", request=request, detail={"n": len(rows)})
    db.commit()
    return [PatientOut(id=p.id, site_id=p.site_id, pseudonym=p.pseudonym, n_recordings=int(counts.get(p.id, 0))) for p in rows]


@router.get("/api/patients/{patient_id}/identity", response_model=Identity, responses={**ERRORS, **NOT_FOUND})
def patient_identity(
    patient_id: IdPath, request: Request, who: Principal = Depends(require(*CAN_SEE_IDENTITY)), db: Session = Depends(get_db)
) -> Identity:
    """A patient's identity from the original header (clinicians of the same site only)."""
    patient = db.get(Patient, patient_id)
    if patient is None or patient.site_id != who.site_id:
        other_site(db, who, patient, "patient", patient_id)
        raise HTTPException(404, f"no patient {patient_id}")
    ident = db.scalar(select(PatientIdentity).where(PatientIdentity.patient_id == patient.id))
    audit(db, who, "identity.read", object_type="patient", object_id=patient.id, patient_id=patient.id, request=request)
    db.commit()
    return Identity.model_validate(ident) if ident is not None else Identity()
