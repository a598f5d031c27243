"""read_events on TSVs whose text columns are all ``n/a`` or absent (SzCORE hypothesis files often are)."""

from __future__ import annotations

import warnings

from dbrain.events import EVENT_COLUMNS, read_events


def test_all_na_and_absent_text_columns(tmp_path):
    all_na = tmp_path / "a_events.tsv"
    all_na.write_text("\t".join(EVENT_COLUMNS) + "\n0\t3600\tbckg\tn/a\tn/a\tn/a\t3600\n")
    minimal = tmp_path / "b_events.tsv"
    minimal.write_text("onset\tduration\teventType\n10\t5\tsz\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path in (all_na, minimal):
            events = read_events(path)
            assert list(events.columns) == EVENT_COLUMNS
            assert events["channels"].tolist() == ["n/a"] and events["dateTime"].tolist() == ["n/a"]
