"""Neurofeedback session and course reports (JSON and a self-contained HTML page).

Per session: the trained feature per block (its learning curve within the
session, with an inline SVG), reward and artifact (inhibit) fraction per
block. Per course: the same per session (learning curve across sessions from
the training blocks), and outcome measures with their change and
Jacobson–Truax reliable-change index (:mod:`.nfb_outcomes`).

Both arms give reports of the same keys: every figure is computed from the
session's own feedback.parquet.
"""

from __future__ import annotations

import html

import numpy as np


def _f(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, 6) if np.isfinite(v) else None


def _segments(frame, plan: list) -> list[tuple[str, str, np.ndarray]]:
    """``(name, kind, row mask)`` of each block: the table's ``block``/``block_kind`` columns, else the plan over time."""
    if "block" in frame.columns and "block_kind" in frame.columns and len(frame):
        names = list(dict.fromkeys(frame["block"].astype(str)))
        kinds = frame.groupby(frame["block"].astype(str))["block_kind"].first()
        col = frame["block"].astype(str).to_numpy()
        return [(n, str(kinds[n]), col == n) for n in names]
    t = _col(frame, ("t", "time"), float)
    edges = np.cumsum([float(b["minutes"]) * 60.0 for b in plan])
    idx = np.searchsorted(edges, t - t[0], side="right") if len(t) else np.array([], int)
    return [(f"{b['kind']}-{i + 1}", b["kind"], idx == i) for i, b in enumerate(plan)]


def _col(frame, names, dtype):
    for n in names:
        if n in frame.columns:
            return frame[n].to_numpy(dtype)
    return np.zeros(len(frame), dtype) if dtype is bool else np.full(len(frame), np.nan)


def session_report(session: dict, protocol: str, frame, qeeg: dict | None = None) -> dict:
    """Report of one session from its feedback table.

    Parameters
    ----------
    session : dict
        The session's API answer (``SessionOut``).
    protocol : str
    frame : pandas.DataFrame
        feedback.parquet of ``dbrain.nfb.run_session``: ``t``, ``block``, ``block_kind``, ``feature``,
        ``inhibit``, ``displayed_reward`` … (``reward`` is used when ``displayed_reward`` is absent).
    qeeg : dict | None
        The baseline block's qEEG (``baseline_qeeg.json``).

    Returns
    -------
    report : dict
        ``session``, ``protocol``, ``blocks`` (name, kind, seconds, feature mean, reward and artifact
        fraction), ``learning_curve`` (feature mean of each training block, in order),
        ``reward_fraction`` (training blocks, as displayed), ``artifact_fraction``, ``baseline_qeeg``.
    """
    t = _col(frame, ("t", "time"), float)
    feature = _col(frame, ("feature",), float)
    reward = _col(frame, ("displayed_reward", "reward"), bool)
    inhibit = _col(frame, ("inhibit",), bool)
    out_blocks = []
    for i, (name, kind, sel) in enumerate(_segments(frame, session.get("blocks") or [])):
        n = int(sel.sum())
        finite = feature[sel][np.isfinite(feature[sel])]
        out_blocks.append(
            {
                "index": i,
                "name": name,
                "kind": kind,
                "seconds": _f(t[sel].max() - t[sel].min()) if n > 1 else 0.0,
                "n_updates": n,
                "feature_mean": _f(finite.mean()) if finite.size else None,
                # Transfer blocks give no feedback: nothing is displayed, so their reward fraction is 0.
                "reward_fraction": _f(reward[sel].mean()) if n else None,
                "artifact_fraction": _f(inhibit[sel].mean()) if n else None,
            }
        )
    training = [b for b in out_blocks if b["kind"] == "training"]
    fed = np.zeros(len(frame), bool)
    for _, kind, sel in _segments(frame, session.get("blocks") or []):
        fed |= sel if kind == "training" else False
    return {
        "session": {k: session.get(k) for k in ("id", "course_id", "number", "status", "started_at", "finished_at")},
        "protocol": protocol,
        "n_updates": int(len(frame)),
        "reward_fraction": _f(reward[fed].mean()) if fed.any() else None,
        "artifact_fraction": _f(inhibit.mean()) if len(inhibit) else None,
        "baseline_feature_mean": next((b["feature_mean"] for b in out_blocks if b["kind"] == "baseline"), None),
        "transfer_feature_mean": next((b["feature_mean"] for b in out_blocks if b["kind"] == "transfer"), None),
        "learning_curve": [b["feature_mean"] for b in training],
        "blocks": out_blocks,
        "baseline_qeeg": qeeg or {"reason": "no recorded baseline"},
    }


def course_report(course: dict, sessions: list[dict], outcomes: list[dict], reference_sd: dict | None = None) -> dict:
    """Report of a course: per-session figures and outcomes with reliable change.

    Parameters
    ----------
    course : dict
        ``CourseOut`` (no allocation).
    sessions : list of dict
        :func:`session_report` of each session with results.
    outcomes : list of dict
        ``kind``, ``timepoint``, ``scores`` of each outcome entered.
    reference_sd : dict | None
        ``{measure: SD}`` for the reliable-change index.

    Returns
    -------
    report : dict
    """
    from .nfb_outcomes import outcome_changes

    rows = [
        {
            "number": s["session"]["number"],
            "status": s["session"]["status"],
            "training_feature_mean": _f(np.mean(s["learning_curve"])) if s["learning_curve"] else None,
            "baseline_feature_mean": s["baseline_feature_mean"],
            "transfer_feature_mean": s["transfer_feature_mean"],
            "reward_fraction": s["reward_fraction"],
            "artifact_fraction": s["artifact_fraction"],
        }
        for s in sessions
    ]
    with_qeeg = [s for s in sessions if (s.get("baseline_qeeg") or {}).get("channels")]
    qeeg_change = _qeeg_change(with_qeeg[0]["baseline_qeeg"], with_qeeg[-1]["baseline_qeeg"]) if len(with_qeeg) > 1 else []
    pre = next((r["baseline_feature_mean"] for r in rows if r["baseline_feature_mean"] is not None), None)
    post = next((r["baseline_feature_mean"] for r in reversed(rows) if r["baseline_feature_mean"] is not None), None)
    return {
        "course": course,
        "sessions": rows,
        "learning_curve": [r["training_feature_mean"] for r in rows],
        "baseline_pre_post": {
            "pre": pre,
            "post": post,
            "change": _f(post - pre) if pre is not None and post is not None and len(rows) > 1 else None,
        },
        "qeeg_pre_post": qeeg_change,
        "outcomes": outcome_changes(outcomes, reference_sd),
    }


def _qeeg_change(pre: dict, post: dict) -> list[dict]:
    """Per channel and measure: the first and the last session's baseline qEEG (eyes open) and their difference."""
    rows = []
    for ch, before in pre["channels"].items():
        after = post["channels"].get(ch) or {}
        for m in ("rel_theta", "rel_alpha", "rel_beta", "peak_alpha_freq"):
            a, b = before.get(m), after.get(m)
            rows.append(
                {
                    "channel": ch,
                    "measure": m,
                    "pre": a,
                    "post": b,
                    "change": _f(b - a) if a is not None and b is not None else None,
                }
            )
        a, b = pre["theta_beta"].get(ch), post["theta_beta"].get(ch)
        rows.append(
            {
                "channel": ch,
                "measure": "theta_beta",
                "pre": a,
                "post": b,
                "change": _f(b - a) if a is not None and b is not None else None,
            }
        )
    return rows


# --------------------------------------------------------------------------- HTML


def _svg_curve(values: list, title: str, width: int = 480, height: int = 160) -> str:
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 1:
        return f"<p>{html.escape(title)}: no values.</p>"
    ys = [v for _, v in pts]
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    n = max(1, len(values) - 1)
    coords = " ".join(f"{20 + (width - 40) * i / n:.1f},{height - 20 - (height - 40) * (v - lo) / span:.1f}" for i, v in pts)
    dots = "".join(
        f'<circle cx="{20 + (width - 40) * i / n:.1f}" cy="{height - 20 - (height - 40) * (v - lo) / span:.1f}" r="3"/>'
        for i, v in pts
    )
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
        f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{coords}"/><g fill="#1f5fa8">{dots}</g>'
        f'<text x="4" y="14" font-size="11">{hi:.4g}</text><text x="4" y="{height - 4}" font-size="11">{lo:.4g}</text></svg>'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
    ".note{color:#555;font-size:90%}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        '<p class="note">Decision support only: every figure must be interpreted by a qualified clinician.</p></body></html>'
    )


def render_session_html(report: dict) -> str:
    """A self-contained HTML page of :func:`session_report` (no script; served under the sandbox policy)."""
    s = report["session"]
    facts = _table(
        [
            {
                "protocol": report["protocol"],
                "updates": report["n_updates"],
                "reward fraction (training)": report["reward_fraction"],
                "artifact fraction": report["artifact_fraction"],
            }
        ],
        ["protocol", "updates", "reward fraction (training)", "artifact fraction"],
    )
    blocks = _table(
        report["blocks"], ["name", "kind", "seconds", "n_updates", "feature_mean", "reward_fraction", "artifact_fraction"]
    )
    q = report.get("baseline_qeeg") or {}
    qrows = [{"channel": ch, **v, "theta_beta": q.get("theta_beta", {}).get(ch)} for ch, v in (q.get("channels") or {}).items()]
    qeeg = (
        _table(qrows, ["channel", "rel_delta", "rel_theta", "rel_alpha", "rel_beta", "theta_beta", "peak_alpha_freq"])
        if qrows
        else f"<p>{html.escape(str(q.get('reason', 'none')))}</p>"
    )
    body = (
        f'<p id="nfb-report-session">Session {s["number"]} ({html.escape(str(s["status"]))})</p>{facts}'
        f"<h2>Learning curve of the trained feature</h2>{_svg_curve(report['learning_curve'], 'feature mean per training block')}"
        f"<h2>Blocks</h2>{blocks}"
        '<p class="note">Reward fraction: what the display showed. Transfer blocks give no feedback.</p>'
        f"<h2>Baseline qEEG (eyes open; dbrain.qeeg, median of 2-s epochs)</h2>{qeeg}"
    )
    return _page(f"Neurofeedback session report — session {s['number']}", body)


def render_course_html(report: dict) -> str:
    """A self-contained HTML page of :func:`course_report`."""
    c = report["course"]
    sessions = _table(
        report["sessions"],
        [
            "number",
            "status",
            "baseline_feature_mean",
            "training_feature_mean",
            "transfer_feature_mean",
            "reward_fraction",
            "artifact_fraction",
        ],
    )
    outcomes = _table(report["outcomes"], ["measure", "pre", "post", "change", "rci", "reliable", "direction", "reference"])
    pp = report["baseline_pre_post"]
    body = (
        f"<p>Patient {html.escape(c['pseudonym'])}, protocol {html.escape(c['protocol'])}, {c['n_sessions']} sessions planned, "
        f"{c['sessions_done']} done.</p>"
        f"<h2>Learning curve across sessions</h2>{_svg_curve(report['learning_curve'], 'training feature mean per session')}"
        f"<h2>Sessions</h2>{sessions}"
        f"<p>Baseline (eyes open) trained feature, first vs last session: {_cell(pp['pre'])} → {_cell(pp['post'])}.</p>"
        f"<h2>Outcomes (change and reliable-change index)</h2>{outcomes}"
        f"<h2>Baseline qEEG, first vs last session (eyes open)</h2>"
        f"{_table(report['qeeg_pre_post'], ['channel', 'measure', 'pre', 'post', 'change']) if report['qeeg_pre_post'] else '<p>Fewer than two recorded baselines.</p>'}"
    )
    return _page(f"Neurofeedback course report — course {c['id']}", body)
