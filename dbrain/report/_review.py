"""The clinician's review on page 1: a report re-issued with the triage of its detected events.

An analysis writes its report once, from the detections as computed. A
clinician then reviews the detections (accepts or rejects each one, e.g. in the
viewer) and signs. The signed report must say what the clinician confirmed,
not only what the detectors found: :func:`reviewed_report_html` puts a
"Clinician review" section at the top of page 1, above the automatic findings
(whose heading then says they are the detections before review), and
:func:`report_pdf` prints the result. Nothing is recomputed: the section is
built from the analysis's ``events.tsv`` rows and one decision per row.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pandas as pd

from ..errors import ParameterError
from ._blocks import KeyValues, Note, Paragraph, Section, Table
from ._clinical import Clock, duration_text, percent

#: Detected seizures listed in the review table (the rest are counted).
MAX_REVIEW_ROWS = 12
_DECISION_TEXT = {"accepted": "confirmed", "rejected": "rejected", None: "not reviewed"}


def _is_seizure(kind: str) -> bool:
    """``sz`` and its subtypes (``sz_foc``, … as HED-SCORE/SzCORE name them)."""
    kind = kind.strip().lower()
    return kind in ("sz", "seizure") or kind.startswith("sz_")


def _counts(events: pd.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    kinds = ["sz" if _is_seizure(k) else k for k in events["eventType"].astype(str)]
    for kind, decision in zip(kinds, events["review"], strict=True):
        row = out.setdefault(kind, {"accepted": 0, "rejected": 0, "not reviewed": 0})
        row[decision if decision in ("accepted", "rejected") else "not reviewed"] += 1
    return out


def _count_text(c: dict[str, int]) -> str:
    return f"{c['accepted']} confirmed, {c['rejected']} rejected, {c['not reviewed']} not reviewed"


def review_section(
    events: pd.DataFrame,
    *,
    start: dt.datetime | None,
    duration: float,
    reviewer: str | None,
    signed_at: dt.datetime | None,
) -> Section:
    """The "Clinician review" section: what the clinician confirmed and rejected of the detections.

    Parameters
    ----------
    events : pandas.DataFrame
        The analysis's ``events.tsv`` rows (``onset``, ``duration``, ``eventType``, optional
        ``confidence`` and ``channels``) with a ``review`` column: ``"accepted"``, ``"rejected"`` or
        None (not reviewed).
    start : datetime.datetime | None
        Clock time of the recording's first sample.
    duration : float
        Recording length in seconds.
    reviewer : str | None
        Who signs (None while the report is a draft).
    signed_at : datetime.datetime | None
        When it was signed (None: draft).

    Returns
    -------
    section : Section
        Key ``"review"``.
    """
    need = {"onset", "duration", "eventType", "review"}
    if not isinstance(events, pd.DataFrame) or not need <= set(events.columns):
        raise ParameterError(f"events must be a DataFrame with columns {sorted(need)}")
    clock = Clock(start, duration)
    counts = _counts(events)
    sz_kind = "sz" if "sz" in counts else None
    items = []
    if sz_kind is not None:
        c = counts[sz_kind]
        items.append(("Seizures", _count_text(c)))
    else:
        items.append(("Seizures", "none detected"))
    for kind in sorted(k for k in counts if k != sz_kind):
        label = kind.replace("_", " ")
        items.append((label[:1].upper() + label[1:], _count_text(counts[kind])))  # "IIIC" stays upper case
    if signed_at is not None:
        when = signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        items.append(("Signed", f"{reviewer or 'a clinician'}, {when}"))
    else:
        items.append(("Status", "DRAFT: not signed; the review may still change"))
    blocks: list = [KeyValues(items)]
    if sz_kind is not None:
        sz = events[[_is_seizure(k) for k in events["eventType"].astype(str)]].sort_values("onset")
        conf = sz["confidence"] if "confidence" in sz.columns else pd.Series([None] * len(sz), index=sz.index)
        chans = sz["channels"] if "channels" in sz.columns else pd.Series([None] * len(sz), index=sz.index)
        table = pd.DataFrame(
            {
                "Review": [_DECISION_TEXT.get(d if d in ("accepted", "rejected") else None) for d in sz["review"]],
                "Onset": [clock(o) for o in sz["onset"]],
                "Duration": [duration_text(d) for d in sz["duration"]],
                "Confidence": ["" if c is None or pd.isna(c) else percent(float(c)) for c in conf],
                "Channels": ["" if not isinstance(c, str) else c.replace(",", ", ") for c in chans],
            }
        )
        blocks.append(
            Table(
                table,
                max_rows=MAX_REVIEW_ROWS,
                caption="Detected seizures with the clinician's decision (onset in clock time).",
                more_in="events.tsv and the viewer",
            )
        )
        c = counts[sz_kind]
        if c["rejected"] and not c["accepted"] and not c["not reviewed"]:
            blocks.append(Note("Every detected seizure was rejected by the reviewing clinician.", "info"))
        elif c["not reviewed"]:
            blocks.append(Note(f"{c['not reviewed']} detected seizure(s) were not reviewed.", "warning"))
    blocks.append(
        Paragraph(
            "Where this review and the automatic findings below differ, this review stands: the findings, "
            "tables and figures that follow are the detections as computed, before review."
        )
    )
    return Section("Clinician review", "review", blocks)


_SECTION = re.compile(r'<section id="review".*?</section>', re.S)


def reviewed_report_html(report_html: str, section: Section) -> str:
    """The stored report page with ``section`` first on page 1 and the findings marked as before review.

    Parameters
    ----------
    report_html : str
        ``report.html`` as the analysis wrote it (:func:`dbrain.report.render_html`).
    section : Section
        From :func:`review_section`.

    Returns
    -------
    html : str
    """
    from ._render import render_html

    if not isinstance(report_html, str) or '<section id="findings"' not in report_html:
        raise ParameterError("report_html is not a dbrain report with a findings section (report.html of an analysis)")
    report_html = _SECTION.sub("", report_html)  # a review from an earlier render is replaced, never stacked
    fragment = _SECTION.search(render_html("review", [section])).group(0)
    out = report_html.replace('<section id="findings"', fragment + '\n<section id="findings"', 1)
    heading = "<h2>Findings</h2>"
    at = out.find('<section id="findings"')
    head = out.find(heading, at)
    if head != -1:
        label = html_lib.escape("Findings (automatic detections, before review)")
        out = out[:head] + f"<h2>{label}</h2>" + out[head + len(heading) :]
    return out


def report_pdf(html: str) -> bytes:
    """Print a report page to PDF (the same renderer as :func:`dbrain.report.write_report`).

    Parameters
    ----------
    html : str

    Returns
    -------
    pdf : bytes
    """
    from ._render import _pdf_bytes, _validate_html

    _validate_html(html)
    return _pdf_bytes(html)
