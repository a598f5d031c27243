#!/usr/bin/env python
"""Batch benchmark: recordings per minute of ``dbrain batch`` with 1 and 2 local Dask workers.

Usage::

    python benchmarks/bench_batch.py                       # 200 × 10 min (the issue's figures)
    python benchmarks/bench_batch.py --n 10 --duration 2min  # quick run
    python benchmarks/bench_batch.py --steps recording,qeeg,seizures --work ~/bench-cache

The script simulates N 19-channel 10-20 recordings at 256 Hz
(``dbrain.simulate.write_simulated_edf``, cached in ``--work``), then runs
:func:`dbrain.batch.run_batch` over them into a fresh store, once with a local
cluster of 1 worker and once with 2 (one thread each). The times include
starting the cluster, hashing every file and writing the store: what a user of
``dbrain batch`` waits for. Scaling efficiency is
``rate(2 workers) / (2 × rate(1 worker))``. On a shared machine, run it twice.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, workdir  # noqa: E402


def _simulate(folder: Path, n: int, duration: str) -> Path:
    from dbrain.simulate import write_simulated_edf

    data = folder / f"batch-{n}x{duration}"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = data / f"sim{i:04d}.edf"
        if not path.is_file():
            write_simulated_edf(path, duration, seed=i, spikes=2, artifacts=bool(i % 2))
    for side in data.glob("*_events.tsv"):  # ground truth is not an input
        side.unlink()
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of recordings (default 200)")
    parser.add_argument("--duration", default="10min", help="length of each recording (default 10min)")
    parser.add_argument("--steps", default="recording,qeeg", help="analysis steps (default recording,qeeg)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    parser.add_argument("--work", default=None, help="folder to cache the simulated recordings in (default: temporary)")
    args = parser.parse_args(argv)
    from dbrain.batch import run_batch

    steps = [s for s in args.steps.split(",") if s]
    counts = [int(w) for w in args.workers.split(",")]
    os.environ.setdefault("DBRAIN_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "dbrain-bench-home"))
    with workdir(args.work) as folder:
        t0 = time.time()
        data = _simulate(folder, args.n, args.duration)
        print(f"{args.n} recordings of {args.duration} ready in {time.time() - t0:.0f} s", file=sys.stderr)
        rows = []
        rates = {}
        for n_workers in counts:
            store = folder / f"store-{n_workers}"
            shutil.rmtree(store, ignore_errors=True)
            result = run_batch(data, store, steps=steps, n_jobs=n_workers, ledger=False)
            if result.n_errors:
                print(result.rows[result.rows["status"] == "error"][["path", "error"]].to_string(), file=sys.stderr)
            rate = result.n_computed / (result.seconds / 60)
            rates[n_workers] = rate
            per = result.rows["seconds"].astype(float).median()
            rows.append([n_workers, result.n_computed, result.n_errors, f"{result.seconds:.1f}", f"{rate:.1f}", f"{per:.1f}"])
            shutil.rmtree(store, ignore_errors=True)
            print(f"{n_workers} worker(s): {rate:.1f} recordings/min", file=sys.stderr)
    print(
        f"\n{args.n} simulated {args.duration} 19-channel recordings, steps {','.join(steps)}, "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}\n"
    )
    print(markdown_table(rows, ["workers", "computed", "errors", "wall s", "recordings/min", "median s per recording"]))
    if 1 in rates and 2 in rates:
        print(f"\nscaling efficiency 1 → 2 workers: {rates[2] / (2 * rates[1]):.2f} (goal ≥ 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
