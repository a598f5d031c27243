#!/usr/bin/env python
"""Whole-analysis benchmark: ``dbrain analyze`` of a long recording beside MNE's plain read of the same file.

Usage::

    python benchmarks/bench_analyze.py                          # 24 h (the issue's figure)
    python benchmarks/bench_analyze.py --durations 1h,6h,24h,72h  # cost growth
    python benchmarks/bench_analyze.py --durations 1h --no-report --work ~/bench-cache

For each duration the script simulates a 19-channel 10-20 EEG + EKG at 256 Hz
with artifacts, seizures and spikes (``dbrain simulate``, cached in
``--work``), then runs, each in a fresh process of its own:

* ``mne``: ``mne.io.read_raw_edf(path, preload=True)`` — the floor of any analysis;
* ``analyze``: :func:`dbrain.analyze.analyze` with all default steps and the
  report (``--no-report``: without), ledger off.

It prints wall time and peak RSS of both, the time of each step and of the
engine's shared products (from ``summary.json``), and for several durations
the growth of wall time and memory. Every figure comes from this one run;
on a shared machine, say so next to them.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, peak_rss_mb, run_worker, simulate_edf, workdir  # noqa: E402


def _worker(kind: str, path: str, report: bool) -> dict:
    if kind == "mne":
        import mne

        t0 = time.perf_counter()
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "n_times": int(raw.n_times)}
    from dbrain.analyze import analyze

    with tempfile.TemporaryDirectory(prefix="dbrain-bench-analyze-") as tmp:
        t0 = time.perf_counter()
        out = analyze(path, Path(tmp) / "out", ledger=False, report=report, verbose="error")
        seconds = time.perf_counter() - t0
        summary = json.loads((out.out_dir / "summary.json").read_text())
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "steps": {s["name"]: [s["seconds"], s.get("streaming", False)] for s in summary["steps"]},
        "engine": summary["engine"],
    }


def _parse_hours(text: str) -> float:
    from dbrain.simulate import parse_duration

    return parse_duration(text) / 3600.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", default="24h", help="comma-separated recording lengths (default 24h)")
    parser.add_argument("--no-report", action="store_true", help="analyse without figures and report")
    parser.add_argument("--work", default=None, help="folder to cache the simulated recordings in (default: temporary)")
    parser.add_argument("--_worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        kind, path, report = args._worker
        print(json.dumps(_worker(kind, path, report == "1")))
        return 0
    os.environ.setdefault("DBRAIN_HOME", str(Path(tempfile.gettempdir()) / "dbrain-bench-home"))
    durations = [d.strip() for d in args.durations.split(",") if d.strip()]
    report = "0" if args.no_report else "1"
    print(f"# dbrain analyze benchmark — {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"# 19 EEG + EKG at 256 Hz, simulated; all default steps, report {'off' if args.no_report else 'on'}\n")
    runs = []
    with workdir(args.work) as folder:
        for duration in durations:
            path = folder / f"analyze-{duration}.edf"
            if not path.is_file():
                simulate_edf(path, duration, seed=0, seizures=max(1, int(_parse_hours(duration))), spikes=200)
            mne_run = run_worker(__file__, ["--_worker", "mne", str(path), report])
            ana = run_worker(__file__, ["--_worker", "analyze", str(path), report])
            runs.append((duration, mne_run, ana))
            print(f"## {duration}\n")
            print(
                markdown_table(
                    [
                        ["mne.io.read_raw_edf(preload=True)", f"{mne_run['seconds']:.1f}", f"{mne_run['peak_rss_mb']:.0f}"],
                        ["dbrain analyze", f"{ana['seconds']:.1f}", f"{ana['peak_rss_mb']:.0f}"],
                    ],
                    ["", "wall (s)", "peak RSS (MB)"],
                )
            )
            print()
            threads = ana["engine"].get("thread_seconds", {})
            rows = [
                [
                    name,
                    "single pass" if streaming else "whole recording",
                    f"{sec:.1f}",
                    f"{threads[name]:.1f}" if name in threads else "",
                ]
                for name, (sec, streaming) in ana["steps"].items()
            ]
            print(markdown_table(rows, ["step", "runs as", "seconds (engine thread)", "seconds (own thread, overlapping)"]))
            print()
            engine = ana["engine"]
            rows = [[f"(reading the file, chunks of {engine['chunk_duration']:g} s)", f"{engine['read_seconds']:.1f}"]]
            rows += [[name, f"{sec:.1f}"] for name, sec in engine["products"].items()]
            print(markdown_table(rows, ["single-pass product", "seconds"]))
            print()
    if len(runs) > 1:
        print("## growth\n")
        hours0 = _parse_hours(runs[0][0])
        base = runs[0][2]
        rows = []
        for duration, mne_run, ana in runs:
            ratio = _parse_hours(duration) / hours0
            rows.append(
                [
                    duration,
                    f"{ana['seconds']:.1f}",
                    f"{ana['seconds'] / base['seconds']:.2f} (duration × {ratio:g})",
                    f"{ana['peak_rss_mb']:.0f}",
                    f"{mne_run['seconds']:.1f}",
                ]
            )
        print(markdown_table(rows, ["duration", "analyze wall (s)", "wall ratio", "analyze peak RSS (MB)", "mne read (s)"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
