"""How many 19-channel 256 Hz beds one machine monitors in real time, and the memory per bed (#21).

For each number of beds N, a fresh worker process starts ``--procs`` processes (one per core);
each hosts its share of the beds, each bed a full :class:`dbrain.monitor.Monitor` (the engine's
seizure step, live trends, signal checks, alarms, ``alarms.tsv`` and ``recording.edf`` written to a
temporary folder, frames built as for posting). Every bed first receives ``--warmup`` seconds at full
speed (so the seizure stream's pending windows reach their bound, ~10 min), then a simulated
recording (dbrain.simulate, 19 EEG + EKG, 256 Hz, artifacts; each bed at its own offset) is
delivered in real time for ``--seconds``: every 0.1 s each bed gets the samples due by then. The
*alarm latency* of an evaluation is the wall time from when its last sample was due to when the
alarms over it were decided; a machine keeps N beds when the p95 latency is at most 1 s (and the
last evaluations are not behind). Memory per bed: (resident memory of the processes after the run
- their resident memory once set up without beds: imports, model, the simulated recording) / N.

Usage (rerun on a quiet machine; prints a table and a JSON line)::

    python benchmarks/bench_monitor.py --beds 8,16,32,48 [--procs 2] [--seconds 60] [--warmup 660]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _rss_mb() -> float:
    with open("/proc/self/status") as fid:
        for line in fid:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024
    return float("nan")


def _host(n_beds: int, first: int, seconds: float, warmup: float, go, start, out: str, queue) -> None:
    """One process: ``n_beds`` monitors fed in real time from ``start`` (perf_counter: CLOCK_MONOTONIC, shared)."""
    from dbrain.monitor import Monitor, stream_info
    from dbrain.simulate import simulate_eeg

    raw, _ = simulate_eeg(max(240.0, warmup + seconds + 70), seizures=1, artifacts=True, seed=7)
    x = raw.get_data()
    sf = raw.info["sfreq"]
    info = stream_info(raw.ch_names, raw.get_channel_types(), sf)
    rss0 = _rss_mb()
    beds = []
    for b in range(n_beds):
        mon = Monitor(info, Path(out) / f"bed{first + b}", name=f"bed{first + b}", on_frame=lambda f: None)
        offset = int(((first + b) * 37.3 % 60) * sf)  # each bed its own stretch of the recording
        n_warm = int(warmup * sf)
        for s in range(0, n_warm, int(10 * sf)):
            mon.push(x[:, offset + s : offset + min(n_warm, s + int(10 * sf))])
        mon.latency.clear()
        beds.append([mon, offset, n_warm])
    queue.put("ready")
    go.wait()
    start_at = start.value
    while time.perf_counter() < start_at:
        time.sleep(0.01)
    for b, bed in enumerate(beds):
        stagger = b / max(1, n_beds)  # beds are not in phase: their seconds complete at different times
        bed.append(start_at + stagger)
        bed[0].data_clock = lambda t, t0=start_at + stagger, w=warmup: t0 + (t - w)
    end = start_at + seconds + 1.0
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        for mon, offset, n_warm, t0 in beds:
            due = n_warm + int(max(0.0, now - t0) * sf)
            have = mon.n_times
            if due > have:
                mon.push(x[:, offset + have : offset + due])
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - now)))
    lat = [v for mon, *_ in beds for v in mon.latency]
    tail = [v for mon, *_ in beds for v in mon.latency[-3:]]
    rss = _rss_mb()
    for mon, *_ in beds:
        mon.close()
    queue.put({"latency": lat, "tail": tail, "rss": rss, "rss0": rss0})


def measure(n_beds: int, procs: int, seconds: float, warmup: float) -> dict:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory(prefix="dbrain-bench-monitor-") as out:
        go, start = ctx.Event(), ctx.Value("d", 0.0)
        shares = [n_beds // procs + (1 if i < n_beds % procs else 0) for i in range(procs)]
        firsts = np.cumsum([0, *shares[:-1]])
        ps = [
            ctx.Process(target=_host, args=(shares[i], int(firsts[i]), seconds, warmup, go, start, out, queue))
            for i in range(procs)
        ]
        for p in ps:
            p.start()
        for _ in ps:  # set-up (imports, the warm-up) done everywhere: the real-time phase starts for all at once
            assert queue.get() == "ready"
        start.value = time.perf_counter() + 0.5
        go.set()
        res = [queue.get() for _ in ps]
        for p in ps:
            p.join()
    lat = np.concatenate([r["latency"] for r in res]) if n_beds else np.zeros(0)
    tail = np.concatenate([r["tail"] for r in res]) if n_beds else np.zeros(0)
    rss = sum(r["rss"] for r in res)
    rss0 = sum(r["rss0"] for r in res)
    return {
        "beds": n_beds,
        "procs": procs,
        "evaluations": int(lat.size),
        "latency_p50_s": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
        "latency_p95_s": round(float(np.percentile(lat, 95)), 3) if lat.size else None,
        "latency_max_s": round(float(lat.max()), 3) if lat.size else None,
        "latency_last_s": round(float(tail.max()), 3) if tail.size else None,
        "rss_total_mb": round(rss, 1),
        "rss_per_bed_mb": round((rss - rss0) / n_beds, 1) if n_beds else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beds", default="8,16,32,48", help="comma-separated numbers of beds")
    ap.add_argument("--procs", type=int, default=2, help="processes (one per core)")
    ap.add_argument("--seconds", type=float, default=60.0, help="real-time seconds measured per size")
    ap.add_argument("--warmup", type=float, default=660.0, help="seconds pushed at full speed first (steady state)")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'beds':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'last s':>7} {'MB/bed':>7} {'MB all':>7}  real time")
    for n in [int(v) for v in args.beds.split(",") if int(v) > 0]:
        r = measure(n, min(args.procs, max(1, n)), args.seconds, args.warmup)
        r["real_time"] = bool(r["latency_p95_s"] is not None and r["latency_p95_s"] <= 1.0 and r["latency_last_s"] <= 1.0)
        rows.append(r)
        cells = [r[k] if r[k] is not None else "-" for k in ("latency_p50_s", "latency_p95_s", "latency_max_s", "latency_last_s")]
        cells += [r["rss_per_bed_mb"] if r["rss_per_bed_mb"] is not None else "-", r["rss_total_mb"]]
        print(f"{n:>5} " + " ".join(f"{c:>7}" for c in cells) + f"  {'yes' if r['real_time'] else 'NO'}", flush=True)
    kept = [r["beds"] for r in rows if r["real_time"]]
    print(json.dumps({"max_beds_real_time": max(kept) if kept else 0, "runs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
