#!/usr/bin/env python
"""The spikes step's detector with and without the second stage, on the same long recording, same run.

    nice -n 10 python benchmarks/bench_spikes_stage2.py --baseline DIR [--previous DIR] [--duration 24h] [--workdir DIR]
    python benchmarks/bench_spikes_stage2.py --previous /work/main --edf analyze-24h.edf --repeats 2


``DIR`` is a source tree of dbrain before the second stage (e.g. ``git archive 84e27fb | tar -x -C DIR``).
Both run ``bench_spikes.py --_spikes EDF`` of their own tree (``read_recording`` lazy +
``SpikeDetector("medium").fit().detect``) in fresh processes, alternately, ``--repeats`` times each, on the
simulated 19-channel 256 Hz EDF+ of ``bench_spikes.py`` (seed 2026, 40 spikes per hour). Wall time
excludes imports; CPU is the whole worker process's (imports included). Prints the table and the load
average (wall times on a shared machine vary; compare the CPU column there). ``--edf`` times an existing
EDF instead (it needs the ``X_events.tsv`` of ``dbrain.simulate`` beside it for the spikes found); without
``--baseline`` only ``--previous`` and this tree are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from _common import markdown_table, simulate_edf, workdir

HERE = Path(__file__).resolve().parent


def _run(tree: Path, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(tree / "benchmarks" / "bench_spikes.py"), "--_spikes", str(path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=tree / "benchmarks")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())
    # CPU seconds of the whole worker (imports included, the same for every tree): on a shared machine
    # the wall time follows the other jobs, the CPU time much less.
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "cpu_s": cpu}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="dbrain source tree before the second stage")
    parser.add_argument(
        "--edf", type=Path, default=None, help="an existing simulated EDF (with its _events.tsv) instead of simulating"
    )
    parser.add_argument("--duration", default="24h")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--previous", type=Path, default=None, help="another dbrain source tree to time alongside (e.g. an earlier second stage)"
    )
    args = parser.parse_args(argv)
    for tree in (args.baseline, args.previous):
        if tree is not None and not (tree / "dbrain" / "detect" / "spikes" / "_detector.py").is_file():
            print(f"bench_spikes_stage2: '{tree}' is not a dbrain source tree", file=sys.stderr)
            return 2
    if args.baseline is None and args.previous is None:
        print("bench_spikes_stage2: give --baseline or --previous (a tree to compare with)", file=sys.stderr)
        return 2
    if args.edf is not None and not args.edf.is_file():
        print(f"bench_spikes_stage2: '{args.edf}' is not a file", file=sys.stderr)
        return 2
    with workdir(args.workdir) as folder:
        from dbrain.simulate import parse_duration

        seconds = parse_duration(args.duration)
        spikes = max(10, round(40 * seconds / 3600))
        path = args.edf or folder / f"spikes_sim_{int(seconds)}s_{spikes}sp_seed2026.edf"
        if not path.exists():
            print(f"simulating {args.duration} -> {path} ...", file=sys.stderr, flush=True)
            simulate_edf(path, args.duration, seed=2026, spikes=spikes)
        rows = []
        for k in range(args.repeats):
            trees = [("before (rules only, version 2)", args.baseline)] if args.baseline is not None else []
            trees.append(("with the second stage (this tree)", HERE.parent))
            if args.previous is not None:
                trees.insert(len(trees) - 1, (f"previous ({args.previous.name})", args.previous))
            for name, tree in trees:
                load = os.getloadavg()[0]
                r = _run(tree, path)
                rows.append([name, k + 1, f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}", f"{r['peak_mb']:.0f}", f"{r['hours'] * 3600 / r['wall_s']:,.0f}x",
                             r["n_detections"], f"{r['hits']} / {r['n_true']}", f"{load:.1f}"])  # fmt: skip
                print(rows[-1], file=sys.stderr, flush=True)
    print(
        markdown_table(
            rows,
            [
                "detector",
                "run",
                "wall (s)",
                "CPU (s, whole process)",
                "peak RSS (MB)",
                "real time",
                "detections",
                "found",
                "load",
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
