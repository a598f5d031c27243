"""``/api/ward``: beds, the monitors' live updates, the push to the ward pages, alarms and acknowledgements.

The contract with ``dbrain monitor --post`` and the design are in docs/ward.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth import CAN_ANNOTATE, Principal, audit, get_db, require
from ..db import Annotation, Recording, User, WardAck, WardAlarm, WardBed, utcnow, write_lock
from ..provenance import record_row
from ..roles import CAN_ACK_ALARM, CAN_MANAGE_BEDS, CAN_POST_WARD, CAN_WATCH_WARD
from ..ward import AckIn, AckOut, AlarmOut, BedIn, BedOut, LinkIn, LinkOut, UpdateIn, UpdateOut, WardHub
from ._common import ERRORS, MAX_ID, NOT_FOUND, IdPath, other_site, recording_of_site

router = APIRouter(tags=["ward"])
watch = require(*CAN_WATCH_WARD)
#: A bed in a URL: its name at the caller's site, or its id.
BedPath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
#: Seconds between keep-alive comments on an idle push stream (proxies drop silent connections).
PING_SECONDS = 15
#: A push stream's longest life: the browser then reconnects (and reloads), so no connection lives for days.
MAX_STREAM_SECONDS = 600.0
#: How soon a browser reconnects after its stream ended (ms).
RECONNECT_MS = 1000


def hub(request: Request) -> WardHub:
    """The web process's :class:`~dbrain.server.ward.WardHub` (made by :func:`~dbrain.server.app.create_app`)."""
    return request.app.state.ward_hub


def _iso(value) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bed_of_site(db: Session, who: Principal, bed: str) -> WardBed:
    """The bed named ``bed`` (or with that id) at the caller's site, else 404 (another site's: audited there).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    who : Principal
    bed : str
        A bed name of the caller's site, or a bed id.

    Returns
    -------
    bed : WardBed
    """
    row = db.scalar(select(WardBed).where(WardBed.site_id == who.site_id, WardBed.name == bed))
    if row is None and bed.isdigit() and int(bed) <= MAX_ID:
        row = db.get(WardBed, int(bed))
        if row is not None and row.site_id != who.site_id:
            other_site(db, who, row, "bed", row.id)
            row = None
    if row is None:
        raise HTTPException(404, f"no bed {bed!r} at your site")
    return row


def alarm_out(db: Session, row: WardAlarm, bed_name: str | None = None) -> AlarmOut:
    """Serialise a stored alarm with its acknowledgement.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    row : WardAlarm
    bed_name : str | None
        The bed's name, when the caller has it.

    Returns
    -------
    out : AlarmOut
    """
    ack = db.scalar(select(WardAck).where(WardAck.alarm_id == row.id))
    ack_out = None
    if ack is not None:
        user = db.get(User, ack.user_id)
        ack_out = AckOut(
            user_id=ack.user_id, username=user.username if user else "?", acked_at=_iso(ack.acked_at), comment=ack.comment
        )
    return AlarmOut(
        id=row.id, uuid=row.uuid, bed_id=row.bed_id, bed=bed_name or db.get(WardBed, row.bed_id).name, site_id=row.site_id,
        stream=row.stream, type=row.type, raised=row.raised, onset=row.onset, confidence=row.confidence,
        channels=list(row.channels or []), state=row.state, received_at=_iso(row.received_at), cleared_at=_iso(row.cleared_at),
        recording_id=row.recording_id, ack=ack_out,
    )  # fmt: skip


def _bed_out(db: Session, h: WardHub, bed: WardBed) -> BedOut:
    stream, last = h.state(bed.id)
    n_open = db.scalar(
        select(func.count())
        .select_from(WardAlarm)
        .outerjoin(WardAck, WardAck.alarm_id == WardAlarm.id)
        .where(WardAlarm.bed_id == bed.id, WardAck.id.is_(None))
    )
    return BedOut(id=bed.id, site_id=bed.site_id, name=bed.name, stream=stream, last_wall=last, open_alarms=int(n_open or 0))


# --------------------------------------------------------------------------- beds


@router.get("/api/ward/beds", response_model=list[BedOut], responses=ERRORS)
def list_beds(request: Request, who: Principal = Depends(watch), db: Session = Depends(get_db)) -> list[BedOut]:
    """The beds of the caller's site, with the stream each last posted and its unacknowledged alarms."""
    h = hub(request)
    beds = list(db.scalars(select(WardBed).where(WardBed.site_id == who.site_id).order_by(WardBed.name)))
    out = [_bed_out(db, h, b) for b in beds]
    audit(db, who, "ward.beds", request=request, detail={"bed_ids": [b.id for b in beds]})
    db.commit()
    return out


@router.post("/api/ward/beds", response_model=BedOut, status_code=201, responses={**ERRORS, 409: {"description": "Name taken"}})
def create_bed(
    body: BedIn, request: Request, who: Principal = Depends(require(*CAN_MANAGE_BEDS)), db: Session = Depends(get_db)
) -> BedOut:
    """Add a bed to the caller's site (site administrators); its monitor then posts to ``/api/ward/beds/{name}/updates``."""
    if db.scalar(select(WardBed).where(WardBed.site_id == who.site_id, WardBed.name == body.name)) is not None:
        raise HTTPException(409, f"your site already has a bed {body.name!r}")
    bed = WardBed(site_id=who.site_id, name=body.name, created_by=who.user.id)
    db.add(bed)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, f"your site already has a bed {body.name!r}") from None
    audit(db, who, "ward.bed.create", object_type="bed", object_id=bed.id, request=request, detail={"name": bed.name})
    db.commit()
    return _bed_out(db, hub(request), bed)


# --------------------------------------------------------------------------- a monitor's updates


@router.post(
    "/api/ward/beds/{bed}/updates", response_model=UpdateOut, status_code=202,
    responses={**ERRORS, **NOT_FOUND, 422: {"description": "Malformed update"}},
)  # fmt: skip
def post_updates(
    bed: BedPath,
    body: UpdateIn,
    request: Request,
    who: Principal = Depends(require(*CAN_POST_WARD)),
    db: Session = Depends(get_db),
) -> UpdateOut:
    """A bedside monitor's frames and alarms of the last second(s) (the contract: docs/ward.md).

    Frames go to the bed's in-memory ring and to the open ward pages; an
    alarm is stored (and vouched for by the ledger) the first time its ``id``
    is seen and again when it is cleared; a resent alarm changes nothing.
    """
    h = hub(request)
    row = bed_of_site(db, who, bed)
    bed_id, bed_name, site_id = row.id, row.name, row.site_id
    db.commit()
    frames = [f.model_dump(mode="json") for f in body.frames]
    kept = h.add_frames(bed_id, body.stream, frames)
    changed: list[WardAlarm] = []
    new = 0
    if body.alarms:
        write_lock(db)  # read the bed's alarms and write in one transaction: a resent id is never stored twice
        for a in body.alarms:
            uid = str(a.id)
            alarm = db.scalar(select(WardAlarm).where(WardAlarm.bed_id == bed_id, WardAlarm.uuid == uid))
            if alarm is None:
                alarm = WardAlarm(
                    uuid=uid, bed_id=bed_id, site_id=site_id, stream=body.stream, type=a.type, raised=a.raised, onset=a.onset,
                    confidence=a.confidence, channels=list(a.channels), state=a.state, posted_by=who.user.id,
                    cleared_at=utcnow() if a.state == "cleared" else None,
                )  # fmt: skip
                db.add(alarm)
                db.flush()
                record_row(db, "ward.alarm.raise", alarm, actor=f"user:{who.user.id}")
                changed.append(alarm)
                new += 1
            elif alarm.state == "raised" and a.state == "cleared":
                alarm.state, alarm.cleared_at = "cleared", utcnow()
                record_row(db, "ward.alarm.clear", alarm, actor=f"user:{who.user.id}")
                changed.append(alarm)
        if changed:
            audit(
                db, who, "ward.alarms", object_type="bed", object_id=bed_id, request=request,
                detail={"new": new, "cleared": len(changed) - new, "alarm_ids": [x.id for x in changed]},
            )  # fmt: skip
        db.commit()
    outs = [alarm_out(db, x, bed_name).model_dump(mode="json") for x in changed]
    db.commit()
    if kept:
        h.publish(site_id, "frames", {"bed_id": bed_id, "bed": bed_name, "stream": body.stream, "frames": kept})
    for out in outs:
        h.publish(site_id, "alarm", out)
    return UpdateOut(frames=len(kept), alarms_new=new, alarms_changed=len(changed) - new)


@router.get("/api/ward/beds/{bed}/recent", responses={**ERRORS, **NOT_FOUND})
def recent_frames(bed: BedPath, request: Request, who: Principal = Depends(watch), db: Session = Depends(get_db)) -> dict:
    """The bed's ring: up to 10 minutes of trend frames (the EEG strip of the last 10 s only), held in memory."""
    row = bed_of_site(db, who, bed)
    audit(db, who, "ward.recent", object_type="bed", object_id=row.id, request=request)
    db.commit()
    stream, frames = hub(request).recent(row.id)
    return {"bed_id": row.id, "bed": row.name, "stream": stream, "frames": frames}


# --------------------------------------------------------------------------- alarms


@router.get("/api/ward/alarms", response_model=list[AlarmOut], responses=ERRORS)
def list_alarms(
    request: Request,
    bed_id: int | None = Query(None, ge=1, le=MAX_ID),
    unacknowledged: bool = Query(False, description="Only alarms nobody acknowledged yet."),
    limit: int = Query(200, ge=1, le=1000),
    who: Principal = Depends(watch),
    db: Session = Depends(get_db),
) -> list[AlarmOut]:
    """Stored alarms of the caller's site, newest first, with their acknowledgements."""
    stmt = select(WardAlarm).where(WardAlarm.site_id == who.site_id)
    if bed_id is not None:
        stmt = stmt.where(WardAlarm.bed_id == bed_id)
    if unacknowledged:
        stmt = stmt.outerjoin(WardAck, WardAck.alarm_id == WardAlarm.id).where(WardAck.id.is_(None))
    rows = list(db.scalars(stmt.order_by(WardAlarm.id.desc()).limit(limit)))
    names = {b.id: b.name for b in db.scalars(select(WardBed).where(WardBed.site_id == who.site_id))}
    out = [alarm_out(db, r, names.get(r.bed_id)) for r in rows]
    audit(db, who, "ward.alarm.list", request=request, detail={"n": len(rows)})
    db.commit()
    return out


def _alarm_of_site(db: Session, who: Principal, alarm_id: int) -> WardAlarm:
    row = db.get(WardAlarm, alarm_id)
    if row is None or row.site_id != who.site_id:
        other_site(db, who, row, "ward_alarm", alarm_id)
        raise HTTPException(404, f"no alarm {alarm_id}")
    return row


@router.post(
    "/api/ward/alarms/{alarm_id}/ack", response_model=AlarmOut, status_code=201,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Already acknowledged"}},
)  # fmt: skip
def acknowledge(
    alarm_id: IdPath,
    body: AckIn,
    request: Request,
    who: Principal = Depends(require(*CAN_ACK_ALARM)),
    db: Session = Depends(get_db),
) -> AlarmOut:
    """Acknowledge an alarm (clinicians): who and when are recorded with the comment, once per alarm."""
    _alarm_of_site(db, who, alarm_id)
    db.commit()
    write_lock(db)
    alarm = db.get(WardAlarm, alarm_id)
    done = db.scalar(select(WardAck).where(WardAck.alarm_id == alarm.id))
    if done is not None:
        by = db.get(User, done.user_id)
        raise HTTPException(409, f"alarm {alarm_id} was acknowledged by {by.username if by else '?'} at {_iso(done.acked_at)}")
    ack = WardAck(alarm_id=alarm.id, site_id=alarm.site_id, user_id=who.user.id, comment=body.comment.strip())
    db.add(ack)
    try:
        db.flush()
    except IntegrityError:  # PostgreSQL: another clinician's acknowledgement committed first
        db.rollback()
        raise HTTPException(409, f"alarm {alarm_id} was acknowledged meanwhile by someone else") from None
    record_row(db, "ward.ack", ack, actor=f"user:{who.user.id}")
    audit(db, who, "ward.alarm.ack", object_type="ward_alarm", object_id=alarm.id, request=request)
    rec = db.get(Recording, alarm.recording_id) if alarm.recording_id else None
    annotated = None
    if rec is not None:  # the session's recording is already linked: annotate the acknowledgement on it now
        annotated = _annotate_ack(db, rec, alarm, ack, who.user.username)
        record_row(db, "annotation.create", annotated, actor=f"user:{who.user.id}")
    db.commit()
    out = alarm_out(db, alarm)
    db.commit()
    if annotated is not None:
        _annotations_changed(request, db, who, rec, annotated.id)
    hub(request).publish(alarm.site_id, "alarm", out.model_dump(mode="json"))
    return out


# --------------------------------------------------------------------------- the session's recording


def _onset(rec: Recording, t: float | None) -> float:
    return min(max(float(t or 0.0), 0.0), float(rec.duration))


def _annotate_alarm(db: Session, rec: Recording, alarm: WardAlarm, author_id: int) -> Annotation:
    conf = "" if alarm.confidence is None else f", confidence {alarm.confidence:.2f}"
    text = f"ward alarm: {alarm.type} (raised at {alarm.raised:.1f} s{conf}{', cleared' if alarm.state == 'cleared' else ''})"
    onset = _onset(rec, alarm.onset if alarm.onset is not None else alarm.raised)
    row = Annotation(
        recording_id=rec.id, site_id=rec.site_id, onset=onset, duration=max(0.0, _onset(rec, alarm.raised) - onset),
        description=text[:500], channels=list(alarm.channels or [])[:64], author_id=author_id,
    )  # fmt: skip
    db.add(row)
    db.flush()
    return row


def _annotate_ack(db: Session, rec: Recording, alarm: WardAlarm, ack: WardAck, username: str) -> Annotation:
    text = f"ward alarm {alarm.type} acknowledged by {username} at {_iso(ack.acked_at)}" + (
        f": {ack.comment}" if ack.comment else ""
    )
    row = Annotation(
        recording_id=rec.id, site_id=rec.site_id, onset=_onset(rec, alarm.raised), duration=0.0, description=text[:500],
        channels=[], author_id=ack.user_id,
    )  # fmt: skip
    db.add(row)
    db.flush()
    return row


def _annotations_changed(request: Request, db: Session, who: Principal, rec: Recording, annotation_id: int) -> None:
    from .recordings import _ledger_annotations

    _ledger_annotations(request, db, who, rec, "create", annotation_id)


@router.post(
    "/api/ward/beds/{bed}/recording",
    response_model=LinkOut,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Linked elsewhere"}},
)
def link_recording(
    bed: BedPath, body: LinkIn, request: Request, who: Principal = Depends(require(*CAN_ANNOTATE)), db: Session = Depends(get_db)
) -> LinkOut:
    """Link a bed's ended session (its stream) to the uploaded recording of it and annotate its alarms and acknowledgements.

    The monitor's ``recording.edf`` starts at stream second 0, so an alarm's
    onset (stream seconds) is its time in the recording. Each alarm becomes one
    annotation (onset to raise), each acknowledgement another at the raise.
    """
    row = bed_of_site(db, who, bed)
    rec = recording_of_site(db, who, body.recording_id)
    bed_id, rec_id = row.id, rec.id
    db.commit()
    write_lock(db)
    rec = db.get(Recording, rec_id)
    alarms = list(
        db.scalars(
            select(WardAlarm).where(WardAlarm.bed_id == bed_id, WardAlarm.stream == body.stream).order_by(WardAlarm.raised)
        )
    )
    elsewhere = sorted({a.recording_id for a in alarms if a.recording_id not in (None, rec.id)})
    if elsewhere:
        raise HTTPException(409, f"the alarms of stream {body.stream!r} are already linked to recording {elsewhere[0]}")
    made: list[Annotation] = []
    for alarm in alarms:
        if alarm.recording_id == rec.id:
            continue  # linked before: annotated then
        alarm.recording_id = rec.id
        record_row(db, "ward.alarm.link", alarm, actor=f"user:{who.user.id}")
        made.append(_annotate_alarm(db, rec, alarm, who.user.id))
        ack = db.scalar(select(WardAck).where(WardAck.alarm_id == alarm.id))
        if ack is not None:
            user = db.get(User, ack.user_id)
            made.append(_annotate_ack(db, rec, alarm, ack, user.username if user else "?"))
    for a in made:
        record_row(db, "annotation.create", a, actor=f"user:{who.user.id}")
    audit(
        db, who, "ward.link", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request,
        detail={"bed_id": bed_id, "alarms": len(alarms), "annotations": len(made)},
    )  # fmt: skip
    db.commit()
    if made:
        _annotations_changed(request, db, who, rec, made[-1].id)
    return LinkOut(recording_id=rec.id, alarms=len(alarms), annotations=len(made))


# --------------------------------------------------------------------------- the push to the pages


def _audit_watch(request: Request, who: Principal) -> None:
    with request.app.state.sessionmaker() as db:
        audit(db, who, "ward.watch", request=request)
        db.commit()


@router.get(
    "/api/ward/stream",
    responses={
        **ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events: hello, frames, alarm, reset"},
    },
)
async def ward_stream(
    request: Request,
    max_seconds: float = Query(
        MAX_STREAM_SECONDS, ge=0, le=3600, description="The stream ends after this long (the browser reconnects by itself)."
    ),
    who: Principal = Depends(watch),
):
    """Server-Sent Events of the caller's site: ``frames`` of every bed and every new, cleared or acknowledged ``alarm``.

    The first event is ``hello`` (the server's unix time). ``reset`` asks the
    page to reload what it shows (it fell behind); the stream then ends and
    the browser reconnects by itself, as it does after ``max_seconds``.
    """
    from sse_starlette import EventSourceResponse

    await run_in_threadpool(_audit_watch, request, who)
    h, site = hub(request), who.site_id

    async def events():
        queue = h.subscribe(site)  # here, not before: a page gone before its stream starts leaves nothing behind
        end = time.monotonic() + max_seconds
        try:
            # retry: the browser reconnects 1 s after the stream ends (its default is about 3 s of blank beds).
            yield {"event": "hello", "data": json.dumps({"server_time": time.time(), "site_id": site}), "retry": RECONNECT_MS}
            while (left := end - time.monotonic()) > 0:
                try:
                    event, text = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    return
                yield {"event": event, "data": text}
                if event == "reset":
                    return
        finally:
            h.unsubscribe(site, queue)

    return EventSourceResponse(events(), ping=PING_SECONDS, headers={"Cache-Control": "no-store"})
