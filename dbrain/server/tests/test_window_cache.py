"""The montage kept per open recording gives the same pages as one built anew."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import dbrain
from dbrain.server import window

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"


def _fresh(path, **kw):
    with window._LOCK:
        window._DERIVED.clear()
    return window.read_window(path, **kw)


def test_kept_montage_gives_the_fresh_page(tmp_path):
    path = tmp_path / "rec.edf"
    shutil.copy(SAMPLE, path)
    for montage, derivations in (("double-banana", None), ("average", None), ("custom", ["Fp1-F7", "C3-AVG", "Cz"])):
        first = window.read_window(path, start=3, duration=10, montage=montage, derivations=derivations)
        # Another window through the kept montage equals a window through a new one.
        kept = window.read_window(path, start=27.5, duration=8, montage=montage, derivations=derivations, highpass=1.0)
        fresh = _fresh(path, start=27.5, duration=8, montage=montage, derivations=derivations, highpass=1.0)
        assert kept["channels"] == fresh["channels"] and kept["groups"] == fresh["groups"]
        np.testing.assert_array_equal(np.asarray(kept["data"]), np.asarray(fresh["data"]))
        assert first["channels"] == kept["channels"]
    # Each montage (and each set of custom derivations) is its own entry; another custom set is not confused with it.
    three = window.read_window(path, montage="custom", derivations=["Fp1-F7", "C3-AVG", "Cz"])
    other = window.read_window(path, montage="custom", derivations=["Cz"])
    assert len(other["channels"]) == len(three["channels"]) - 2
    keys = [k for k in window._DERIVED if k[0] == str(path)]
    assert len(keys) == len(set(keys)) >= 2


def test_kept_montage_is_dropped_with_its_recording(tmp_path, monkeypatch):
    path = tmp_path / "rec.edf"
    shutil.copy(SAMPLE, path)
    window.read_window(path, montage="referential")
    raw = window._open(path)[0]
    # The open recording is evicted (another file took its place): the kept montage is not reused for the new one.
    with window._LOCK:
        window._CACHE.pop(str(path))
    page = window.read_window(path, start=1, montage="referential")
    assert window._open(path)[0] is not raw
    assert window._DERIVED[(str(path), "referential", ())][0] is window._open(path)[0]
    assert page["channels"]
    monkeypatch.setattr(window, "_DERIVED_SIZE", 2)
    for m in ("average", "double-banana", "transverse"):
        window.read_window(path, montage=m)
    assert len(window._DERIVED) <= 2


def test_orjson_page_is_the_pydantic_document(tmp_path):
    import json

    from dbrain.server import pages
    from dbrain.server.schemas import WindowOut

    path = tmp_path / "rec.edf"
    shutil.copy(SAMPLE, path)
    for kw in ({"start": 3}, {"start": 0, "duration": 40, "max_points": 500, "highpass": 1.0, "notch": 50.0}):
        fast = pages.window_json(window.read_window(path, arrays=True, **kw))
        ref = WindowOut(**window.read_window(path, **kw)).model_dump_json().encode()
        assert json.loads(fast) == json.loads(ref)
    # NaN is written as null, as pydantic writes it.
    w = window.read_window(path, arrays=True, start=3)
    w["data"][0, :3] = np.nan
    w["times"] = np.asarray(w["times"])
    assert json.loads(pages.window_json(w))["data"][0][:3] == [None, None, None]
    ref = json.loads(WindowOut(**{**w, "data": w["data"].tolist(), "times": w["times"].tolist()}).model_dump_json())
    assert ref["data"][0][:3] == [None, None, None]


def test_a_burst_of_first_pages_opens_the_recording_once(tmp_path, monkeypatch):
    import threading
    import time

    calls = []

    def slow_read(path):
        calls.append(path)
        time.sleep(0.3)  # a header parsed while seven more requests for the recording arrive
        if len(calls) == 1 and path.name == "bad.edf":
            raise OSError("unreadable")
        return ("raw", "info")

    monkeypatch.setattr("dbrain.io.read_recording", slow_read)

    def burst(path):
        got = []

        def one():
            try:
                got.append(window._open(path))
            except OSError as exc:
                got.append(exc)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        window._CACHE.pop(str(path), None)
        return got

    got = burst(tmp_path / "x.edf")
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)
    assert str(tmp_path / "x.edf") not in window._OPENING
    # A failed open fails only its own request; a waiting request opens the file itself.
    calls.clear()
    got = burst(tmp_path / "bad.edf")
    assert len(calls) == 2 and sum(isinstance(g, OSError) for g in got) == 1
    assert str(tmp_path / "bad.edf") not in window._OPENING
