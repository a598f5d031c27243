"""The viewer's JavaScript time convention (static/time.js) is the Python one (dbrain.utils._time), case for case."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dbrain.utils._time import format_time, is_multiday

TIME_JS = Path(__file__).parents[1] / "static" / "time.js"
NODE = shutil.which("node") or shutil.which("nodejs")

STARTS = [
    None,
    dt.datetime(2026, 1, 1, 8, 0, 0),
    dt.datetime(2026, 3, 14, 23, 59, 50),  # crosses midnight 10 s in
    dt.datetime(2026, 12, 31, 23, 0, 0, 250000),  # microseconds, crosses the year
    dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),  # aware: the wall clock is written
]
SECONDS = [
    0.0,
    0.4,
    0.5,
    1.5,
    2.5,
    9.96,
    59.95,
    59.96,
    59.9996,
    3723.0,
    3723.25,
    86399.5,
    90000.0,
    172799.999,
    183600.7,
    -3.2,
    1e6 + 0.125,
]
DURATIONS = [10.0, 9.0, 3600.0, 50 * 3600.0]


def _cases():
    cases = []
    for start in STARTS:
        for duration in DURATIONS:
            multiday = is_multiday(start, duration)
            for s in SECONDS:
                for decimals in (0, 1, 2, 3):
                    cases.append(
                        {
                            "seconds": s,
                            "start": start.isoformat() if start else None,
                            "duration": duration,
                            "decimals": decimals,
                            "multiday": multiday,
                            "expect": format_time(s, start, multiday=multiday, decimals=decimals),
                        }
                    )
    return cases


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_time_convention_matches_python(tmp_path):
    cases = _cases()
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = tmp_path / "run.js"
    script.write_text(
        f"const T = require({json.dumps(str(TIME_JS))});\n"
        f"const cases = require({json.dumps(str(tmp_path / 'cases.json'))});\n"
        "const out = cases.map((c) => { const s = T.parseStart(c.start);\n"
        "  return [T.isMultiday(s, c.duration), T.formatTime(c.seconds, s, {multiday: T.isMultiday(s, c.duration), decimals: c.decimals})]; });\n"
        "console.log(JSON.stringify(out));\n"
    )
    proc = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    bad = [(c, g) for c, g in zip(cases, got, strict=True) if g != [c["multiday"], c["expect"]]]
    assert not bad, bad[:10]
    # The table covers every form of the convention.
    texts = {c["expect"] for c in cases}
    assert any(t.startswith("D2 ") for t in texts) and any(t.startswith("D3 ") for t in texts)
    assert any(t.startswith("+") for t in texts) and any(t.startswith("-") for t in texts)
    assert not any("e+" in t or "e-" in t for t in texts)
