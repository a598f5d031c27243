#!/usr/bin/env python
"""Neurofeedback display latency: from a sample's arrival at the server to the browser frame that shows it.

Usage::

    python benchmarks/bench_nfb_display.py                       # 2-min training block, real time
    python benchmarks/bench_nfb_display.py --training-minutes 10  # the issue's 10-minute session

What it does (the same path as ``dbrain/server/tests/test_nfb_e2e.py``):

1. Starts a real ``dbrain serve`` with one worker and a fresh data-centre home; a clinician uploads
   the bundled sample EEG, the worker screens it (spike and seizure detectors), the clinician clears
   the course (override with a reason when the detectors find something, as they do on this seizure
   sample).
2. In Debian's headless chromium (``/usr/bin/chromium``, Python playwright) the therapist console
   plans a session (``synthetic`` source at speed 1, i.e. samples arrive in real time, in chunks), the
   patient display enters the one-time code, the therapist starts.
3. The server stamps every feedback update with ``arrival_ms`` = wall clock now minus
   ``run_session``'s ``latency_ms`` (the newest sample of the update's window arrived then); the
   display draws only the newest update in each animation frame and, one frame later (the drawn frame
   has been presented), records ``Date.now() - arrival_ms``. Same machine, same clock.

Prints a Markdown table (display latency and, for comparison, ``run_session``'s own processing latency
from the session summary) and one JSON line. Timings depend on the machine: say whether it was loaded
(the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import markdown_table  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--training-minutes", type=float, default=2.0, help="Length of the training block (baseline and transfer: 0.25 min each)."
    )
    args = ap.parse_args(argv)
    from dbrain.server.tests import test_nfb_e2e as e2e
    from dbrain.server.tests.test_live import running_server

    blocks = [
        {"kind": "baseline", "minutes": 0.25},
        {"kind": "training", "minutes": args.training_minutes},
        {"kind": "transfer", "minutes": 0.25},
    ]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dbrain-bench-nfb-") as tmp:
        home = Path(tmp) / "home"
        db = f"sqlite:///{home / 'dbrain.sqlite'}"
        env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": e2e.PASSWORD}
        e2e.make_users(env, db)
        with running_server(env, db, Path(tmp) / "serve.log") as base:
            course = e2e.prepare_course(base, blocks=blocks)
            with e2e.sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(e2e.CHROMIUM), headless=True, args=e2e.CHROMIUM_ARGS)
                try:
                    t0 = time.monotonic()
                    m = e2e.run_display_session(browser, base, course["id"])
                    wall = time.monotonic() - t0
                finally:
                    browser.close()
            fb = e2e.feedback_table(home, db)
    lat = np.asarray(m["latencies"], float)
    proc = fb["latency_ms"].dropna().to_numpy(float)
    rows = [
        {
            "measure": "display (sample arrival -> frame shown)",
            "n": lat.size,
            "p50 ms": np.percentile(lat, 50),
            "p95 ms": np.percentile(lat, 95),
            "max ms": lat.max(),
        },
        {
            "measure": "processing (run_session: arrival -> value)",
            "n": proc.size,
            "p50 ms": np.percentile(proc, 50),
            "p95 ms": np.percentile(proc, 95),
            "max ms": proc.max(),
        },
    ]
    for r in rows:
        for k in ("p50 ms", "p95 ms", "max ms"):
            r[k] = round(float(r[k]), 1)
    header = list(rows[0])
    print(markdown_table([[r[k] for k in header] for r in rows], header))
    out = {
        "bench": "nfb_display",
        "training_minutes": args.training_minutes,
        "updates_in_session": len(fb),
        "updates_shown": int(lat.size),
        "display_ms": {"p50": rows[0]["p50 ms"], "p95": rows[0]["p95 ms"], "max": rows[0]["max ms"]},
        "processing_ms": {"p50": rows[1]["p50 ms"], "p95": rows[1]["p95 ms"], "max": rows[1]["max ms"]},
        "goal_p95_ms": 250.0,
        "session_wall_s": round(wall, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
