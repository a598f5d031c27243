"""What the shipped pattern classifier says for each of the 12 IIIC development segments.

    python benchmarks/eval_patterns.py [--data ../shared/data/patterns/iiic-dev]

Prints one row per segment (expert label, predicted class, the six probabilities and the features) and
the confusion table. The shipped model was trained on these segments (in-sample: a development result, not a
validation); the leave-one-segment-out figures come from ``scripts/train_pattern_model.py`` (docs/patterns.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import scipy.io

from dbrain.detect.patterns import FEATURE_COLUMNS, PATTERN_CLASSES, classify_segment

NAMES = "Fp1 F3 C3 P3 F7 T7 P7 O1 Fz Cz Pz Fp2 F4 C4 P4 F8 T8 P8 O2".split()
LABELS = {"SZ": "seizure", "LPD": "lpd", "GPD": "gpd", "LRDA": "lrda", "GRDA": "grda", "Other": "other"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "patterns" / "iiic-dev"
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    rows = []
    for path in sorted(args.data.glob("*.mat")):
        seg = scipy.io.loadmat(path)["seg"][:19]  # rows 1-19: referential 10-20 channels (µV); row 20 EKG
        row = classify_segment(seg, 200.0, NAMES)  # the scored window is 20-30 s
        rows.append(
            {
                "segment": path.stem,
                "expert": LABELS[path.stem.split("_")[0]],
                "predicted": row["label"],
                **{c: round(float(row[c]), 2) for c in PATTERN_CLASSES},
                **{c: round(float(row[c]), 2) for c in FEATURE_COLUMNS if c != "rhythmicity"},
                "side": row["side"],
            }
        )
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    print(df.to_string(index=False))
    order = list(PATTERN_CLASSES)
    table = pd.crosstab(df["expert"], df["predicted"]).reindex(index=order, columns=order, fill_value=0)
    print("\nrows: expert label, columns: predicted")
    print(table.to_string())
    print(f"\n{int((df['expert'] == df['predicted']).sum())} of {len(df)} as labelled")


if __name__ == "__main__":
    main()
