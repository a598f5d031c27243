"""Neurofeedback courses, sessions, the patient display and reports (docs/nfb-centre.md).

Answers to therapists and patients are built from fixed key sets that are the
same for sham and real courses; the allocation is read only by
``POST /api/nfb/courses/{id}/unblind``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import Principal, audit, get_db, require, token_hash
from ..db import Patient, utcnow
from ..nfb_db import NfbAllocation, NfbCourse, NfbOutcome, NfbSession
from ..provenance import record_row
from ..roles import CAN_PRESCRIBE_NFB, CAN_RUN_NFB, CAN_UNBLIND
from ..throttle import TooManyAttempts
from ._common import ERRORS, NOT_FOUND, IdPath, other_site

router = APIRouter(tags=["neurofeedback"])
runs = require(*CAN_RUN_NFB)
prescribes = require(*CAN_PRESCRIBE_NFB)
#: The patient display's cookie (set by the code exchange; only the display's own API paths receive it).
DISPLAY_COOKIE = "dbrain_nfb_display"
DISPLAY_PATH = "/api/nfb/display"
#: Hours a display stays usable after its session ended (the end screen).
DISPLAY_HOURS = 2.0
READY = ("cleared", "overridden")


# --------------------------------------------------------------------------- bodies


class Block(BaseModel):
    kind: Literal["baseline", "training", "transfer"]
    minutes: float = Field(gt=0, le=120)


class CourseIn(BaseModel):
    patient_id: int = Field(ge=1, le=2_147_483_647)
    protocol: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    n_sessions: int = Field(ge=1, le=100)
    session_minutes: float = Field(default=30.0, gt=0, le=120)
    blocks: list[Block] | None = Field(default=None, max_length=40, description="Default: baseline, training blocks, transfer.")
    sham_fraction: float = Field(default=0.5, ge=0.0, le=1.0, description="Probability of the sham arm (0.5: 1:1).")


class SafetyState(BaseModel):
    status: str = Field(description="screening | blocked | cleared | overridden")
    findings: list[str] = []
    checklist: dict = {}
    recording_id: int | None = None
    override_reason: str | None = None


class CourseOut(BaseModel):
    id: int
    site_id: int
    patient_id: int
    pseudonym: str
    protocol: str
    n_sessions: int
    plan: list[Block]
    allocation_commitment: str = Field(description="SHA-256 sealing the allocation (same form for every arm).")
    blinded: bool
    sham_controlled: bool = Field(
        description="The course may be in the sham arm (sham_fraction > 0): live threshold changes are off."
    )
    safety: SafetyState
    sessions_done: int
    created_at: dt.datetime


class UnblindIn(BaseModel):
    reason: str = Field(min_length=5, max_length=2000)


class UnblindOut(BaseModel):
    course_id: int
    arm: Literal["real", "sham"]
    nonce: str
    seed: str
    sham_fraction: float
    allocation_commitment: str
    commitment_ok: bool = Field(description="SHA-256 of {arm, course, nonce} equals the sealed commitment.")


class SessionIn(BaseModel):
    source: str = Field(
        min_length=1, max_length=500, description="lsl:NAME, synthetic, or file:PATH (a demo file on the server)."
    )
    minutes: float | None = Field(default=None, gt=0, le=120, description="Default: the course's plan.")
    speed: float = Field(default=1.0, gt=0, le=100)
    target_reward_fraction: float | None = Field(default=None, gt=0, lt=1)


class SessionOut(BaseModel):
    id: int
    course_id: int
    site_id: int
    patient_id: int
    number: int
    status: str
    source: str
    speed: float
    blocks: list[Block]
    target_reward_fraction: float | None
    summary: dict | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ControlsIn(BaseModel):
    target_reward_fraction: float | None = Field(
        default=None, ge=0.05, le=0.95, description="New target of the automatic threshold."
    )
    threshold: float | None = Field(default=None, description="Hold the threshold at this value (the trained feature's unit).")
    automatic: bool = Field(default=False, description="Return to the automatic threshold.")


class SessionCreated(BaseModel):
    session: SessionOut
    code: str = Field(description="One-time display code (shown once; single use; expires).")
    code_expires_at: dt.datetime


class CodeIn(BaseModel):
    code: str = Field(min_length=4, max_length=40)


class DisplayOut(BaseModel):
    session_number: int
    n_sessions: int
    status: str
    blocks: list[Block]
    reward_fraction: float | None


# --------------------------------------------------------------------------- lookups


def course_of_site(db: Session, who: Principal, course_id: int) -> NfbCourse:
    """Return the course if it belongs to the caller's site, else 404 (audited in the other site's log)."""
    row = db.get(NfbCourse, course_id)
    if row is None or row.site_id != who.site_id:
        other_site(db, who, row, "nfb_course", course_id)
        raise HTTPException(404, f"no course {course_id}")
    return row


def session_of_site(db: Session, who: Principal, session_id: int) -> NfbSession:
    """Return the session if it belongs to the caller's site, else 404 (audited in the other site's log)."""
    row = db.get(NfbSession, session_id)
    if row is None or row.site_id != who.site_id:
        other_site(db, who, row, "nfb_session", session_id)
        raise HTTPException(404, f"no session {session_id}")
    return row


def course_out(db: Session, row: NfbCourse) -> CourseOut:
    """Serialise a course: the same keys for both arms (no allocation).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    row : NfbCourse

    Returns
    -------
    out : CourseOut
    """
    safety = row.safety or {}
    done = len(list(db.scalars(select(NfbSession.id).where(NfbSession.course_id == row.id, NfbSession.status == "done"))))
    return CourseOut(
        id=row.id,
        site_id=row.site_id,
        patient_id=row.patient_id,
        pseudonym=db.get(Patient, row.patient_id).pseudonym,
        protocol=row.protocol,
        n_sessions=row.n_sessions,
        plan=row.plan,
        allocation_commitment=row.allocation_commitment,
        blinded=row.unblinded_at is None,
        sham_controlled=db.scalar(select(NfbAllocation.sham_fraction).where(NfbAllocation.course_id == row.id)) > 0,
        safety=SafetyState(
            status=row.safety_status,
            findings=list(safety.get("findings") or []),
            checklist=dict(safety.get("checklist") or {}),
            recording_id=safety.get("recording_id"),
            override_reason=row.safety_override_reason,
        ),
        sessions_done=done,
        created_at=row.created_at,
    )


def session_out(row: NfbSession) -> SessionOut:
    """Serialise a session: the same keys for both arms (no display source, no code).

    Parameters
    ----------
    row : NfbSession

    Returns
    -------
    out : SessionOut
    """
    return SessionOut(
        id=row.id,
        course_id=row.course_id,
        site_id=row.site_id,
        patient_id=row.patient_id,
        number=row.number,
        status=row.status,
        source=row.source,
        speed=row.speed,
        blocks=row.blocks,
        target_reward_fraction=row.target_reward_fraction,
        summary=row.summary,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _settings(request: Request):
    return request.app.state.settings


# --------------------------------------------------------------------------- courses


@router.post("/api/nfb/courses", response_model=CourseOut, status_code=201, responses={**ERRORS, **NOT_FOUND})
def create_course(
    body: CourseIn, request: Request, who: Principal = Depends(prescribes), db: Session = Depends(get_db)
) -> CourseOut:
    """Prescribe a course of neurofeedback sessions for a patient of the caller's site.

    The sham/real arm is drawn from a fresh per-course seed and sealed (its
    commitment goes into the ledger with the course row); it is never shown
    to therapists or patients. Sessions can start once the safety screening
    cleared the course (``POST …/safety``) or a clinician overrode it.
    """
    from ..nfb_service import commitment, default_plan, draw_arm

    patient = db.get(Patient, body.patient_id)
    if patient is None or patient.site_id != who.site_id:
        other_site(db, who, patient, "patient", body.patient_id)
        raise HTTPException(404, f"no patient {body.patient_id}")
    _check_protocol(body.protocol)
    plan = [b.model_dump() for b in body.blocks] if body.blocks else default_plan(body.session_minutes)
    if not any(b["kind"] == "training" for b in plan):
        raise HTTPException(422, "a session plan needs at least one training block")
    seed, nonce = secrets.token_hex(16), secrets.token_hex(32)
    arm = draw_arm(seed, body.sham_fraction)
    row = NfbCourse(
        site_id=who.site_id, patient_id=patient.id, protocol=body.protocol, n_sessions=body.n_sessions, plan=plan,
        created_by=who.user.id, allocation_commitment="0" * 64, safety_status="screening", safety={},
    )  # fmt: skip
    db.add(row)
    db.flush()
    row.allocation_commitment = commitment(row.id, arm, nonce)
    db.add(
        NfbAllocation(course_id=row.id, site_id=row.site_id, arm=arm, nonce=nonce, seed=seed, sham_fraction=body.sham_fraction)
    )
    audit(db, who, "nfb.course.create", object_type="nfb_course", object_id=row.id, patient_id=patient.id, request=request,
          detail={"protocol": body.protocol, "n_sessions": body.n_sessions})  # fmt: skip
    record_row(db, "nfb_course.create", row, actor=f"user:{who.user.id}")
    db.commit()
    if arm == "sham":
        from ..nfb_service import donor_seed, prepare_donor

        prepare_donor(request.app.state.settings.home, row.protocol, plan, donor_seed(seed, 1))
    return course_out(db, row)


def _check_protocol(name: str) -> None:
    from ...nfb import list_protocols as protocols

    names = list(protocols())
    if name not in names:
        raise HTTPException(422, f"unknown protocol {name!r}; protocols are: {', '.join(names)}")


@router.get("/api/nfb/protocols", response_model=list[str], responses=ERRORS)
def list_protocols(who: Principal = Depends(runs)) -> list[str]:
    """The built-in neurofeedback protocols (``dbrain.nfb``)."""
    from ...nfb import list_protocols as protocols

    return list(protocols())


@router.get("/api/nfb/courses", response_model=list[CourseOut], responses=ERRORS)
def list_courses(who: Principal = Depends(runs), db: Session = Depends(get_db)) -> list[CourseOut]:
    """The caller's site's courses (newest first)."""
    rows = db.scalars(select(NfbCourse).where(NfbCourse.site_id == who.site_id).order_by(NfbCourse.id.desc()).limit(500))
    return [course_out(db, r) for r in rows]


@router.get("/api/nfb/courses/{course_id}", response_model=CourseOut, responses={**ERRORS, **NOT_FOUND})
def get_course(course_id: IdPath, who: Principal = Depends(runs), db: Session = Depends(get_db)) -> CourseOut:
    """One course (no allocation: the answer has the same keys for both arms)."""
    return course_out(db, course_of_site(db, who, course_id))


@router.get("/api/nfb/courses/{course_id}/sessions", response_model=list[SessionOut], responses={**ERRORS, **NOT_FOUND})
def list_sessions(course_id: IdPath, who: Principal = Depends(runs), db: Session = Depends(get_db)) -> list[SessionOut]:
    """A course's sessions in order."""
    course = course_of_site(db, who, course_id)
    rows = db.scalars(select(NfbSession).where(NfbSession.course_id == course.id).order_by(NfbSession.number))
    return [session_out(r) for r in rows]


@router.post("/api/nfb/courses/{course_id}/unblind", response_model=UnblindOut, responses={**ERRORS, **NOT_FOUND})
def unblind(
    course_id: IdPath,
    body: UnblindIn,
    request: Request,
    who: Principal = Depends(require(*CAN_UNBLIND)),
    db: Session = Depends(get_db),
) -> UnblindOut:
    """Reveal a course's arm (admin or clinician, with a reason; audited and ledgered).

    The answer carries the nonce: SHA-256 of the canonical JSON
    ``{"arm", "course", "nonce"}`` must equal the commitment sealed in the
    ledger when the course was created.
    """
    from ..nfb_service import commitment

    course = course_of_site(db, who, course_id)
    alloc = db.scalar(select(NfbAllocation).where(NfbAllocation.course_id == course.id))
    if course.unblinded_at is None:
        course.unblinded_at = utcnow()
        course.unblinded_by = who.user.id
        course.unblind_reason = body.reason
        record_row(db, "nfb_course.unblind", course, actor=f"user:{who.user.id}")
    audit(db, who, "nfb.course.unblind", object_type="nfb_course", object_id=course.id, patient_id=course.patient_id,
          request=request, detail={"reason": body.reason[:500]})  # fmt: skip
    db.commit()
    return UnblindOut(
        course_id=course.id, arm=alloc.arm, nonce=alloc.nonce, seed=alloc.seed, sham_fraction=alloc.sham_fraction,
        allocation_commitment=course.allocation_commitment,
        commitment_ok=commitment(course.id, alloc.arm, alloc.nonce) == course.allocation_commitment,
    )  # fmt: skip


# --------------------------------------------------------------------------- sessions


def _issue_code(row: NfbSession) -> tuple[str, dt.datetime]:
    from ..nfb_service import CODE_MINUTES, code_hash, new_code

    code = new_code()
    row.code_hash = code_hash(code)
    row.code_expires_at = utcnow() + dt.timedelta(minutes=CODE_MINUTES)
    row.code_used_at = None
    row.display_hash = None
    return code, row.code_expires_at


def file_source_roots(settings) -> list:
    """Folders a ``file:`` (demonstration) source may be read from: ``$DBRAIN_HOME/nfb-sources`` and dbrain's bundled samples."""
    from pathlib import Path

    import dbrain

    return [(Path(settings.home) / "nfb-sources").resolve(), (Path(dbrain.__file__).parent / "data" / "sample").resolve()]


def _check_source(source: str, settings) -> None:
    from pathlib import Path

    if source == "synthetic" or (source.startswith("lsl:") and len(source) > 4):
        return
    if source.startswith("file:") and len(source) > 5:
        path = Path(source[5:]).expanduser()
        roots = file_source_roots(settings)
        try:
            resolved = path.resolve()
        except OSError:
            resolved = None
        if resolved is None or not resolved.is_file() or not any(resolved.is_relative_to(r) for r in roots):
            raise HTTPException(422, f"a file: source must be an existing file under {' or '.join(map(str, roots))}")
        return
    raise HTTPException(422, f"source must be 'lsl:NAME', 'synthetic' or 'file:PATH', got {source!r}")


@router.post(
    "/api/nfb/courses/{course_id}/sessions",
    response_model=SessionCreated,
    status_code=201,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Course blocked or complete"}},
)
def create_session(
    course_id: IdPath, body: SessionIn, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> SessionCreated:
    """Plan the course's next session and issue its one-time display code."""
    from ..nfb_service import default_plan

    course = course_of_site(db, who, course_id)
    if course.safety_status not in READY:
        raise HTTPException(
            409,
            f"the course's safety screening is '{course.safety_status}': sessions start once it is cleared or a clinician overrides it",
        )
    _check_source(body.source, request.app.state.settings)
    n = len(list(db.scalars(select(NfbSession.id).where(NfbSession.course_id == course.id))))
    if n >= course.n_sessions:
        raise HTTPException(409, f"the course's {course.n_sessions} sessions are all planned")
    blocks = course.plan if body.minutes is None else default_plan(body.minutes)
    row = NfbSession(
        course_id=course.id, site_id=course.site_id, patient_id=course.patient_id, number=n + 1, status="planned",
        source=body.source, speed=body.speed, blocks=blocks, target_reward_fraction=body.target_reward_fraction, results={},
    )  # fmt: skip
    code, expires = _issue_code(row)
    db.add(row)
    db.flush()
    audit(db, who, "nfb.session.create", object_type="nfb_session", object_id=row.id, patient_id=row.patient_id, request=request)
    record_row(db, "nfb_session.create", row, actor=f"user:{who.user.id}")
    db.commit()
    return SessionCreated(session=session_out(row), code=code, code_expires_at=expires)


@router.get("/api/nfb/sessions/{session_id}", response_model=SessionOut, responses={**ERRORS, **NOT_FOUND})
def get_session(
    session_id: IdPath, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> SessionOut:
    """One session (the same keys for both arms)."""
    return session_out(session_of_site(db, who, session_id))


@router.post(
    "/api/nfb/sessions/{session_id}/code",
    response_model=SessionCreated,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Session over"}},
)
def reissue_code(
    session_id: IdPath, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> SessionCreated:
    """Issue a new display code (the old code and any open display stop working)."""
    row = session_of_site(db, who, session_id)
    if row.status not in ("planned", "running"):
        raise HTTPException(409, f"session {row.id} is {row.status}")
    code, expires = _issue_code(row)
    audit(db, who, "nfb.session.code", object_type="nfb_session", object_id=row.id, patient_id=row.patient_id, request=request)
    db.commit()
    return SessionCreated(session=session_out(row), code=code, code_expires_at=expires)


def _sham_source(db: Session, request: Request, course: NfbCourse, row: NfbSession):
    """The feedback.parquet driving a sham session's display (a path, or a function making it), or None for a real session."""
    alloc = db.scalar(select(NfbAllocation).where(NfbAllocation.course_id == course.id))
    if alloc.arm != "sham":
        return None
    real = select(NfbAllocation.course_id).where(NfbAllocation.arm == "real", NfbAllocation.site_id == course.site_id)
    donors = db.scalars(
        select(NfbSession)
        .join(NfbCourse, NfbCourse.id == NfbSession.course_id)
        .where(NfbSession.site_id == course.site_id, NfbSession.status == "done", NfbCourse.protocol == course.protocol,
               NfbSession.patient_id != course.patient_id, NfbSession.course_id.in_(real))
        .order_by(NfbSession.id.desc())
    )  # fmt: skip
    store = request.app.state.store
    minutes = sum(float(b["minutes"]) for b in row.blocks)
    for donor in donors:
        fb = (donor.results or {}).get("feedback.parquet")
        # The recorded timeline must cover this whole session (dbrain.nfb refuses a shorter one).
        long_enough = ((donor.summary or {}).get("minutes") or 0.0) >= minutes
        if fb and long_enough and store.exists(fb["sha256"]):
            row.sham_of = donor.id
            return str(store.named(fb["sha256"], ".parquet"))
    # No recorded real session fits: a synthetic session's timeline (prepared when the course or the previous
    # session ended, so the start takes as long as a real one's).
    import functools

    from ..nfb_service import donor_seed, synthetic_donor

    return functools.partial(
        synthetic_donor, request.app.state.settings.home, course.protocol, row.blocks, donor_seed(alloc.seed, row.number)
    )


@router.post(
    "/api/nfb/sessions/{session_id}/start",
    response_model=SessionOut,
    status_code=202,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Not startable"}},
)
def start_session(
    session_id: IdPath, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> SessionOut:
    """Start the session: the server runs ``dbrain.nfb.run_session`` and streams its feedback to the display."""
    row = session_of_site(db, who, session_id)
    course = db.get(NfbCourse, row.course_id)
    if row.status != "planned":
        raise HTTPException(409, f"session {row.id} is {row.status}, not planned")
    if course.safety_status not in READY:
        raise HTTPException(409, f"the course's safety screening is '{course.safety_status}'")
    busy = db.scalar(select(NfbSession.number).where(NfbSession.course_id == course.id, NfbSession.status == "running"))
    if busy is not None:
        raise HTTPException(409, f"session {busy} of this course is running; stop it first")
    sham = _sham_source(db, request, course, row)
    on_end = None
    if sham is not None and row.number < course.n_sessions:
        import functools

        from ..nfb_service import donor_seed, prepare_donor

        alloc = db.scalar(select(NfbAllocation).where(NfbAllocation.course_id == course.id))
        home = request.app.state.settings.home
        on_end = functools.partial(prepare_donor, home, course.protocol, row.blocks, donor_seed(alloc.seed, row.number + 1))
    minutes = sum(float(b["minutes"]) for b in row.blocks)
    row.status = "running"
    row.started_at = utcnow()
    row.started_by = who.user.id
    audit(db, who, "nfb.session.start", object_type="nfb_session", object_id=row.id, patient_id=row.patient_id, request=request)
    record_row(db, "nfb_session.start", row, actor=f"user:{who.user.id}")
    db.commit()
    request.app.state.nfb.start(
        row.id, protocol=course.protocol, source=row.source, minutes=minutes, speed=row.speed, blocks=row.blocks,
        sham_feedback=sham, target_reward_fraction=row.target_reward_fraction, on_end=on_end,
        show_signal=db.scalar(select(NfbAllocation.sham_fraction).where(NfbAllocation.course_id == course.id)) == 0,
    )  # fmt: skip
    return session_out(row)


@router.post(
    "/api/nfb/sessions/{session_id}/stop",
    response_model=SessionOut,
    status_code=202,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Not running"}},
)
def stop_session(
    session_id: IdPath, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> SessionOut:
    """Stop a running session (its results so far are kept; status ``stopped``)."""
    row = session_of_site(db, who, session_id)
    live = request.app.state.nfb.get(row.id)
    if row.status != "running":
        raise HTTPException(409, f"session {row.id} is {row.status}, not running")
    if live is None or live.thread is None or not live.thread.is_alive():
        if live is None:
            # Marked running, but no thread of this process runs it (the web process was restarted): close it.
            row.status, row.error, row.finished_at = "failed", "the server process that ran this session ended", utcnow()
            record_row(db, "nfb_session.failed", row, actor=f"user:{who.user.id}")
    elif live.control is not None:
        live.control.stop()
    else:
        live.stop.set()
    audit(db, who, "nfb.session.stop", object_type="nfb_session", object_id=row.id, patient_id=row.patient_id, request=request)
    db.commit()
    return session_out(row)


@router.post(
    "/api/nfb/sessions/{session_id}/controls",
    status_code=202,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Not running, or a sham-controlled course"}},
)
def session_controls(
    session_id: IdPath, body: ControlsIn, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> dict:
    """Change a running session's threshold: a new target reward fraction, a threshold held by hand, or back to automatic.

    Only in courses without a sham arm (``sham_fraction`` 0): in a sham session the display follows
    another session, so it would not answer a threshold change, and the therapist would see the arm.
    The answer is the same for both arms of a sham-controlled course. Every change is audited and
    listed in the session's session.json (``controls``).
    """
    row = session_of_site(db, who, session_id)
    course = db.get(NfbCourse, row.course_id)
    alloc = db.scalar(select(NfbAllocation).where(NfbAllocation.course_id == course.id))
    if alloc.sham_fraction > 0:
        raise HTTPException(
            409,
            "live threshold changes are off in a sham-controlled course (they would unblind it); set the target before the start",
        )
    live = request.app.state.nfb.get(row.id)
    if row.status != "running" or live is None or live.control is None:
        raise HTTPException(409, f"session {row.id} is {row.status}, not running in this server")
    applied = []
    if body.target_reward_fraction is not None:
        live.control.set_target(body.target_reward_fraction)
        applied.append({"target_reward_fraction": body.target_reward_fraction})
    if body.automatic:
        live.control.set_threshold(None)
        applied.append({"threshold": "automatic"})
    elif body.threshold is not None:
        live.control.set_threshold(body.threshold)
        applied.append({"threshold": body.threshold})
    if not applied:
        raise HTTPException(422, "give target_reward_fraction, threshold, or automatic=true")
    audit(
        db,
        who,
        "nfb.session.controls",
        object_type="nfb_session",
        object_id=row.id,
        patient_id=row.patient_id,
        request=request,
        detail={"applied": applied},
    )
    db.commit()
    return {"applied": applied}


# --------------------------------------------------------------------------- live streams


async def _events(request: Request, session_id: int):
    from ..nfb_service import EVENT_KEYS  # noqa: F401 - the keys every feedback event has

    live = request.app.state.nfb.get(session_id)
    yield "retry: 1000\n\n"
    if live is None:
        yield "data: " + json.dumps({"type": "waiting"}) + "\n\n"
        return
    q = live.subscribe()
    try:
        while True:
            try:
                event = await asyncio.wait_for(q.get(), timeout=15.0)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            yield "data: " + json.dumps(event, separators=(",", ":")) + "\n\n"
            if event.get("type") == "end":
                return
    finally:
        live.unsubscribe(q)


def _sse(gen) -> StreamingResponse:
    return StreamingResponse(
        gen, media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get(
    "/api/nfb/sessions/{session_id}/stream", responses={**ERRORS, **NOT_FOUND, 200: {"content": {"text/event-stream": {}}}}
)
def session_stream(
    session_id: IdPath, request: Request, who: Principal = Depends(runs), db: Session = Depends(get_db)
) -> StreamingResponse:
    """Server-sent events of a session: the same feedback events as the patient's display, with signal quality per electrode.

    Ends with ``{"type": "end"}``; before the session starts: one ``{"type": "waiting"}``
    and the browser reconnects after a second.
    """
    row = session_of_site(db, who, session_id)
    db.commit()
    return _sse(_events(request, row.id))


# --------------------------------------------------------------------------- the patient display


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/api/nfb/display/code",
    response_model=DisplayOut,
    responses={401: {"description": "Wrong, used or expired code"}, 429: {"description": "Too many attempts"}},
)
async def enter_code(body: CodeIn, request: Request, response: Response) -> DisplayOut:
    """Open the patient display with a one-time session code (no login).

    The code is single-use and expires; attempts are throttled per client
    address like logins (the login guard's rate and lock-out). A right code
    sets the display's cookie, valid for that session only.
    """
    from ..nfb_service import code_hash

    guard = request.app.state.login_guard
    client = _client(request)
    try:
        guard.check(f"nfb-display-code/{client}", client)
    except TooManyAttempts as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    token = secrets.token_urlsafe(32)
    out = await run_in_threadpool(_exchange_code, request, code_hash(body.code), token_hash(token))
    if out is None:
        guard.failed(f"nfb-display-code/{client}", client)
        raise HTTPException(401, "wrong, used or expired session code")
    s = request.app.state.settings
    response.set_cookie(
        DISPLAY_COOKIE, token, httponly=True, secure=s.cookie_secure, samesite="strict", path=DISPLAY_PATH, max_age=12 * 3600
    )
    return out


def _exchange_code(request: Request, hashed: str, display_hash: str) -> DisplayOut | None:
    with request.app.state.sessionmaker() as db:
        row = db.scalar(select(NfbSession).where(NfbSession.code_hash == hashed))
        ok = (
            row is not None
            and row.code_used_at is None
            and row.code_expires_at > utcnow()
            and row.status in ("planned", "running")
        )
        if not ok:
            audit(db, None, "nfb.display.code", site_id=row.site_id if row is not None else None, object_type="nfb_session",
                  object_id=row.id if row is not None else None, request=request, outcome="denied")  # fmt: skip
            db.commit()
            return None
        row.code_used_at = utcnow()
        row.display_hash = display_hash
        audit(
            db,
            None,
            "nfb.display.open",
            site_id=row.site_id,
            object_type="nfb_session",
            object_id=row.id,
            patient_id=row.patient_id,
            request=request,
        )
        db.commit()
        return _display_out(db, row)


def _display_out(db: Session, row: NfbSession) -> DisplayOut:
    course = db.get(NfbCourse, row.course_id)
    summary = row.summary or {}
    return DisplayOut(
        session_number=row.number, n_sessions=course.n_sessions, status=row.status, blocks=row.blocks,
        reward_fraction=summary.get("reward_fraction"),
    )  # fmt: skip


def _display_session(request: Request) -> NfbSession:
    token = request.cookies.get(DISPLAY_COOKIE)
    if not token:
        raise HTTPException(401, "no session code entered on this display")
    with request.app.state.sessionmaker() as db:
        row = db.scalar(select(NfbSession).where(NfbSession.display_hash == token_hash(token)))
        db.commit()
    if row is None:
        raise HTTPException(401, "this display's session code is no longer valid")
    if row.finished_at is not None and utcnow() - row.finished_at > dt.timedelta(hours=DISPLAY_HOURS):
        raise HTTPException(401, "this display's session is over")
    return row


@router.get("/api/nfb/display", response_model=DisplayOut, responses={401: {"description": "No valid display cookie"}})
def display_state(request: Request, db: Session = Depends(get_db)) -> DisplayOut:
    """The display's session: number, state, blocks and (at the end) the reward fraction shown."""
    row = _display_session(request)
    return _display_out(db, db.get(NfbSession, row.id))


@router.get(
    "/api/nfb/display/stream",
    responses={401: {"description": "No valid display cookie"}, 200: {"content": {"text/event-stream": {}}}},
)
def display_stream(request: Request) -> StreamingResponse:
    """Server-sent feedback events for the patient's display (the same events as the therapist's stream)."""
    row = _display_session(request)
    return _sse(_events(request, row.id))


# --------------------------------------------------------------------------- reports


def _feedback_frame(request: Request, row: NfbSession):
    import pandas as pd

    fb = (row.results or {}).get("feedback.parquet")
    if not fb:
        return None
    path, _ = request.app.state.store.verified_path(fb["sha256"])
    return pd.read_parquet(path)


def _baseline_qeeg(request: Request, row: NfbSession) -> dict | None:
    q = (row.results or {}).get("baseline_qeeg.json")
    if not q:
        return None
    path, _ = request.app.state.store.verified_path(q["sha256"])
    return json.loads(path.read_text())


def _answer(report: dict, render, format: str, name: str):
    """The report as JSON, its HTML page, or that page printed to PDF by the clinical report's printer."""
    if format == "json":
        return report
    html = render(report)
    if format == "html":
        return HTMLResponse(html)
    import tempfile

    from ...report import write_report

    with tempfile.TemporaryDirectory(prefix="dbrain-nfb-report-") as tmp:
        _, pdf = write_report(html, tmp)
        data = pdf.read_bytes()
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@router.get("/api/nfb/sessions/{session_id}/report", responses={**ERRORS, **NOT_FOUND, 409: {"description": "No results yet"}})
def session_report(
    session_id: IdPath,
    request: Request,
    format: Literal["json", "html", "pdf"] = "json",
    who: Principal = Depends(runs),
    db: Session = Depends(get_db),
):
    """Per-session report: learning curve of the trained feature, reward and artifact per block, baseline qEEG (JSON, HTML or PDF)."""
    from ..nfb_report import render_session_html
    from ..nfb_report import session_report as build

    row = session_of_site(db, who, session_id)
    frame = _feedback_frame(request, row)
    if frame is None:
        raise HTTPException(409, f"session {row.id} has no results ({row.status})")
    course = db.get(NfbCourse, row.course_id)
    report = build(session_out(row).model_dump(mode="json"), course.protocol, frame, _baseline_qeeg(request, row))
    audit(db, who, "nfb.session.report", object_type="nfb_session", object_id=row.id, patient_id=row.patient_id, request=request)
    db.commit()
    return _answer(report, render_session_html, format, f"nfb-session-{row.id}")


@router.get("/api/nfb/courses/{course_id}/report", responses={**ERRORS, **NOT_FOUND})
def course_report(
    course_id: IdPath,
    request: Request,
    format: Literal["json", "html", "pdf"] = "json",
    who: Principal = Depends(runs),
    db: Session = Depends(get_db),
):
    """Per-course report: per session figures, pre/post baseline qEEG, outcomes with reliable change (JSON, HTML or PDF)."""
    from ..nfb_report import course_report as build
    from ..nfb_report import render_course_html
    from ..nfb_report import session_report as one

    course = course_of_site(db, who, course_id)
    sessions = []
    for row in db.scalars(select(NfbSession).where(NfbSession.course_id == course.id).order_by(NfbSession.number)):
        frame = _feedback_frame(request, row)
        if frame is not None:
            sessions.append(one(session_out(row).model_dump(mode="json"), course.protocol, frame, _baseline_qeeg(request, row)))
    outcomes = [
        {"kind": o.kind, "timepoint": o.timepoint, "scores": o.scores, "created_at": o.created_at.isoformat()}
        for o in db.scalars(select(NfbOutcome).where(NfbOutcome.course_id == course.id).order_by(NfbOutcome.id))
    ]
    report = build(
        course_out(db, course).model_dump(mode="json"),
        sessions,
        outcomes,
        reference_sds(db, course.site_id, request.app.state.settings),
    )
    audit(
        db, who, "nfb.course.report", object_type="nfb_course", object_id=course.id, patient_id=course.patient_id, request=request
    )
    db.commit()
    return _answer(report, render_course_html, format, f"nfb-course-{course.id}")


# --------------------------------------------------------------------------- safety


class SafetyIn(BaseModel):
    analysis_id: int = Field(
        ge=1,
        le=2_147_483_647,
        description="A finished analysis (with the spikes and seizures steps) of the patient's baseline EEG.",
    )
    epileptiform_history: bool = Field(description="Epileptiform activity reported in an earlier EEG.")
    seizure_history: bool = Field(description="Any history of seizures (febrile included).")
    anticonvulsants: bool = Field(description="Currently taking anticonvulsant medication.")


class OverrideIn(BaseModel):
    reason: str = Field(min_length=5, max_length=2000)


def _step_summary(summary: dict | None, name: str) -> dict | None:
    for step in (summary or {}).get("steps", []):
        if step.get("name") == name:
            return step.get("summary") or {}
    return None


def screening_findings(analysis_summary: dict | None, checklist: dict) -> list[str]:
    """The safety findings of a baseline EEG analysis and the NEBA-style checklist (empty: cleared).

    Any detected seizure, any detected spike or sharp wave, and any "yes" on
    the checklist is a finding: the course stays blocked until a clinician
    overrides it with a reason (the detectors are decision support; a
    clinician who reviewed the EEG decides).

    Parameters
    ----------
    analysis_summary : dict | None
        ``Analysis.summary`` (the analysis's summary.json).
    checklist : dict
        ``epileptiform_history``, ``seizure_history``, ``anticonvulsants`` (bools).

    Returns
    -------
    findings : list of str
    """
    findings = []
    spikes, seizures = _step_summary(analysis_summary, "spikes"), _step_summary(analysis_summary, "seizures")
    for name, step in (("spike", spikes), ("seizure", seizures)):
        if step is None or not step.get("computed"):
            reason = (step or {}).get("reason") or "step not run"
            findings.append(f"{name} detection was not done on the baseline EEG ({reason})")
    if spikes and spikes.get("computed") and int(spikes.get("n_spikes", 0)) > 0:
        findings.append(
            f"epileptiform activity: {int(spikes['n_spikes'])} spike(s)/sharp wave(s) detected ({float(spikes.get('per_hour', 0)):.1f} per hour)"
        )
    if seizures and seizures.get("computed") and int(seizures.get("n_seizures", 0)) > 0:
        findings.append(f"{int(seizures['n_seizures'])} seizure(s) detected in the baseline EEG")
    labels = {
        "epileptiform_history": "epileptiform activity reported in an earlier EEG",
        "seizure_history": "history of seizures",
        "anticonvulsants": "takes anticonvulsant medication",
    }
    findings += [text for key, text in labels.items() if checklist.get(key)]
    return findings


@router.post("/api/nfb/courses/{course_id}/safety", response_model=CourseOut, responses={**ERRORS, **NOT_FOUND})
def screen_course(
    course_id: IdPath, body: SafetyIn, request: Request, who: Principal = Depends(prescribes), db: Session = Depends(get_db)
) -> CourseOut:
    """Safety screening before the first session: the baseline EEG's spike and seizure detections and a NEBA-style checklist.

    Findings block the course (``blocked``) until a clinician overrides them
    with a reason (``POST …/safety/override``); no finding clears it.
    """
    from ..db import Analysis, Recording

    course = course_of_site(db, who, course_id)
    analysis = db.get(Analysis, body.analysis_id)
    if analysis is None or analysis.site_id != who.site_id:
        other_site(db, who, analysis, "analysis", body.analysis_id)
        raise HTTPException(404, f"no analysis {body.analysis_id}")
    rec = db.get(Recording, analysis.recording_id)
    if rec.patient_id != course.patient_id:
        raise HTTPException(422, f"analysis {analysis.id} is of another patient's recording")
    if analysis.status != "done":
        raise HTTPException(422, f"analysis {analysis.id} is {analysis.status}, not done")
    if db.scalar(select(NfbSession.id).where(NfbSession.course_id == course.id, NfbSession.status != "planned")) is not None:
        raise HTTPException(409, "the course has started: its screening is kept as it was")
    checklist = {
        "epileptiform_history": body.epileptiform_history,
        "seizure_history": body.seizure_history,
        "anticonvulsants": body.anticonvulsants,
    }
    findings = screening_findings(analysis.summary, checklist)
    course.safety = {"findings": findings, "checklist": checklist, "recording_id": rec.id, "analysis_id": analysis.id}
    course.safety_status = "blocked" if findings else "cleared"
    course.safety_override_by = None
    course.safety_override_reason = None
    audit(db, who, "nfb.course.safety", object_type="nfb_course", object_id=course.id, patient_id=course.patient_id,
          request=request, detail={"status": course.safety_status, "n_findings": len(findings)})  # fmt: skip
    record_row(db, "nfb_course.safety", course, actor=f"user:{who.user.id}")
    db.commit()
    return course_out(db, course)


@router.post(
    "/api/nfb/courses/{course_id}/safety/override",
    response_model=CourseOut,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Nothing to override"}},
)
def override_safety(
    course_id: IdPath, body: OverrideIn, request: Request, who: Principal = Depends(prescribes), db: Session = Depends(get_db)
) -> CourseOut:
    """A clinician lets a blocked course start, with a reason (audited and ledgered)."""
    course = course_of_site(db, who, course_id)
    if course.safety_status != "blocked":
        raise HTTPException(409, f"the course's screening is '{course.safety_status}', not blocked")
    course.safety_status = "overridden"
    course.safety_override_by = who.user.id
    course.safety_override_reason = body.reason
    audit(db, who, "nfb.course.safety_override", object_type="nfb_course", object_id=course.id, patient_id=course.patient_id,
          request=request, detail={"reason": body.reason[:500]})  # fmt: skip
    record_row(db, "nfb_course.safety_override", course, actor=f"user:{who.user.id}")
    db.commit()
    return course_out(db, course)


# --------------------------------------------------------------------------- outcomes


class Trial(BaseModel):
    stimulus: Literal["go", "nogo"]
    rt_ms: float | None = Field(default=None, ge=0, le=10_000)


class OutcomeIn(BaseModel):
    kind: Literal["adhd-rs-parent", "adhd-rs-teacher", "cgi-i", "gonogo"]
    timepoint: Literal["pre", "mid", "post"]
    items: list[int] | None = Field(default=None, max_length=18, description="ADHD-RS-IV: 18 ratings 0-3.")
    rating: int | None = Field(default=None, ge=1, le=7, description="CGI-I: 1 (very much improved) to 7 (very much worse).")
    trials: list[Trial] | None = Field(default=None, max_length=2000, description="Go/No-Go trials.")


class GoNoGoIn(BaseModel):
    timepoint: Literal["pre", "mid", "post"] | None = Field(
        default=None, description="Default: pre at session 1, post at the last, else mid."
    )
    trials: list[Trial] = Field(min_length=2, max_length=2000)


class OutcomeOut(BaseModel):
    id: int
    course_id: int
    site_id: int
    kind: str
    timepoint: str
    scores: dict
    via_display: bool
    created_at: dt.datetime


def _outcome_out(o: NfbOutcome) -> OutcomeOut:
    return OutcomeOut(
        id=o.id,
        course_id=o.course_id,
        site_id=o.site_id,
        kind=o.kind,
        timepoint=o.timepoint,
        scores=o.scores,
        via_display=o.via_display,
        created_at=o.created_at,
    )


def _scores(kind: str, items, rating, trials) -> tuple[dict, dict]:
    from ..nfb_outcomes import score_adhd_rs, score_gonogo

    try:
        if kind.startswith("adhd-rs"):
            if items is None:
                raise ValueError("ADHD-RS-IV needs 'items' (18 ratings 0-3)")
            return {"items": list(items)}, score_adhd_rs(items)
        if kind == "cgi-i":
            if rating is None:
                raise ValueError("CGI-I needs 'rating' (1-7)")
            return {"rating": rating}, {"cgi_i": rating}
        if not trials:
            raise ValueError("Go/No-Go needs 'trials'")
        raw = [t.model_dump() for t in trials]
        return {"trials": raw}, score_gonogo(raw)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post(
    "/api/nfb/courses/{course_id}/outcomes", response_model=OutcomeOut, status_code=201, responses={**ERRORS, **NOT_FOUND}
)
def add_outcome(
    course_id: IdPath, body: OutcomeIn, request: Request, who: Principal = Depends(prescribes), db: Session = Depends(get_db)
) -> OutcomeOut:
    """Enter an outcome measure (clinician): ADHD-RS-IV (parent or teacher), CGI-I, or a Go/No-Go run's trials."""
    course = course_of_site(db, who, course_id)
    values, scores = _scores(body.kind, body.items, body.rating, body.trials)
    row = NfbOutcome(
        course_id=course.id,
        site_id=course.site_id,
        kind=body.kind,
        timepoint=body.timepoint,
        values=values,
        scores=scores,
        entered_by=who.user.id,
        via_display=False,
    )
    db.add(row)
    db.flush()
    audit(
        db,
        who,
        "nfb.outcome.add",
        object_type="nfb_outcome",
        object_id=row.id,
        patient_id=course.patient_id,
        request=request,
        detail={"kind": body.kind, "timepoint": body.timepoint},
    )
    record_row(db, "nfb_outcome.add", row, actor=f"user:{who.user.id}")
    db.commit()
    return _outcome_out(row)


@router.get("/api/nfb/courses/{course_id}/outcomes", response_model=list[OutcomeOut], responses={**ERRORS, **NOT_FOUND})
def list_outcomes(course_id: IdPath, who: Principal = Depends(runs), db: Session = Depends(get_db)) -> list[OutcomeOut]:
    """A course's outcome measures in the order entered."""
    course = course_of_site(db, who, course_id)
    return [
        _outcome_out(o) for o in db.scalars(select(NfbOutcome).where(NfbOutcome.course_id == course.id).order_by(NfbOutcome.id))
    ]


@router.post("/api/nfb/display/gonogo", status_code=201, responses={401: {"description": "No valid display cookie"}})
def display_gonogo(body: GoNoGoIn, request: Request) -> dict:
    """The display's built-in Go/No-Go task posts its trials here (scored by the server, stored as an outcome of the course)."""
    from ..nfb_outcomes import score_gonogo

    live = _display_session(request)
    with request.app.state.sessionmaker() as db:
        row = db.get(NfbSession, live.id)
        course = db.get(NfbCourse, row.course_id)
        timepoint = body.timepoint or ("pre" if row.number == 1 else "post" if row.number >= course.n_sessions else "mid")
        raw = [t.model_dump() for t in body.trials]
        try:
            scores = score_gonogo(raw)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        out = NfbOutcome(
            course_id=course.id,
            site_id=course.site_id,
            kind="gonogo",
            timepoint=timepoint,
            values={"trials": raw, "session": row.number},
            scores=scores,
            via_display=True,
        )
        db.add(out)
        db.flush()
        audit(
            db,
            None,
            "nfb.outcome.gonogo",
            site_id=course.site_id,
            object_type="nfb_outcome",
            object_id=out.id,
            patient_id=course.patient_id,
            request=request,
        )
        record_row(db, "nfb_outcome.gonogo", out, actor="display")
        db.commit()
        return {"timepoint": timepoint, "scores": scores}


def reference_sds(db: Session, site_id: int, settings) -> dict:
    """The RCI's reference SD per measure: the SD of the site's pre-treatment scores (>= MIN_REFERENCE courses), else the configured one."""
    import numpy as np

    from ..nfb_outcomes import MIN_REFERENCE

    out = dict((settings.extra or {}).get("nfb_reference_sd") or {})
    pre: dict[str, dict[int, float]] = {}
    for o in db.scalars(
        select(NfbOutcome).where(NfbOutcome.site_id == site_id, NfbOutcome.timepoint == "pre").order_by(NfbOutcome.id)
    ):
        for name, v in (o.scores or {}).items():
            if isinstance(v, int | float):
                pre.setdefault(f"{o.kind}.{name}", {})[o.course_id] = float(v)
    for key, by_course in pre.items():
        if len(by_course) >= MIN_REFERENCE:
            out[key] = float(np.std(list(by_course.values()), ddof=1))
    return out
