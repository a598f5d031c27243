"""The review record of the knowledge base: references, review blocks, honesty about what was not checked."""

import re

import pytest
import yaml

from dbrain.diagnosis import FINDING_TYPES, load_knowledge, suggestions
from dbrain.diagnosis._knowledge import _KB, REVIEW_STATUSES
from dbrain.errors import ParameterError

#: A recommendation number such as 1.1.1 or 5.1.1, a numbered section (1.5.5, 1.2) or a paper section (C1).
_NUMBERED = re.compile(r"\b\d+\.\d+(\.\d+)?\b|\bBox \d+\b|\bSection [A-Z]?\d")


def test_every_source_names_the_recommendation_or_says_it_was_not_identified():
    for e in load_knowledge()["entries"]:
        for s in e["sources"]:
            rec = str(s["recommendation"]).strip()
            assert rec, (e["id"], s["name"])
            if s["name"].startswith("NICE"):
                # a NICE source gives recommendation numbers, or says plainly which ones it could not identify
                assert _NUMBERED.search(rec) or rec.startswith("not identified"), (e["id"], rec)


def test_every_entry_has_a_review_block_without_clinician_sign_off():
    for e in load_knowledge()["entries"]:
        r = e["review"]
        assert r["reviewed"] == "2026-12-01", e["id"]
        assert "not yet signed off by a clinician" in r["by"], e["id"]
        assert r["status"] in REVIEW_STATUSES
        if r["status"] != "not checked":
            assert r["checked"], e["id"]
        if r["status"] != "checked":
            assert r["not_checked"], e["id"]  # say what could not be checked


def test_unchecked_statements_are_flagged_in_the_entry_itself():
    """An entry whose review lists unchecked statements says so where a clinician reads it."""
    flag = re.compile(r"not (retrieved|checked|identified)|secondary (sources|summar)|published summaries|own statement")
    for e in load_knowledge()["entries"]:
        if e["review"]["status"] == "checked" or e.get("no_guideline_suggestion"):
            continue
        shown = " ".join(t for v in e["considerations"].values() for t in v)
        refs = " ".join(str(s["recommendation"]) for s in e["sources"])
        assert flag.search(shown) or flag.search(refs), e["id"]


def test_every_finding_type_still_maps_and_suggestions_carry_review_status():
    for finding in FINDING_TYPES:
        out = suggestions([finding])
        assert out and all(s["review_status"] in REVIEW_STATUSES for s in out), finding


def test_no_dosing_even_in_review_text():
    text = _KB.read_text()
    assert not re.search(r"\d\s*(mg|g/kg|mg/kg|mcg|µg|ml)\b", text, re.IGNORECASE)


def _kb_with(tmp_path, entry_patch=None, source_patch=None):
    # a new file name each time: load_knowledge caches by path
    data = yaml.safe_load(_KB.read_text())
    e = data["entries"][0]
    e.update(entry_patch or {})
    e["sources"][0].update(source_patch or {})
    path = tmp_path / f"kb{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "entries": [e]}))
    return path


def test_validation_requires_review_and_recommendation(tmp_path):
    with pytest.raises(ParameterError, match="lacks 'recommendation'"):
        load_knowledge(_kb_with(tmp_path, source_patch={"recommendation": ""}))
    with pytest.raises(ParameterError, match="lacks a 'review' block"):
        load_knowledge(_kb_with(tmp_path, entry_patch={"review": None}))
    base = yaml.safe_load(_KB.read_text())["entries"][0]["review"]
    with pytest.raises(ParameterError, match="lists nothing unchecked"):
        load_knowledge(_kb_with(tmp_path, entry_patch={"review": base | {"not_checked": []}}))
    with pytest.raises(ParameterError, match="review status must be one of"):
        load_knowledge(_kb_with(tmp_path, entry_patch={"review": base | {"status": "approved"}}))
    assert load_knowledge(_kb_with(tmp_path))["entries"][0]["review"]["status"] == base["status"]
