#!/usr/bin/env python
"""Artifact reduction on the EEGLAB tutorial recording: what ICA and ASR remove and what they keep.

Usage::

    python benchmarks/eval_artifact_reduction.py [--data ../shared/data]

Prints, per method, the components removed, the share of samples modified,
the Fpz artifact strength and the alpha (8–13 Hz) power before and after —
the table in ``docs/qeeg.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import markdown_table

POSTERIOR = ["O1", "O2", "Oz", "P3", "P4", "Pz"]
RUNS = (("ica", {}), ("asr", {"cutoff": 20.0}), ("asr", {"cutoff": 5.0}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    args = parser.parse_args(argv)
    from dbrain.io import read_recording
    from dbrain.preprocessing import reduce_artifacts

    raw, _ = read_recording(Path(args.data) / "formats" / "eeglab-sample-data" / "sample_data" / "eeglab_data.set")
    rows = []
    for method, kw in RUNS:
        _, rep = reduce_artifacts(raw, method, line_freq=60.0, **kw)
        ch = rep.channels.set_index("channel")
        total = ch["alpha_after"].sum() / ch["alpha_before"].sum() - 1
        worst = ch.loc[[c for c in POSTERIOR if c in ch.index], "alpha_change"].abs().max()
        removed = ", ".join(rep.removed["label"]) if len(rep.removed) else "—"
        rows.append(
            [
                f"`{method}`" + (f", cutoff {kw['cutoff']:g}" if kw else ""),
                removed,
                f"{100 * rep.fraction_modified:.0f} %",
                f"{ch.loc['Fpz', 'strength_before']:.3f} → {ch.loc['Fpz', 'strength_after']:.3f}",
                f"{100 * total:+.1f} %",
                f"{100 * worst:.1f} %",
            ]
        )
    header = ["method", "removed", "samples modified", "Fpz artifact strength", "alpha, all channels", "worst posterior alpha"]
    print(markdown_table(rows, header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
