"""Analyse a small cohort on a local Dask cluster and query the feature store with SQL.

Run: ``python examples/batch_cohort.py [--out DIR]``. It simulates three 1-minute recordings first, so it
needs no data; point ``run_batch`` at a BIDS folder or a manifest CSV for real work.
"""

import argparse
from pathlib import Path

from dbrain.batch import query, run_batch
from dbrain.simulate import write_simulated_edf


def main():
    # Dask starts worker processes that import this file again: the work must not run at import.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example-out")
    args = parser.parse_args()
    out = Path(args.out)
    cohort = out / "cohort"
    cohort.mkdir(parents=True, exist_ok=True)

    for seed in range(3):
        write_simulated_edf(cohort / f"sim{seed}.edf", 60, spikes=5, seed=seed)

    result = run_batch(cohort, out / "store", steps=["recording", "qeeg"], n_jobs=1)
    print(result.rows[["subject", "action"]])

    table = query(
        "SELECT subject, channel, avg(value) AS rel_alpha FROM qeeg "
        "WHERE measure = 'rel_alpha' AND channel IN ('O1', 'O2') GROUP BY subject, channel ORDER BY subject, channel",
        out / "store",
    )
    print(table)


if __name__ == "__main__":
    main()
