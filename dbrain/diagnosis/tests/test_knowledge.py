import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dbrain.diagnosis import (
    EVENT_FINDINGS,
    FEATURES,
    FINDING_TYPES,
    findings_from_events,
    load_knowledge,
    similar_cases,
    suggestions,
)
from dbrain.errors import ParameterError

KB = Path(__file__).resolve().parents[1] / "knowledge" / "treatment.yaml"


def test_every_entry_has_a_source():
    kb = load_knowledge()
    assert kb["entries"]
    for e in kb["entries"]:
        assert e["sources"], e["id"]
        for s in e["sources"]:
            for key in ("name", "year", "section", "url"):
                assert str(s[key]).strip(), (e["id"], key)


def test_every_finding_type_maps_to_an_entry_or_an_explicit_none():
    kb = load_knowledge()
    covered = {f for e in kb["entries"] for f in e["findings"]}
    assert set(FINDING_TYPES) <= covered
    for finding in FINDING_TYPES:
        out = suggestions([finding])
        assert out, finding
        assert all(s["sources"] and s["trigger"] and s["disclaimer"] for s in out)
    explicit = [e for e in kb["entries"] if e.get("no_guideline_suggestion")]
    assert explicit and all("no suggestion" in " ".join(e["considerations"]["notes"]).lower() for e in explicit)


def test_detector_event_types_are_known_findings():
    from dbrain.detect.patterns import PATTERN_EVENT_TYPES

    assert set(PATTERN_EVENT_TYPES.values()) <= set(EVENT_FINDINGS)
    assert {"sz", "spike", "burst_suppression", "bradycardia", "tachycardia", "pause"} <= set(EVENT_FINDINGS)


def test_no_dosing_in_the_knowledge_base():
    text = KB.read_text()
    assert not re.search(r"\d\s*(mg|g/kg|mg/kg|mcg|ml)\b", text, re.IGNORECASE)


def test_spike_qualifiers_route_to_the_right_entries():
    ev = pd.DataFrame(
        {
            "onset": [1.0, 2.0, 5.0],
            "duration": [0.2, 0.2, 10.0],
            "eventType": ["spike", "spike", "sz_foc"],
            "channels": ["T7,P7", "Fp1,Fp2,F3,F4,C3,C4,P3,P4,O1,O2", ""],
        }
    )
    f = findings_from_events(ev, n_channels=19)
    by = {(x["finding"], x["qualifier"]) for x in f}
    assert by == {("spike", "focal_temporal"), ("spike", "generalised"), ("sz", None)}
    out = suggestions(f)
    gen = {s["entry"] for s in out if s["qualifier"] == "generalised"}
    foc = {s["entry"] for s in out if s["qualifier"] == "focal_temporal"}
    assert "generalised-discharges" in gen and "focal-discharges" not in gen
    assert "focal-discharges" in foc and "generalised-discharges" not in foc
    assert all("event(s)" in s["trigger"] for s in out)
    # the report writes the first onset in clock time (it wrote "first at 4859.4 s" in a report of clock times)
    import datetime as dt

    from dbrain.utils._time import format_time

    start = dt.datetime(2020, 1, 1, 23, 0, 0)
    timed = findings_from_events(ev, n_channels=19, when=lambda s: format_time(s, start, multiday=True))
    first = min(ev["onset"])
    assert any(x["evidence"].endswith(f"first at {format_time(first, start, multiday=True)}") for x in timed)
    assert all(" s" not in x["evidence"].split("first at ")[1] for x in timed)
    with pytest.raises(ParameterError, match="unknown finding"):
        suggestions(["cardiac_arrest"])


def test_knowledge_base_validation(tmp_path):
    bad = tmp_path / "kb.yaml"
    bad.write_text(
        "entries:\n  - id: x\n    findings: [sz]\n    title: t\n    considerations: {referral: [r]}\n    sources: [{name: n, year: 2020, section: '', url: u}]\n"
    )
    with pytest.raises(ParameterError, match="source without"):
        load_knowledge(bad)


def _store(n=30, seed=0):
    rng = np.random.default_rng(seed)
    feats = [f for f in FEATURES if f not in ("clean_seconds", "n_channels")][:10]
    df = pd.DataFrame(rng.standard_normal((n, len(feats))), columns=feats)
    df["recording"] = [f"r{i}" for i in range(n)]
    df["outcome"] = rng.choice(["AD", "control"], n)
    return df


def test_similar_cases(tmp_path):
    store = _store()
    query = store.drop(columns=["recording", "outcome"]).iloc[7] + 1e-9
    cases = similar_cases(query, store, k=3)
    assert list(cases.columns) == ["recording", "outcome", "distance", "n_features"]
    assert cases["recording"].iloc[0] == "r7" and cases["distance"].iloc[0] < 1e-6
    assert cases["distance"].is_monotonic_increasing
    # missing query features are left out; a parquet store works the same
    q2 = query.copy()
    q2.iloc[:3] = np.nan
    store.to_parquet(tmp_path / "store.parquet")
    c2 = similar_cases(q2, tmp_path / "store.parquet", k=2)
    assert c2["recording"].iloc[0] == "r7" and c2["n_features"].iloc[0] == 7
    with pytest.raises(ParameterError, match="lacks the 'outcome' column"):
        similar_cases(query, store.drop(columns="outcome"))
