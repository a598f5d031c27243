"""``/api/…/analyses``: queue analyses for the workers, read their results, trends and reports."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import ANY_ROLE, CAN_ANALYSE, CAN_ANNOTATE, CAN_SIGN, Principal, audit, get_db, require
from ..db import Analysis, EventReview, Report, utcnow, write_lock
from ..jobs import enqueue
from ..provenance import record_row
from ..schemas import AnalysisIn, AnalysisOut, EventReviewIn, EventReviewOut, ReportOut, TableOut
from ._common import ERRORS, NOT_FOUND, IdPath, analysis_of_site, analysis_out, event_key, recording_of_site

router = APIRouter(tags=["analyses"])
anyone = require(*ANY_ROLE)


def _step_names() -> list[str]:
    from ...analyze import get_steps

    return [s.name for s in get_steps()]


@router.post(
    "/api/recordings/{recording_id}/analyses",
    response_model=AnalysisOut,
    status_code=202,
    responses={**ERRORS, **NOT_FOUND, 422: {"description": "Unknown step"}},
)
def request_analysis(
    recording_id: IdPath,
    body: AnalysisIn,
    request: Request,
    who: Principal = Depends(require(*CAN_ANALYSE)),
    db: Session = Depends(get_db),
) -> AnalysisOut:
    """Queue ``dbrain.analyze.analyze`` of a recording for a worker (``dbrain worker``).

    ``only``/``skip`` name analysis steps as in ``dbrain analyze``. Poll
    ``GET /api/analyses/{id}`` for status and progress.
    """
    rec = recording_of_site(db, who, recording_id)
    names = _step_names()
    for step in [*body.only, *body.skip]:
        if step not in names:
            raise HTTPException(422, f"unknown analysis step {step!r}; steps are: {', '.join(names)}")
    row = Analysis(
        recording_id=rec.id, site_id=rec.site_id, requested_by=who.user.id, only=body.only, skip=body.skip, status="queued"
    )
    db.add(row)
    db.flush()
    enqueue(db, row, max_attempts=request.app.state.settings.max_attempts)
    audit(db, who, "analysis.request", object_type="analysis", object_id=row.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return analysis_out(db, row)


@router.get("/api/recordings/{recording_id}/analyses", response_model=list[AnalysisOut], responses={**ERRORS, **NOT_FOUND})
def list_analyses(
    recording_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> list[AnalysisOut]:
    """Analyses of a recording, newest first."""
    rec = recording_of_site(db, who, recording_id)
    rows = list(db.scalars(select(Analysis).where(Analysis.recording_id == rec.id).order_by(Analysis.id.desc())))
    audit(db, who, "analysis.list", object_type="recording", object_id=rec.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return [analysis_out(db, r) for r in rows]


@router.get("/api/analyses/{analysis_id}", response_model=AnalysisOut, responses={**ERRORS, **NOT_FOUND})
def get_analysis(
    analysis_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> AnalysisOut:
    """An analysis: status, job progress and attempts, result files."""
    row = analysis_of_site(db, who, analysis_id)
    rec = recording_of_site(db, who, row.recording_id)
    audit(db, who, "analysis.read", object_type="analysis", object_id=row.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return analysis_out(db, row)


def _audited_result(db, who, request, analysis_id: int, file_name: str, *, kind: str, label: str) -> dict:
    """The stored entry of one result file of an analysis of the caller's site, its reading audited (404 if absent)."""
    row = analysis_of_site(db, who, analysis_id)
    entry = (row.results or {}).get(file_name)
    if entry is None:
        raise HTTPException(404, f"analysis {analysis_id} has no {kind} {label!r}")
    rec = recording_of_site(db, who, row.recording_id)
    audit(
        db,
        who,
        f"analysis.{kind}",
        object_type="analysis",
        object_id=row.id,
        patient_id=rec.patient_id,
        request=request,
        detail={kind: label},
    )
    db.commit()
    return entry


@router.get(
    "/api/analyses/{analysis_id}/files/{name}",
    response_class=FileResponse,
    responses={**ERRORS, **NOT_FOUND, 200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def get_result_file(
    analysis_id: IdPath, name: str, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
):
    """One result file (``report.pdf``, ``report.html``, ``summary.json``, ``events.tsv``, ``qeeg.parquet`` …)."""
    entry = _audited_result(db, who, request, analysis_id, name, kind="file", label=name)
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    path, checked = request.app.state.store.verified_path(entry["sha256"])
    return FileResponse(
        path, media_type=media, filename=name, headers={"X-Content-SHA256": entry["sha256"], "X-Dbrain-Integrity": checked}
    )


@router.get("/api/analyses/{analysis_id}/tables/{name}", response_model=TableOut, responses={**ERRORS, **NOT_FOUND})
def get_table(
    analysis_id: IdPath,
    name: str,
    request: Request,
    max_rows: int = Query(
        2000,
        ge=1,
        le=100000,
        description="Thinned to at most this many rows (every k-th time point when the table has one; "
        "never less than one whole time point).",
    ),
    measure: list[str] | None = Query(None, description="Keep only rows of these measures (tables with a 'measure' column)."),
    channel: list[str] | None = Query(None, description="Keep only rows of these channels (tables with a 'channel' column)."),
    who: Principal = Depends(anyone),
    db: Session = Depends(get_db),
) -> TableOut:
    """A result table as JSON for the viewer, e.g. ``qeeg`` (the trend data behind the trend page).

    Long tables (``start, channel, measure, value``) are thinned by time, not by row, so that every
    kept time point keeps all its channels and measures.
    """
    import math

    import pandas as pd

    entry = _audited_result(db, who, request, analysis_id, f"{name}.parquet", kind="table", label=name)
    table = pd.read_parquet(request.app.state.store.verified_path(entry["sha256"])[0])
    for col, keep in (("measure", measure), ("channel", channel)):
        if keep and col in table.columns:
            table = table[table[col].astype(str).isin(keep)]
    step = max(1, math.ceil(len(table) / max_rows))
    time_col = next((c for c in ("start", "time") if c in table.columns), None)
    if step > 1 and time_col is not None:
        times = pd.unique(table[time_col])
        per_time = len(table) / max(1, len(times))
        step = max(1, math.ceil(len(times) * per_time / max_rows))
        thinned = table[table[time_col].isin(set(times[::step]))]
        while len(thinned) > max_rows and step < len(times):  # uneven rows per time point: thin further
            step += 1
            thinned = table[table[time_col].isin(set(times[::step]))]
    else:
        thinned = table.iloc[::step]
    part = thinned.astype(object).where(thinned.notna(), None)

    def cell(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if hasattr(v, "item"):
            v = v.item()
        return v if isinstance(v, int | float | str | bool) or v is None else str(v)

    rows = [[cell(v) for v in r] for r in part.itertuples(index=False)]
    return TableOut(name=name, columns=[str(c) for c in table.columns], n_rows=len(table), step=step, rows=rows)


@router.get("/api/analyses/{analysis_id}/report", response_model=ReportOut, responses={**ERRORS, **NOT_FOUND})
def get_report(
    analysis_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> ReportOut:
    """The analysis's report and whether a clinician signed it."""
    row = analysis_of_site(db, who, analysis_id)
    report = db.scalar(select(Report).where(Report.analysis_id == row.id))
    if report is None:
        raise HTTPException(404, f"analysis {analysis_id} has no report (yet)")
    return _report_out(request, row, report)


def _report_out(request: Request, row: Analysis, report: Report) -> ReportOut:
    """The report with the receipts of its analysis-run and (once signed) report-signed ledger entries."""
    from .. import provenance

    settings = request.app.state.settings
    signed = provenance.find_index(settings, "report-signed", report.sha256) if report.status == "signed" else None
    from .ledger import public_receipt

    out = ReportOut.model_validate(report)
    out.provenance = [public_receipt(r) for r in provenance.receipts(settings, [row.ledger_index, signed])]  # no server paths
    out.triage = _triage(request.app.state.sessionmaker, row)
    return out


def _triage(sessionmaker, row: Analysis) -> dict:
    """Accepted / rejected / not-reviewed counts of the analysis's detected events, in total and per type."""
    with sessionmaker() as db:
        reviews = list(db.scalars(select(EventReview).where(EventReview.analysis_id == row.id)))
    by_type: dict[str, dict[str, int]] = {}
    for r in reviews:
        by_type.setdefault(r.event_type, {"accepted": 0, "rejected": 0})[r.decision] += 1
    accepted = sum(t["accepted"] for t in by_type.values())
    rejected = sum(t["rejected"] for t in by_type.values())
    n_events = int(row.n_events or 0)
    return {
        "n_events": n_events,
        "accepted": accepted,
        "rejected": rejected,
        "not_reviewed": max(n_events - accepted - rejected, 0),
        "by_type": by_type,
        "reviews_sha256": _reviews_hash(reviews),
    }


@router.post(
    "/api/analyses/{analysis_id}/report/sign",
    response_model=ReportOut,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Already signed, or the analysis is not done (failed)"}},
)
def sign_report(
    analysis_id: IdPath, request: Request, who: Principal = Depends(require(*CAN_SIGN)), db: Session = Depends(get_db)
) -> ReportOut:
    """Sign the report (clinicians of the site): it has been reviewed and confirmed."""
    row = analysis_of_site(db, who, analysis_id)
    if row.status != "done":
        # A failed analysis (e.g. no usable EEG channel) has nothing a clinician may confirm.
        why = f": {row.error}" if row.error else ""
        raise HTTPException(409, f"analysis {analysis_id} is {row.status}{why}; its report cannot be signed")
    report = db.scalar(select(Report).where(Report.analysis_id == row.id))
    if report is None:
        raise HTTPException(404, f"analysis {analysis_id} has no report (yet)")
    if report.status == "signed":
        raise HTTPException(409, f"report of analysis {analysis_id} is already signed")
    rec = recording_of_site(db, who, row.recording_id)
    signed_at = utcnow()
    # The signed report says what the clinician confirmed: page 1 is printed again with the triage on top
    # (dbrain.report._review). Printing takes seconds and happens before any write of this request.
    before = _reviews_hash(db.scalars(select(EventReview).where(EventReview.analysis_id == row.id)))
    pdf = _reviewed_pdf(request, db, row, rec, reviewer=who.user.username, signed_at=signed_at)
    if pdf is not None:
        sha, _size = _store_bytes(request, pdf, ".pdf")
    # From here on as a writer (SQLite's write lock, the report row locked on PostgreSQL), so no decision can
    # land between this check and the signature (the review route re-checks the status under the same lock).
    report_id = report.id
    db.commit()  # nothing written yet: ends the read snapshot
    write_lock(db)
    report = db.scalar(select(Report).where(Report.id == report_id).with_for_update())
    if report.status == "signed":
        raise HTTPException(409, f"report of analysis {analysis_id} is already signed")
    if _reviews_hash(db.scalars(select(EventReview).where(EventReview.analysis_id == row.id))) != before:
        raise HTTPException(409, "the events were triaged again while the report was being printed; sign again")
    if pdf is not None:
        report.sha256 = sha
    report.status, report.signed_by, report.signed_at = "signed", who.user.id, signed_at
    audit(db, who, "report.sign", object_type="report", object_id=report.id, patient_id=rec.patient_id, request=request)
    record_row(db, "report.sign", report, actor=f"user:{who.user.id}")
    db.commit()
    if report.sha256:
        from .. import provenance

        triage = _triage(request.app.state.sessionmaker, row)
        provenance.record(
            request.app.state.settings,
            "report-signed",
            files=[request.app.state.store.path(report.sha256)],
            role="report",
            actor=f"user:{who.user.id}",
            parent_index=row.ledger_index,
            # The signature covers the triage as it stood: which detections the clinicians confirmed or rejected.
            details={
                "analysis_id": row.id, "report_id": report.id, "recording_id": rec.id,
                "triage": {k: str(v) for k, v in triage.items() if k != "by_type"},
            },
        )  # fmt: skip
    return _report_out(request, row, report)


def _review_events(request: Request, db: Session, row: Analysis):
    """The analysis's events.tsv with each row's triage decision (``review``: accepted, rejected or None)."""
    from ...events import read_events

    entry = (row.results or {}).get("events.tsv")
    if entry is None:
        return None
    table = read_events(request.app.state.store.verified_path(entry["sha256"])[0]).copy()
    decisions = {r.event_key: r.decision for r in db.scalars(select(EventReview).where(EventReview.analysis_id == row.id))}
    chans = table["channels"] if "channels" in table.columns else [None] * len(table)
    table["review"] = [
        decisions.get(
            event_key(o, str(t), c if isinstance(c, str) and c not in ("", "n/a") else None)
        )  # as review_event keys them
        for o, t, c in zip(table["onset"], table["eventType"], chans, strict=True)
    ]
    return table


def _reviewed_pdf(request: Request, db: Session, row: Analysis, rec, *, reviewer: str | None, signed_at) -> bytes | None:
    """The report printed again with the clinician's review first on page 1 (None: no report.html/events.tsv)."""
    from ...report._review import report_pdf, review_section, reviewed_report_html
    from .recordings import _start_of

    html_entry = (row.results or {}).get("report.html")
    events = _review_events(request, db, row)
    if html_entry is None or events is None:
        return None
    html = request.app.state.store.verified_path(html_entry["sha256"])[0].read_text(encoding="utf-8")
    section = review_section(events, start=_start_of(rec), duration=rec.duration, reviewer=reviewer, signed_at=signed_at)
    return report_pdf(reviewed_report_html(html, section))


def _store_bytes(request: Request, data: bytes, suffix: str) -> tuple[str, int]:
    store = request.app.state.store
    scratch = store.scratch()
    try:
        path = scratch / f"object{suffix}"
        path.write_bytes(data)
        return store.put_file(path, move=True)
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


@router.get(
    "/api/analyses/{analysis_id}/report/pdf",
    response_class=Response,
    responses={**ERRORS, **NOT_FOUND, 200: {"content": {"application/pdf": {}}, "description": "The report as PDF"}},
)
def get_report_pdf(
    analysis_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> Response:
    """The report to read and sign: once signed, the signed PDF (with the clinician's review on page 1);
    while a draft, printed now with the triage as it stands (marked DRAFT)."""
    row = analysis_of_site(db, who, analysis_id)
    report = db.scalar(select(Report).where(Report.analysis_id == row.id))
    if report is None or not report.sha256:
        raise HTTPException(404, f"analysis {analysis_id} has no report (yet)")
    rec = recording_of_site(db, who, row.recording_id)
    audit(db, who, "report.read", object_type="report", object_id=report.id, patient_id=rec.patient_id, request=request)
    db.commit()
    headers = {"Content-Disposition": f'inline; filename="report-{row.id}.pdf"'}
    if report.status == "signed":
        path, checked = request.app.state.store.verified_path(report.sha256)
        return Response(
            path.read_bytes(),
            media_type="application/pdf",
            headers={**headers, "X-Content-SHA256": report.sha256, "X-Dbrain-Integrity": checked},
        )
    from .. import pages

    # Printing takes seconds: a draft is printed once per review set (kept in the page cache; the key names the
    # report page, the events and the decisions, so any new decision prints it again).
    reviews = _reviews_hash(db.scalars(select(EventReview).where(EventReview.analysis_id == row.id)))
    results = row.results or {}
    key = (
        "report-draft",
        row.id,
        results.get("report.html", {}).get("sha256"),
        results.get("events.tsv", {}).get("sha256"),
        reviews,
    )

    def render() -> pages.Page:
        pdf = _reviewed_pdf(request, db, row, rec, reviewer=None, signed_at=None)
        if pdf is None:  # an analysis without events.tsv (no detection step): the report as written
            pdf = request.app.state.store.verified_path(report.sha256)[0].read_bytes()
        return pages.make_page(pdf, "application/pdf")

    page = pages.cache_of(request.app).get(key, render)
    return Response(page.body, media_type="application/pdf", headers={**headers, "ETag": page.etag})


@router.get("/api/analyses/{analysis_id}/reviews", response_model=list[EventReviewOut], responses={**ERRORS, **NOT_FOUND})
def list_event_reviews(
    analysis_id: IdPath, request: Request, who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> list[EventReviewOut]:
    """Reviewers' accept/reject of the analysis's detected events (what the report's findings count as confirmed)."""
    row = analysis_of_site(db, who, analysis_id)
    rec = recording_of_site(db, who, row.recording_id)
    out = [
        EventReviewOut.model_validate(r)
        for r in db.scalars(select(EventReview).where(EventReview.analysis_id == row.id).order_by(EventReview.onset))
    ]
    audit(db, who, "event.review.list", object_type="analysis", object_id=row.id, patient_id=rec.patient_id, request=request)
    db.commit()
    return out


@router.put(
    "/api/analyses/{analysis_id}/reviews",
    response_model=EventReviewOut,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Report signed"}},
)
def review_event(
    analysis_id: IdPath,
    body: EventReviewIn,
    request: Request,
    who: Principal = Depends(require(*CAN_ANNOTATE)),
    db: Session = Depends(get_db),
) -> EventReviewOut:
    """Accept or reject one detected event (clinicians and technologists); the last decision counts.

    The event must be a row of the analysis's ``events.tsv`` (matched on onset to the microsecond,
    type and channels). Each decision is audited and appended to the ledger as an
    ``annotation-changed`` entry whose content hash is the analysis's review set after the change.
    """
    import math

    from ...events import read_events

    row = analysis_of_site(db, who, analysis_id)
    rec = recording_of_site(db, who, row.recording_id)
    if "events.tsv" not in (row.results or {}):
        raise HTTPException(404, f"analysis {analysis_id} has no events")
    report = db.scalar(select(Report).where(Report.analysis_id == row.id))
    if report is not None and report.status == "signed":
        raise HTTPException(409, f"the report of analysis {analysis_id} is signed; its events can no longer be triaged")
    table = read_events(request.app.state.store.named(row.results["events.tsv"]["sha256"], ".tsv"))
    match = None
    # The events list gives a TSV "n/a" as the channel; it names no channel (as in the key below).
    wanted = None if body.channel in (None, "", "n/a") else body.channel
    for ev in table.itertuples(index=False):
        chan = (
            ev.channels if isinstance(ev.channels, str) and ev.channels not in ("", "n/a") else None
        )  # TSV's "n/a": no channels
        if (
            str(ev.eventType) == body.event_type
            and (chan or None) == wanted
            and math.isclose(float(ev.onset), body.onset, abs_tol=1e-5)
        ):
            match = (float(ev.onset), float(ev.duration), chan)
            break
    if match is None:
        raise HTTPException(404, f"analysis {analysis_id} has no {body.event_type!r} event at {body.onset} s")
    key = event_key(match[0], body.event_type, match[2])
    review = db.scalar(select(EventReview).where(EventReview.analysis_id == row.id, EventReview.event_key == key))
    if review is None:
        review = EventReview(
            analysis_id=row.id, recording_id=rec.id, site_id=rec.site_id, event_key=key, onset=match[0], duration=match[1],
            event_type=body.event_type, channel=match[2], decision=body.decision, reviewer_id=who.user.id,
        )  # fmt: skip
        db.add(review)
    else:
        review.decision, review.reviewer_id, review.reviewed_at = body.decision, who.user.id, utcnow()
    db.flush()
    # Serialised with signing (the flush holds SQLite's write lock; FOR UPDATE on PostgreSQL): a report signed
    # meanwhile is printed without this decision, so the decision is refused, never silently left out.
    if db.scalar(select(Report.status).where(Report.analysis_id == row.id).with_for_update()) == "signed":
        db.rollback()
        raise HTTPException(409, f"the report of analysis {analysis_id} is signed; its events can no longer be triaged")
    audit(
        db, who, f"event.{body.decision[:-2]}", object_type="analysis", object_id=row.id, patient_id=rec.patient_id,
        request=request, detail={"event": key},
    )  # fmt: skip
    out = EventReviewOut.model_validate(review)
    content_hash = _reviews_hash(db.scalars(select(EventReview).where(EventReview.analysis_id == row.id)))
    db.commit()  # end this transaction before the ledger takes the database's write lock
    from .. import provenance

    provenance.record(
        request.app.state.settings,
        "annotation-changed",
        content_hash=content_hash,
        actor=f"user:{who.user.id}",
        parent_index=row.ledger_index,
        details={"recording_id": rec.id, "analysis_id": row.id, "change": f"event-{body.decision}", "event": key},
    )
    return out


def _reviews_hash(rows) -> str:
    """SHA-256 of the canonical JSON of an analysis's review set (numbers as text: the ledger takes no floats)."""
    import hashlib

    from ...ledger.records import canonical_json

    items = [
        {"event": r.event_key, "decision": r.decision, "reviewer": r.reviewer_id} for r in sorted(rows, key=lambda r: r.event_key)
    ]
    return hashlib.sha256(canonical_json(items)).hexdigest()
