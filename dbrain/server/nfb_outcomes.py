"""Outcome measures of a neurofeedback course: ADHD-RS-IV, CGI-I, Go/No-Go, and reliable change.

ADHD-RS-IV (DuPaul, Power, Anastopoulos & Reid, 1998): 18 items rated 0–3
by a parent (home version) or a teacher (school version); odd items form the
Inattention subscale, even items Hyperactivity–Impulsivity (0–27 each, total
0–54).

CGI-I (Guy, 1976): one clinician rating of improvement, 1 (very much improved)
to 7 (very much worse); it is itself a change rating and gets no RCI.

Go/No-Go: omissions (go trials without a response), commissions (no-go trials
with a response), mean and standard deviation of the reaction time of correct
go responses.

Reliable change (Jacobson & Truax, 1991): ``RCI = (post - pre) / S_diff``
with ``S_diff = sqrt(2) * SD * sqrt(1 - r)``; ``|RCI| > 1.96`` is a change
unlikely (p < .05) to be measurement error. ``r`` is the test–retest
reliability in :data:`RELIABILITY`; ``SD`` is the standard deviation of the
pre-treatment scores of the same measure at the same site when at least
:data:`MIN_REFERENCE` courses have one, else the deployment's configured
``Settings.extra["nfb_reference_sd"][measure]``; with neither, no RCI is
computed (said so in the answer). See docs/nfb-centre.md for the caveats.
"""

from __future__ import annotations

import math

import numpy as np

#: Said wherever the reliabilities are shown: they were entered from memory of the manual's table.
_UNCHECKED = "; value as recalled, not yet checked against the manual"
#: Test–retest reliability used for the RCI, with its source (see the module docstring and docs/nfb-centre.md).
RELIABILITY: dict[str, tuple[float, str]] = {
    "adhd-rs-parent.total": (0.85, "DuPaul et al. 1998 manual, home version, 4-week test-retest" + _UNCHECKED),
    "adhd-rs-parent.inattention": (0.78, "DuPaul et al. 1998 manual, home version, 4-week test-retest" + _UNCHECKED),
    "adhd-rs-parent.hyperactivity": (0.86, "DuPaul et al. 1998 manual, home version, 4-week test-retest" + _UNCHECKED),
    "adhd-rs-teacher.total": (0.90, "DuPaul et al. 1998 manual, school version, 4-week test-retest" + _UNCHECKED),
    "adhd-rs-teacher.inattention": (0.89, "DuPaul et al. 1998 manual, school version, 4-week test-retest" + _UNCHECKED),
    "adhd-rs-teacher.hyperactivity": (0.88, "DuPaul et al. 1998 manual, school version, 4-week test-retest" + _UNCHECKED),
}
#: Pre-treatment scores needed at a site before their SD is used as the RCI's reference SD.
MIN_REFERENCE = 10
KINDS = ("adhd-rs-parent", "adhd-rs-teacher", "cgi-i", "gonogo")
TIMEPOINTS = ("pre", "mid", "post")


def score_adhd_rs(items: list[int]) -> dict:
    """Scores of one ADHD-RS-IV rating.

    Parameters
    ----------
    items : list of int
        18 ratings 0–3 in the scale's item order.

    Returns
    -------
    scores : dict
        ``total``, ``inattention`` (odd items), ``hyperactivity`` (even items).
    """
    if len(items) != 18 or any(int(v) != v or not 0 <= v <= 3 for v in items):
        raise ValueError("ADHD-RS-IV needs 18 item ratings, each 0, 1, 2 or 3")
    items = [int(v) for v in items]
    return {"total": sum(items), "inattention": sum(items[0::2]), "hyperactivity": sum(items[1::2])}


def score_gonogo(trials: list[dict]) -> dict:
    """Scores of one Go/No-Go run.

    Parameters
    ----------
    trials : list of dict
        ``{"stimulus": "go"|"nogo", "rt_ms": float | None}`` (None: no response).

    Returns
    -------
    scores : dict
        ``n_go``, ``n_nogo``, ``omissions``, ``commissions`` (counts), ``omission_rate``,
        ``commission_rate``, ``rt_mean_ms``, ``rt_sd_ms`` (correct go responses).
    """
    go = [t for t in trials if t.get("stimulus") == "go"]
    nogo = [t for t in trials if t.get("stimulus") == "nogo"]
    if not go or not nogo or len(go) + len(nogo) != len(trials):
        raise ValueError("a Go/No-Go run needs go and nogo trials only, at least one of each")
    rts = np.array([float(t["rt_ms"]) for t in go if t.get("rt_ms") is not None], float)
    omissions = len(go) - len(rts)
    commissions = sum(1 for t in nogo if t.get("rt_ms") is not None)
    return {
        "n_go": len(go),
        "n_nogo": len(nogo),
        "omissions": omissions,
        "commissions": commissions,
        "omission_rate": round(omissions / len(go), 6),
        "commission_rate": round(commissions / len(nogo), 6),
        "rt_mean_ms": round(float(rts.mean()), 3) if len(rts) else None,
        "rt_sd_ms": round(float(rts.std(ddof=1)), 3) if len(rts) > 1 else None,
    }


def rci(pre: float, post: float, sd: float, r: float) -> float:
    """Jacobson–Truax reliable-change index.

    Parameters
    ----------
    pre, post : float
        Scores before and after.
    sd : float
        Standard deviation of the reference (pre-treatment) population.
    r : float
        Test–retest reliability.

    Returns
    -------
    rci : float
    """
    s_diff = math.sqrt(2.0) * sd * math.sqrt(1.0 - r)
    return (post - pre) / s_diff


def outcome_changes(outcomes: list[dict], reference_sd: dict | None = None) -> list[dict]:
    """Pre-to-post change of every measure of a course, with the RCI where it can be computed.

    Parameters
    ----------
    outcomes : list of dict
        ``kind``, ``timepoint``, ``scores`` (latest entry per kind and timepoint wins).
    reference_sd : dict | None
        ``{measure: SD}`` (e.g. ``"adhd-rs-parent.total"``) for the RCI.

    Returns
    -------
    rows : list of dict
        ``measure``, ``pre``, ``mid``, ``post``, ``change``, ``rci``, ``reliable``, ``direction``,
        ``reliability``, ``reference``.
    """
    reference_sd = reference_sd or {}
    latest: dict[tuple[str, str], dict] = {}
    for o in outcomes:
        latest[(o["kind"], o["timepoint"])] = o.get("scores") or {}
    rows = []
    measures = sorted({(k, m) for (k, _), s in latest.items() for m, v in s.items() if isinstance(v, int | float)})
    for kind, name in measures:
        key = f"{kind}.{name}"
        vals = {tp: latest.get((kind, tp), {}).get(name) for tp in TIMEPOINTS}
        row = {
            "measure": key,
            **vals,
            "change": None,
            "rci": None,
            "reliable": None,
            "direction": None,
            "reliability": None,
            "reference": None,
        }
        if vals["pre"] is not None and vals["post"] is not None:
            row["change"] = round(float(vals["post"]) - float(vals["pre"]), 6)
            rel = RELIABILITY.get(key)
            sd = reference_sd.get(key)
            if rel is None:
                row["reference"] = "no test-retest reliability on file for this measure: change only"
            elif not sd:
                row["reference"] = (
                    f"no reference SD (fewer than {MIN_REFERENCE} pre-treatment scores at this site, none configured): change only"
                )
            else:
                value = rci(float(vals["pre"]), float(vals["post"]), float(sd), rel[0])
                row.update(
                    rci=round(value, 3),
                    reliable=abs(value) > 1.96,
                    # Lower ADHD-RS scores are fewer symptoms.
                    direction="improved" if value < -1.96 else "worse" if value > 1.96 else "no reliable change",
                    reliability=rel[0],
                    reference=f"r={rel[0]} ({rel[1]}); SD={sd:.3g}",
                )
        rows.append(row)
    return rows
