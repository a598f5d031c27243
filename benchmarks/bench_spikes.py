#!/usr/bin/env python
"""Spike and pattern benchmark: speed and memory of the ``spikes`` and ``patterns`` steps' detectors.

Usage::

    python benchmarks/bench_spikes.py                        # 24 h, temporary directory
    python benchmarks/bench_spikes.py --duration 1h          # quick run
    python benchmarks/bench_spikes.py --workdir ~/.cache/dbrain-bench   # keep the EDF between runs

Simulates (once per work directory) a 19-channel 10-20 EEG plus EKG at 256 Hz
with 3 seizures, 40 spikes per hour and artifacts (blinks, muscle, pops, line
noise), seed 2026 — used nowhere in tuning — then, each in a fresh subprocess:

* ``spikes`` — ``read_recording`` (lazy) + ``SpikeDetector("medium").fit().detect(raw)``,
  exactly what the ``spikes`` step runs before its review and figures; the
  detections are matched to the simulated spikes (peaks within 50 ms) as a
  sanity check;
* ``patterns`` — ``read_recording`` (lazy) + ``classify_patterns(raw)``, what the
  ``patterns`` step runs; its events are counted (the simulation has no
  periodic or rhythmic pattern);
* ``peer`` — the same candidate search done the plain per-channel way with
  MNE and SciPy: the whole recording preloaded, ``Raw.filter(1, 40)`` (MNE's
  default FIR, zero phase), common average, then per channel
  ``scipy.signal.find_peaks`` on the negated signal with the detector's
  prominence (4 SDs of the channel), 20–200 ms width and 0.3 s window — only
  candidates, no sharpness, field, bipolar check or confidence — on the first
  ``--peer-hours`` hours (default 2), extrapolated linearly (said so in the table).

Each subprocess reports its wall time (imports excluded) and its peak resident
memory. The filters use up to ``min(4, CPUs)`` threads (``DBRAIN_FILTER_THREADS``
overrides; the results do not depend on it). Target (issue #5): each ≥ 1,000×
real time on 19 channels; goal ≥ 2,000× on a 2-core machine.
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
SPIKES_PER_HOUR = 40


def _worker_spikes(path: str) -> dict:
    t0 = time.perf_counter()
    import numpy as np

    from dbrain.detect._filter import n_threads
    from dbrain.detect.spikes import SpikeDetector
    from dbrain.events import read_events
    from dbrain.io import read_recording
    from dbrain.simulate import SPIKE_PEAK_LATENCY, events_path_for

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    det = SpikeDetector("medium").fit()
    spikes = det.detect(raw)
    wall = time.perf_counter() - t0
    sfreq = raw.info["sfreq"]
    truth = read_events(events_path_for(path))
    truth = truth[truth["eventType"] == "spike"]
    true_peak = (np.round(truth["onset"].to_numpy() * sfreq) + round(SPIKE_PEAK_LATENCY * sfreq)) / sfreq
    peaks = np.sort(spikes["peak_time"].to_numpy())
    # Nearest detection of each true spike (spikes are > 1 s apart, so nearest-neighbour matching is one-to-one).
    pos = np.clip(np.searchsorted(peaks, true_peak), 1, max(1, peaks.size - 1)) if peaks.size else np.zeros(0, int)
    hit = 0
    if peaks.size:
        near = np.minimum(np.abs(peaks[pos - 1] - true_peak), np.abs(peaks[np.minimum(pos, peaks.size - 1)] - true_peak))
        hit = int((near <= 0.05).sum())
    return {
        "import_s": t_import,
        "wall_s": wall,
        "peak_mb": peak_rss_mb(),
        "hours": raw.n_times / sfreq / 3600,
        "channels": det.n_channels_in_,
        "threads": n_threads(),
        "n_detections": int(len(spikes)),
        "n_true": int(true_peak.size),
        "hits": hit,
    }


def _worker_patterns(path: str) -> dict:
    t0 = time.perf_counter()
    from dbrain.detect._filter import n_threads
    from dbrain.detect.patterns import classify_patterns
    from dbrain.io import read_recording

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    res = classify_patterns(raw)
    wall = time.perf_counter() - t0
    return {
        "import_s": t_import,
        "wall_s": wall,
        "peak_mb": peak_rss_mb(),
        "hours": raw.n_times / raw.info["sfreq"] / 3600,
        "threads": n_threads(),
        "n_windows": int(len(res.windows)),
        "labels": {k: int(v) for k, v in res.windows["label"].value_counts().items()},
        "events": {k: int(v) for k, v in res.events["eventType"].value_counts().items()},
    }


def _worker_peer(path: str, hours: float) -> dict:
    t0 = time.perf_counter()
    import mne
    from scipy import signal

    from dbrain.io import read_recording

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw, _ = read_recording(path)
    sfreq = raw.info["sfreq"]
    total_h = raw.n_times / sfreq / 3600
    hours = min(hours, total_h)
    raw.crop(0, hours * 3600 - 1 / sfreq)
    raw.pick("eeg").load_data(verbose="error")
    raw.filter(1.0, 40.0, verbose="error")
    raw.set_eeg_reference("average", verbose="error")
    x = raw.get_data() * 1e6
    n = 0
    for row in x:
        peaks, _ = signal.find_peaks(
            -row, prominence=4.0 * row.std(), width=(0.004 * sfreq, 0.100 * sfreq), wlen=int(0.3 * sfreq) | 1, rel_height=0.5
        )
        n += peaks.size
    del mne
    return {
        "import_s": t_import,
        "wall_s": time.perf_counter() - t0,
        "peak_mb": peak_rss_mb(),
        "hours": hours,
        "total_hours": total_h,
        "channels": int(x.shape[0]),
        "candidates": int(n),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="24h")
    parser.add_argument("--workdir", default=None, help="Directory caching the simulated EDF (default: a temporary one).")
    parser.add_argument("--peer-hours", type=float, default=2.0, help="Hours computed by the MNE/SciPy peer (extrapolated).")
    args = parser.parse_args(argv)

    with workdir(args.workdir) as folder:
        from dbrain.simulate import parse_duration

        seconds = parse_duration(args.duration)
        spikes = max(10, round(SPIKES_PER_HOUR * seconds / 3600))
        path = folder / f"spikes_sim_{int(seconds)}s_{spikes}sp_seed{SEED}.edf"
        if not path.exists():
            print(f"simulating {args.duration} with {spikes} spikes -> {path} ...", file=sys.stderr, flush=True)
            simulate_edf(path, args.duration, seed=SEED, spikes=spikes)
        print("dbrain SpikeDetector ...", file=sys.stderr, flush=True)
        s = run_worker(__file__, ["--_spikes", str(path)])
        print("dbrain classify_patterns ...", file=sys.stderr, flush=True)
        p = run_worker(__file__, ["--_patterns", str(path)])
        print("MNE/SciPy per-channel candidate search ...", file=sys.stderr, flush=True)
        m = run_worker(__file__, ["--_peer", str(path), str(args.peer_hours)])
        peer_full = m["wall_s"] * m["total_hours"] / m["hours"]
        rt = lambda r: f"{r['hours'] * 3600 / r['wall_s']:,.0f}x"  # noqa: E731
        print(
            f"\n### Spikes and patterns on a {s['hours']:g} h, {s['channels']}-channel, 256 Hz EDF+ ({path.stat().st_size / 2**20:.0f} MB)\n"
        )
        print(
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), filter threads {s['threads']}."
        )
        print("Wall time excludes interpreter start and imports; peak RSS is the whole process.\n")
        rows = [
            ["dbrain `SpikeDetector().detect` (read, filter, candidates, evidence, confidence)", f"{s['hours']:g} h",
             f"{s['wall_s']:.1f}", f"{s['peak_mb']:.0f}", rt(s), "1.00x"],
            ["dbrain `classify_patterns` (read, filter, 10 s window features, rules, events)", f"{p['hours']:g} h",
             f"{p['wall_s']:.1f}", f"{p['peak_mb']:.0f}", rt(p), f"{p['wall_s'] / s['wall_s']:.2f}x"],
            [f"MNE filter + SciPy find_peaks per channel (candidates only), {m['hours']:g} h measured", f"{m['hours']:g} h",
             f"{m['wall_s']:.1f}", f"{m['peak_mb']:.0f}", rt(m), ""],
            ["MNE/SciPy peer, extrapolated to the whole recording", f"{m['total_hours']:g} h", f"{peer_full:.1f}",
             "(preloads: grows with length)", f"{m['total_hours'] * 3600 / peer_full:,.0f}x", f"{peer_full / s['wall_s']:.2f}x"],
        ]  # fmt: skip
        print(markdown_table(rows, ["method", "span", "wall (s)", "peak RSS (MB)", "real time", "time vs SpikeDetector"]))
        print(
            f"\nSanity: {s['n_detections']} spike detections at medium, {s['hits']} of {s['n_true']} simulated spikes found "
            f"(peak within 50 ms); peer candidates (before any rule) {m['candidates']} in {m['hours']:g} h. "
            f"Patterns: {p['n_windows']} windows {p['labels']}, events {p['events'] or 'none'}."
        )
        ok = all(r["hours"] * 3600 / r["wall_s"] >= 1000 for r in (s, p))
        goal = all(r["hours"] * 3600 / r["wall_s"] >= 2000 for r in (s, p))
        print(
            f"\nTarget ≥ 1,000x real time for each: {'met' if ok else 'NOT met'}; goal ≥ 2,000x: {'met' if goal else 'not met'}."
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_spikes":
        print(json.dumps(_worker_spikes(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--_patterns":
        print(json.dumps(_worker_patterns(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--_peer":
        print(json.dumps(_worker_peer(sys.argv[2], float(sys.argv[3]))))
    else:
        sys.exit(main())
