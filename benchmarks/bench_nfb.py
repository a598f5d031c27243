#!/usr/bin/env python
"""Neurofeedback processing latency: chunk arrival → feedback value, per built-in protocol.

Usage::

    python benchmarks/bench_nfb.py                   # 60 s of each protocol at real time (~4.5 min)
    python benchmarks/bench_nfb.py --seconds 20      # quick run
    python benchmarks/bench_nfb.py --lsl             # also theta-beta received over LSL (mne-lsl player, loopback)

Each session is ``dbrain.nfb.run_session`` on the ``synthetic`` source (19 EEG channels, 256 Hz, blinks and
muscle artifacts) replayed at real time in chunks of 1/32 s (8 samples), as an amplifier sends them. The
latency of a feedback value is ``time.perf_counter()`` when the value is ready minus the due time of the
chunk that completed its window (the chunk's arrival): it holds the engine's push, the step's Welch
spectra, inhibits, electrode quality, threshold, and any oversleep of the replay thread. With ``--lsl`` the
arrival is when mne-lsl's acquisition thread hands the chunk over (the transport before it is not counted).
The per-update compute (time in the step's ``update`` per update) and the machine's load average are
printed beside the figures; numbers taken on a loaded machine are not the target's.

Prints one Markdown table (target: p95 ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table  # noqa: E402


def _row(label: str, summary: dict) -> list:
    n = summary["n_updates"]
    per_update = summary["engine_seconds"]["nfb"] / max(n, 1) * 1e3
    return [
        label,
        summary["reward_channel"],
        n,
        f"{summary['latency_ms_p50']:.2f}",
        f"{summary['latency_ms_p95']:.2f}",
        f"{summary['latency_ms_max']:.1f}",
        f"{per_update:.2f}",
        f"{summary['reward_fraction']:.3f}",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="Seconds of each session (default 60).")
    parser.add_argument("--speed", type=float, default=1.0, help="Replay speed (default 1 = real time).")
    parser.add_argument("--protocols", default="theta-beta,smr,alpha,scp")
    parser.add_argument("--lsl", action="store_true", help="Also run theta-beta from an LSL stream (mne-lsl player).")
    args = parser.parse_args(argv)

    from dbrain.nfb import run_session

    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dbrain-bench-nfb-") as tmp:
        for name in args.protocols.split(","):
            s = run_session(
                name, "synthetic", minutes=args.seconds / 60, speed=args.speed, out_dir=Path(tmp) / name, record=False
            )
            rows.append(_row(f"{name} (synthetic, {args.speed:g}x)", s.summary))
        if args.lsl:
            from mne_lsl.player import PlayerLSL

            from dbrain.simulate import simulate_eeg

            raw, _ = simulate_eeg(max(60.0, args.seconds + 10), seed=1, ekg=False, artifacts=True)
            stream = f"dbrain-bench-{uuid.uuid4().hex[:8]}"
            player = PlayerLSL(raw, chunk_size=8, name=stream).start()
            try:
                time.sleep(0.5)
                s = run_session("theta-beta", f"lsl:{stream}", minutes=args.seconds / 60, out_dir=Path(tmp) / "lsl", record=False)
            finally:
                player.stop()
            rows.append(_row("theta-beta (LSL loopback)", s.summary))
    load_after = os.getloadavg()
    header = ["protocol (source)", "electrode", "updates", "p50 ms", "p95 ms", "max ms", "compute ms/update", "reward fraction"]
    print(markdown_table(rows, header))
    print()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.seconds:g} s per session; load average before {load_before[0]:.1f}, after {load_after[0]:.1f}"
    )
    worst = max(float(r[4]) for r in rows)
    print(f"target p95 <= 50 ms: {'met' if worst <= 50 else 'NOT met'} (worst p95 {worst:.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
