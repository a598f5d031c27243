#!/usr/bin/env python
"""Seizure-detection benchmark: speed, memory and the 24 h simulated sanity bar.

Usage::

    python benchmarks/bench_seizures.py                      # 24 h, 10 seizures, temporary directory
    python benchmarks/bench_seizures.py --duration 2h --seizures 2     # quick run
    python benchmarks/bench_seizures.py --workdir ~/.cache/dbrain-bench   # keep the EDF between runs

Simulates (once per work directory) a 19-channel 10-20 EEG plus EKG at 256 Hz
with ``--seizures`` seizures, spikes and artifacts, seed 2026 — a seed used
nowhere in training or preset tuning — then in fresh subprocesses:

* ``dbrain`` — ``read_recording`` (lazy) + ``SeizureDetector().run(raw)``
  with the shipped model: features, model, post-processing, events; the
  events are scored against the ground truth with SzCORE's event rules
  (:func:`dbrain.evaluate.score_events`) at each sensitivity preset;
* ``mne`` — a peer for the feature pass: ``make_fixed_length_epochs`` (2 s,
  1 s overlap, preloaded) of the 18 double-banana channels +
  ``Epochs.compute_psd(method="welch")`` + relative band powers, on the first
  ``--mne-hours`` hours, extrapolated linearly (said so in the table).

Each subprocess reports its wall time (imports excluded) and its peak
resident memory. Targets: 24 h in ≤ 30 s on 2 cores, ≤ 1 GB; event
sensitivity ≥ 0.9 at ≤ 2 false positives per 24 h (medium preset).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from _common import markdown_table, peak_rss_mb, run_worker, simulate_edf, workdir

SEED = 2026


def _worker_dbrain(path: str, n_jobs: int) -> dict:
    t0 = time.perf_counter()
    from dbrain.detect import PRESETS, SeizureDetector
    from dbrain.detect._postprocess import events_from_probability
    from dbrain.evaluate import score_events
    from dbrain.events import make_events, read_events
    from dbrain.io import read_recording
    from dbrain.simulate import events_path_for

    t_import = time.perf_counter() - t0
    base = peak_rss_mb()
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    det = SeizureDetector(n_jobs=n_jobs)
    result = det.run(raw)
    wall = time.perf_counter() - t0
    peak = peak_rss_mb()
    duration = raw.n_times / raw.info["sfreq"]
    truth = read_events(events_path_for(path))
    truth = truth[truth["eventType"] == "sz"]
    scores = {}
    _, meta = det._booster()
    for name in PRESETS:
        on, off = meta["presets"][name]
        runs, _ = events_from_probability(
            result.probability, on=on, off=off, smoothing=det.smoothing, merge_gap=det.merge_gap, min_duration=det.min_duration
        )
        hyp = make_events([float(a) for a, _ in runs], [float(b - a) for a, b in runs], "sz")
        s = score_events(truth, hyp, duration)
        scores[name] = {k: float(s[k]) for k in ("n_ref", "tp", "fp", "sensitivity", "fp_per_24h")}
    lat = result.events["lateralisation"].value_counts().to_dict()
    return {
        "import_s": t_import,
        "wall_s": wall,
        "base_mb": base,
        "peak_mb": peak,
        "hours": duration / 3600,
        "channels": len(result.channels),
        "n_events": int(len(result.events)),
        "lateralisation": lat,
        "scores": scores,
    }


def _worker_mne(path: str, hours: float) -> dict:
    t0 = time.perf_counter()
    import mne
    import numpy as np

    from dbrain.io import read_recording
    from dbrain.montages import apply_montage

    t_import = time.perf_counter() - t0
    base = peak_rss_mb()
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    total_h = raw.n_times / raw.info["sfreq"] / 3600
    hours = min(hours, total_h)
    raw.crop(0, hours * 3600 - 1 / raw.info["sfreq"])
    derived, _ = apply_montage(raw, "double-banana")
    derived.load_data()
    epochs = mne.make_fixed_length_epochs(derived, duration=2.0, overlap=1.0, preload=True, verbose="error")
    psd = epochs.compute_psd(method="welch", fmin=1.0, fmax=30.0, n_fft=512, n_per_seg=512, window="hann", verbose="error")
    p, f = psd.get_data(), psd.freqs
    bands = [(1, 3), (3, 8), (8, 13), (13, 30)]
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
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="24h")
    parser.add_argument("--seizures", type=int, default=10)
    parser.add_argument("--workdir", default=None, help="Directory caching the simulated EDF (default: a temporary one).")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--mne-hours", type=float, default=1.0, help="Hours computed by the MNE peer (extrapolated).")
    args = parser.parse_args(argv)

    with workdir(args.workdir) as folder:
        from dbrain.simulate import parse_duration

        seconds = parse_duration(args.duration)
        path = folder / f"sim_{int(seconds)}s_{args.seizures}sz_seed{SEED}.edf"
        if not path.exists():
            print(f"simulating {args.duration} with {args.seizures} seizures -> {path} ...", file=sys.stderr, flush=True)
            simulate_edf(path, args.duration, seed=SEED, seizures=args.seizures)
        print("dbrain SeizureDetector ...", file=sys.stderr, flush=True)
        d = run_worker(__file__, ["--_dbrain", str(path), str(args.n_jobs)])
        print("mne per-epoch feature peer ...", file=sys.stderr, flush=True)
        m = run_worker(__file__, ["--_mne", str(path), str(args.mne_hours)])
        mne_full = m["wall_s"] * m["total_hours"] / m["hours"]
        print(f"\n### Seizure detection on a {d['hours']:g} h, 19-channel, 256 Hz EDF+ ({path.stat().st_size / 2**20:.0f} MB)\n")
        print(
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), n_jobs={args.n_jobs}. "
        )
        print("Wall time excludes interpreter start and imports; peak RSS is the whole process.\n")
        rows = [
            [
                "dbrain `SeizureDetector().run` (read, features, model, events)",
                f"{d['hours']:g} h",
                f"{d['wall_s']:.1f}",
                f"{d['peak_mb']:.0f}",
                f"{d['hours'] * 3600 / d['wall_s']:,.0f}x",
                "1.00x",
            ],
            [
                f"mne per-epoch Welch band powers, {m['hours']:g} h measured",
                f"{m['hours']:g} h",
                f"{m['wall_s']:.1f}",
                f"{m['peak_mb']:.0f}",
                "",
                "",
            ],
            [
                "mne, extrapolated to the whole recording",
                f"{m['total_hours']:g} h",
                f"{mne_full:.1f}",
                "(grows with length)",
                "",
                f"{mne_full / d['wall_s']:.1f}x",
            ],
        ]
        print(markdown_table(rows, ["method", "span", "wall (s)", "peak RSS (MB)", "real time", "time vs dbrain"]))
        print(
            f"\nEvents scored against the ground truth (SzCORE event scoring), {d['n_events']} detected at medium, lateralisation {d['lateralisation']}:\n"
        )
        srows = [
            [name, int(s["n_ref"]), int(s["tp"]), int(s["fp"]), f"{s['sensitivity']:.2f}", f"{s['fp_per_24h']:.2f}"]
            for name, s in d["scores"].items()
        ]
        print(markdown_table(srows, ["preset", "seizures", "detected", "false positives", "sensitivity", "FP per 24 h"]))
        med = d["scores"]["medium"]
        ok = med["sensitivity"] >= 0.9 and med["fp_per_24h"] <= 2 and d["wall_s"] <= 30 and d["peak_mb"] <= 1024
        print(f"\nTargets (24 h): ≤ 30 s, ≤ 1024 MB, sensitivity ≥ 0.9 at ≤ 2 FP/24 h (medium): {'met' if ok else 'NOT met'}.")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_dbrain":
        print(json.dumps(_worker_dbrain(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--_mne":
        print(json.dumps(_worker_mne(sys.argv[2], float(sys.argv[3]))))
    else:
        sys.exit(main())
