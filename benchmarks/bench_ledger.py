#!/usr/bin/env python
"""Provenance-ledger benchmark: append rate, full verification time, proof sizes.

Usage::

    python benchmarks/bench_ledger.py                     # 1,000,000 entries in SQLite, temporary directory
    python benchmarks/bench_ledger.py --entries 100000    # quick run
    python benchmarks/bench_ledger.py --url postgresql://user@127.0.0.1:5432/bench   # another database

What it measures, on one ledger:

* ``append (batched)`` — the log is built with :meth:`Ledger.append_many` in
  batches of ``--batch`` records (one transaction and one signed tree head per
  batch). Each record is a realistic ``analysis-run`` record (~420 bytes of
  canonical JSON) that is validated, canonicalised and hashed inside the call;
* ``append (single)`` — ``--single`` further records appended one by one with
  :meth:`Ledger.append`, each its own transaction and signed head;
* ``verify`` — :meth:`Ledger.verify` of the whole log: re-hash and re-parse
  every entry, recompute every tree node and the root at every signed head,
  check every signature;
* proof sizes — inclusion proofs (from the ledger, at the head of size n) and
  consistency proofs (from size m to n) for n = 10^3 … 10^6: the number of
  hashes grows as log2(n).

The script prints Markdown tables to paste into a README.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path


def _records(start: int, count: int) -> list[dict]:
    return [
        {
            "v": 1,
            "kind": "analysis-run",
            "content_hash": f"{i:064x}",
            "actor": "bench",
            "time": "2026-11-22T10:00:00.000000Z",
            "dbrain_version": "0.1.0",
            "model_versions": {"recording": "1", "eeg_page": "1", "qeeg": "1"},
            "parents": [],
            "artifacts": [],
            "details": {
                "input": f"/data/patients/p{i:07d}.edf",
                "out_dir": f"/data/results/p{i:07d}",
                "input_sha256": f"{i + 7:064x}",
            },
        }
        for i in range(start, start + count)
    ]


def _peak_rss_mb() -> float:
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size to build and verify (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=1000, help="records per append_many call (default 1000)")
    parser.add_argument("--single", type=int, default=2000, help="records appended one by one afterwards (default 2000)")
    parser.add_argument("--url", default=None, help="ledger database URL (default: SQLite in the work directory)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the SQLite file and keys go (default: temporary)")
    args = parser.parse_args(argv)

    from dbrain.ledger import Ledger, canonical_json
    from dbrain.ledger.hashing import consistency_ranges

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="dbrain-bench-ledger-")
        workdir = Path(tmp.name)
    else:
        workdir = args.workdir
        workdir.mkdir(parents=True, exist_ok=True)
    os.environ["DBRAIN_HOME"] = str(workdir / "home")
    url = args.url or f"sqlite:///{workdir / 'ledger.sqlite'}"
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    n, batch = args.entries, args.batch
    rec_bytes = len(canonical_json(_records(0, 1)[0]))
    print(
        f"# dbrain ledger benchmark: {n:,} entries, batches of {batch}, {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"# database {url.split('@')[-1]}; record size {rec_bytes} bytes of canonical JSON\n")

    with Ledger(url) as ledger:
        t_build = 0.0
        for start in range(0, n, batch):
            records = _records(start, min(batch, n - start))
            t0 = time.perf_counter()
            ledger.append_many(records)
            t_build += time.perf_counter() - t0
            if start and start % 100_000 == 0:
                print(f"  … {start:,} entries, {start / t_build:,.0f} appends/s", file=sys.stderr)
        rate_batch = n / t_build

        t0 = time.perf_counter()
        verify = ledger.verify()
        t_verify = time.perf_counter() - t0
        assert verify.ok, verify.problems[:5]
        n_heads = verify.n_heads

        rng = random.Random(0)
        sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= n and s % batch == 0]
        proof_rows = []
        for size in sizes:
            picks = [rng.randrange(size) for _ in range(200)]
            t0 = time.perf_counter()
            proofs = [ledger.inclusion_proof(i, size) for i in picks]
            t_proof = (time.perf_counter() - t0) / len(picks)
            assert all(p.verify() for p in proofs)
            inc = max(len(p.hashes) for p in proofs)
            olds = [rng.randrange(1, size) for _ in range(200)]
            con = max(len(consistency_ranges(m, size)) for m in olds)
            old = size - batch if size > batch else 0
            t0 = time.perf_counter()
            cproof = ledger.consistency_proof(old, size)
            t_cons = time.perf_counter() - t0
            assert cproof.verify()
            proof_rows.append((size, inc, con, math.ceil(math.log2(size)), t_proof * 1e3, t_cons * 1e3))

        singles = _records(n, args.single)
        t0 = time.perf_counter()
        for record in singles:
            ledger.append(record)
        rate_single = len(singles) / (time.perf_counter() - t0)

    size_mb = ""
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        size_mb = f"{sum(Path(f'{db}{s}').stat().st_size for s in ('', '-wal') if Path(f'{db}{s}').exists()) / 2**20:,.0f} MB"

    print("| measurement | result |")
    print("|---|---|")
    print(
        f"| append, batched ({batch} records per transaction and signed head) | {rate_batch:,.0f} appends/s ({n:,} entries in {t_build:.1f} s) |"
    )
    print(f"| append, single (one transaction and signed head each) | {rate_single:,.0f} appends/s |")
    print(f"| verify the whole log ({n:,} entries, {n_heads:,} signed heads) | {t_verify:.1f} s |")
    if size_mb:
        print(f"| SQLite file | {size_mb} |")
    print(f"| peak RSS | {_peak_rss_mb():,.0f} MB |")
    print()
    print(
        "| tree size n | inclusion proof (hashes, max of 200) | bytes | consistency proof (hashes, max of 200) | ceil(log2 n) | inclusion proof time | consistency proof time |"
    )
    print("|---|---|---|---|---|---|---|")
    for size, inc, con, lg, tp, tc in proof_rows:
        print(f"| {size:,} | {inc} | {inc * 32} | {con} | {lg} | {tp:.2f} ms | {tc:.2f} ms |")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
