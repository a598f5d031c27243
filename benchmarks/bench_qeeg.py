#!/usr/bin/env python
"""qEEG benchmark: ``dbrain.qeeg.compute_qeeg`` on a long simulated EDF, against per-epoch MNE.

Usage::

    python benchmarks/bench_qeeg.py                      # 24 h, temporary directory
    python benchmarks/bench_qeeg.py --duration 1h        # quick run
    python benchmarks/bench_qeeg.py --workdir ~/.cache/dbrain-bench   # keep the EDF between runs

The script simulates (once per work directory, same file name as
``bench_io.py``) a 19-channel 10-20 EEG plus EKG at 256 Hz, then in fresh
subprocesses:

* ``dbrain`` — ``read_recording`` (lazy) + ``compute_qeeg(raw, n_jobs=2)`` +
  ``compute_heart_rate(raw)``: everything the ``qeeg`` analysis step computes —
  spectrogram per channel and region, asymmetry, band powers, TAR, PAF,
  SEF90, rhythmicity, suppression ratio, burst suppression, aEEG, hourly
  specparam aperiodic fits, artifact strength and its dominant type per
  epoch and channel, R peaks, heart-rate trend and rhythm events;
* ``mne`` — the straightforward per-epoch way: ``make_fixed_length_epochs``
  (2 s, 1 s overlap, preloaded) + ``Epochs.compute_psd(method="welch")`` +
  band powers, i.e. the spectral part only, on the first ``--mne-hours``
  hours (default 1), extrapolated linearly to the whole recording (said so in
  the table).

Each subprocess reports its wall time (imports excluded) and its peak
resident memory (``getrusage(RUSAGE_SELF).ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from _common import markdown_table, peak_rss_mb, run_worker, simulate_edf, workdir


def _worker_dbrain(path: str, n_jobs: int) -> dict:
    t0 = time.perf_counter()
    from dbrain.ecg import compute_heart_rate
    from dbrain.io import read_recording
    from dbrain.qeeg import compute_qeeg

    t_import = time.perf_counter() - t0
    base = peak_rss_mb()
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    res = compute_qeeg(raw, n_jobs=n_jobs)
    t_qeeg = time.perf_counter() - t0
    beats, _ = compute_heart_rate(raw)
    wall = time.perf_counter() - t0
    peak = peak_rss_mb()
    t1 = time.perf_counter()
    frame = res.to_frame(resolution=60.0)
    return {
        "import_s": t_import,
        "wall_s": wall,
        "qeeg_s": t_qeeg,
        "beats": len(beats),
        "base_mb": base,
        "peak_mb": peak,
        "peak_frame_mb": peak_rss_mb(),
        "hours": raw.n_times / raw.info["sfreq"] / 3600,
        "epochs": int(res.times.size),
        "frame_rows": len(frame),
        "frame_s": time.perf_counter() - t1,
        "frame_mb": float(frame.memory_usage(deep=True).sum() / 2**20),
    }


def _worker_mne(path: str, hours: float) -> dict:
    t0 = time.perf_counter()
    import mne
    import numpy as np

    from dbrain.io import read_recording

    t_import = time.perf_counter() - t0
    base = peak_rss_mb()
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    total_h = raw.n_times / raw.info["sfreq"] / 3600
    hours = min(hours, total_h)
    raw.crop(0, hours * 3600 - 1 / raw.info["sfreq"]).pick("eeg").load_data()
    epochs = mne.make_fixed_length_epochs(raw, duration=2.0, overlap=1.0, preload=True, verbose="error")
    psd = epochs.compute_psd(method="welch", fmin=0.5, fmax=45.0, n_fft=512, n_per_seg=512, window="hann", verbose="error")
    p, f = psd.get_data(), psd.freqs
    bands = [(0.5, 4), (4, 8), (8, 13), (13, 30), (30, 45)]
    absolute = np.stack([p[..., (f >= lo) & (f < hi)].sum(-1) for lo, hi in bands], -1)
    _ = absolute / absolute.sum(-1, keepdims=True)
    wall = time.perf_counter() - t0
    return {
        "import_s": t_import,
        "wall_s": wall,
        "base_mb": base,
        "peak_mb": peak_rss_mb(),
        "hours": hours,
        "total_hours": total_h,
        "epochs": len(epochs),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="24h")
    parser.add_argument("--workdir", default=None, help="Directory caching the simulated EDF (default: a temporary one).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--mne-hours", type=float, default=1.0, help="Hours computed by the MNE baseline (extrapolated).")
    args = parser.parse_args(argv)

    with workdir(args.workdir) as folder:
        from dbrain.simulate import parse_duration

        seconds = parse_duration(args.duration)
        path = folder / f"sim_{int(seconds)}s_seed{args.seed}.edf"
        if not path.exists():
            print(f"simulating {args.duration} -> {path} ...", file=sys.stderr, flush=True)
            simulate_edf(path, args.duration, seed=args.seed)
        print("dbrain compute_qeeg ...", file=sys.stderr, flush=True)
        d = run_worker(__file__, ["--_dbrain", str(path), str(args.n_jobs)])
        print("mne per-epoch baseline ...", file=sys.stderr, flush=True)
        m = run_worker(__file__, ["--_mne", str(path), str(args.mne_hours)])
        scale = m["total_hours"] / m["hours"]
        mne_full = m["wall_s"] * scale
        print(f"\n### qEEG on a {d['hours']:g} h, 19-channel, 256 Hz EDF+ ({path.stat().st_size / 2**20:.0f} MB)\n")
        print(
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), n_jobs={args.n_jobs}. "
        )
        print("Wall time excludes interpreter start and imports; peak RSS is the whole process.\n")
        rows = [
            [
                "dbrain `compute_qeeg` + `compute_heart_rate` (all measures)",
                f"{d['hours']:g} h",
                f"{d['wall_s']:.1f}",
                f"{d['peak_mb']:.0f}",
                "1.00x",
            ],
            [
                f"mne per-epoch `compute_psd` (band powers only), {m['hours']:g} h measured",
                f"{m['hours']:g} h",
                f"{m['wall_s']:.1f}",
                f"{m['peak_mb']:.0f}",
                "",
            ],
            [
                "mne, extrapolated to the whole recording",
                f"{m['total_hours']:g} h",
                f"{mne_full:.1f}",
                "(grows with length)",
                f"{mne_full / d['wall_s']:.1f}x",
            ],
        ]
        print(markdown_table(rows, ["method", "span", "wall (s)", "peak RSS (MB)", "time vs dbrain"]))
        print(
            f"\nOf the dbrain time, `compute_qeeg` took {d['qeeg_s']:.1f} s and the heart rate "
            f"({d['beats']:,} beats) {d['wall_s'] - d['qeeg_s']:.1f} s."
        )
        print(
            f"\nTidy table (`to_frame(resolution=60)`, what `qeeg.parquet` holds): {d['frame_rows']:,} rows, "
            f"{d['frame_mb']:.0f} MB in memory, built in {d['frame_s']:.1f} s (peak RSS after it {d['peak_frame_mb']:.0f} MB). Target: ≤ 20 s and ≤ 1024 MB for 24 h."
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_dbrain":
        print(json.dumps(_worker_dbrain(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--_mne":
        print(json.dumps(_worker_mne(sys.argv[2], float(sys.argv[3]))))
    else:
        sys.exit(main())
