#!/usr/bin/env python
"""I/O benchmark: read a long simulated EDF with dbrain, MNE and pyedflib.

Usage::

    python benchmarks/bench_io.py                      # 24 h, temporary directory
    python benchmarks/bench_io.py --duration 1h        # quick run
    python benchmarks/bench_io.py --workdir ~/.cache/dbrain-bench   # keep the EDF between runs

The script simulates (once per work directory) a 19-channel 10-20 EEG plus
EKG at 256 Hz with :func:`dbrain.simulate.write_simulated_edf`, then reads it
in two ways:

* ``full`` — every sample of every channel into memory;
* ``page`` — one 10 s page at hour 12 (the middle of shorter recordings),
  which is what a reviewer scrolling a recording does.

Readers:

* ``dbrain`` — ``dbrain.io.read_recording(path)`` (lazy) then ``raw.get_data()``
  (or ``raw.get_data(start, stop)`` for the page);
* ``mne`` — ``mne.io.read_raw_edf(path, preload=True)`` for ``full``,
  ``preload=False`` + ``get_data(start, stop)`` for ``page``;
* ``pyedflib`` — ``EdfReader.readSignal`` per channel.

Each measurement runs in a fresh subprocess, which reports its own wall time
(imports excluded, timed separately) and peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss``), so the numbers of one reader cannot
leak into another's. The script prints a Markdown table to paste into a README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from _common import markdown_table, peak_rss_mb, run_worker, workdir

READERS = ("dbrain", "mne", "pyedflib")
MODES = ("full", "page")
PAGE_SECONDS = 10.0


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _page_start(duration: float) -> float:
    return 12 * 3600.0 if duration >= 12 * 3600.0 + PAGE_SECONDS else max(0.0, duration / 2 - PAGE_SECONDS / 2)


# --------------------------------------------------------------------------- workers (in subprocesses)
def _worker_simulate(path: str, duration: str, seed: int) -> dict:
    t0 = time.perf_counter()
    from dbrain.simulate import write_simulated_edf

    t_import = time.perf_counter() - t0
    base = peak_rss_mb()
    t0 = time.perf_counter()
    write_simulated_edf(path, duration, seizures=3, spikes=50, artifacts=True, seed=seed)
    return {"import_s": t_import, "wall_s": time.perf_counter() - t0, "base_mb": base, "peak_mb": peak_rss_mb()}


def _worker_read(reader: str, mode: str, path: str) -> dict:
    t0 = time.perf_counter()
    import numpy as np

    if reader == "dbrain":
        from dbrain.io import read_recording
    elif reader == "mne":
        import mne
    else:
        import pyedflib
    t_import = time.perf_counter() - t0
    base = peak_rss_mb()

    # Each reader ends with every requested sample in memory exactly once:
    # no scaling or stacking copies, which would measure NumPy, not the reader.
    t0 = time.perf_counter()
    if reader == "dbrain":
        raw, _ = read_recording(path)
        if mode == "full":
            rows = raw.get_data()
        else:
            sfreq = raw.info["sfreq"]
            start = int(round(_page_start(raw.n_times / sfreq) * sfreq))
            rows = raw.get_data(start=start, stop=start + int(PAGE_SECONDS * sfreq))
        scale = 1e6  # V -> µV, the unit pyedflib returns
    elif reader == "mne":
        if mode == "full":
            raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
            rows = raw._data  # the preloaded array itself (get_data() would copy it)
        else:
            raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
            sfreq = raw.info["sfreq"]
            start = int(round(_page_start(raw.n_times / sfreq) * sfreq))
            rows = raw.get_data(start=start, stop=start + int(PAGE_SECONDS * sfreq))
        scale = 1e6
    else:
        with pyedflib.EdfReader(path) as edf:
            n_sig = edf.signals_in_file
            if mode == "full":
                rows = [edf.readSignal(i) for i in range(n_sig)]
            else:
                sfreq = edf.getSampleFrequency(0)
                start = int(round(_page_start(edf.getFileDuration()) * sfreq))
                n = int(PAGE_SECONDS * sfreq)
                rows = [edf.readSignal(i, start, n) for i in range(n_sig)]
        scale = 1.0
    wall = time.perf_counter() - t0
    shape = [len(rows), len(rows[0])]
    checksum = sum(float(np.abs(row).sum()) for row in rows) * scale
    return {
        "import_s": t_import,
        "wall_s": wall,
        "base_mb": base,
        "peak_mb": peak_rss_mb(),
        "shape": shape,
        "checksum": checksum,
    }


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="24h", help="Recording length, e.g. 24h, 1h, 10min (default 24h).")
    parser.add_argument("--workdir", default=None, help="Directory caching the simulated EDF (default: a temporary one).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readers", default=",".join(READERS), help="Comma-separated subset of: " + ", ".join(READERS))
    parser.add_argument("--modes", default=",".join(MODES), help="Comma-separated subset of: full, page")
    args = parser.parse_args(argv)

    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for r in readers:
        if r not in READERS:
            parser.error(f"unknown reader {r!r}")
    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode {m!r}")

    with workdir(args.workdir) as folder:
        from dbrain.simulate import parse_duration

        seconds = parse_duration(args.duration)
        path = folder / f"sim_{int(seconds)}s_seed{args.seed}.edf"
        sim = None
        if not path.exists():
            print(f"simulating {args.duration} -> {path} ...", file=sys.stderr, flush=True)
            sim = run_worker(__file__, ["--_simulate", str(path), args.duration, str(args.seed)])
        size_mb = path.stat().st_size / 2**20

        results = {}
        for mode in modes:
            for reader in readers:
                print(f"reading: {reader} ({mode}) ...", file=sys.stderr, flush=True)
                results[reader, mode] = run_worker(__file__, ["--_read", reader, mode, str(path)])

        hours = seconds / 3600
        print(f"\n### Reading a {hours:g} h, 20-channel, 256 Hz EDF+ ({size_mb:.0f} MB)\n")
        print(f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s). ")
        print("Wall time excludes interpreter start and imports; peak RSS is the whole process.\n")
        rows = []
        for mode in modes:
            ref = results.get(("dbrain", mode))
            for reader in readers:
                res = results[reader, mode]
                time_ratio = f"{res['wall_s'] / ref['wall_s']:.2f}x" if ref else "n/a"
                rss_ratio = f"{res['peak_mb'] / ref['peak_mb']:.2f}x" if ref else "n/a"
                what = "all samples" if mode == "full" else f"{PAGE_SECONDS:g} s page at {_clock(_page_start(seconds))}"
                rows.append(
                    [
                        reader,
                        what,
                        f"{res['wall_s']:.3f}",
                        f"{res['peak_mb']:.0f}",
                        f"{res['peak_mb'] - res['base_mb']:.0f}",
                        time_ratio,
                        rss_ratio,
                    ]
                )
        print(
            markdown_table(
                rows, ["reader", "read", "wall (s)", "peak RSS (MB)", "RSS over imports (MB)", "time vs dbrain", "RSS vs dbrain"]
            )
        )
        checks = {}
        for (reader, mode), res in results.items():
            checks.setdefault(mode, {})[reader] = res["checksum"]
        for mode, sums in checks.items():
            values = list(sums.values())
            if max(values) - min(values) > 1e-6 * max(abs(v) for v in values) + 1:
                print(f"\nWARNING: readers disagree on the {mode} data: {sums}")
        if sim is not None:
            print(f"\nSimulating the file (`dbrain simulate --duration {args.duration} --seizures 3 --spikes 50 --artifacts`):")
            print(f"{sim['wall_s']:.1f} s, peak RSS {sim['peak_mb']:.0f} MB.")
        else:
            print(f"\n(Simulated file reused from {path}; delete it to time the simulator.)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_simulate":
        print(json.dumps(_worker_simulate(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--_read":
        print(json.dumps(_worker_read(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        sys.exit(main())
