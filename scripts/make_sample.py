"""Make the bundled quick-start sample from ../shared/data/patterns/iiic-dev.

    python scripts/make_sample.py [--data ../shared/data]

Converts SZ_sample1.mat (an expert-labelled ICU seizure segment from the
IIIC/SPaRCNet development set, ODC-By 1.0) to EDF+ with edfio: 19 referential
10-20 channels and EKG, 200 Hz, 50 s, µV, with the scored central 10 s as an
annotation. Patient and recording fields hold the EDF+ anonymous 'X'.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import edfio
import numpy as np
import scipy.io

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "dbrain" / "data" / "sample" / "iiic_seizure_sample.edf"
LABELS = [
    "Fp1",
    "F3",
    "C3",
    "P3",
    "F7",
    "T3",
    "T5",
    "O1",
    "Fz",
    "Cz",
    "Pz",
    "Fp2",
    "F4",
    "C4",
    "P4",
    "F8",
    "T4",
    "T6",
    "O2",
    "EKG",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    seg = scipy.io.loadmat(args.data / "patterns" / "iiic-dev" / "SZ_sample1.mat")["seg"]
    assert seg.shape == (20, 10000), seg.shape
    signals = []
    for label, row in zip(LABELS, seg, strict=True):
        lo, hi = np.floor(row.min()) - 1, np.ceil(row.max()) + 1
        name = f"EEG {label}-REF" if label != "EKG" else "EKG"
        signals.append(
            edfio.EdfSignal(
                row.astype(float),
                200,
                label=name,
                physical_dimension="uV",
                physical_range=(lo, hi),
                transducer_type="AgAgCl electrode",
            )
        )
    edf = edfio.Edf(
        signals,
        recording=edfio.Recording(startdate=dt.date(1985, 1, 1)),
        starttime=dt.time(0, 0, 0),
        data_record_duration=1.0,
        annotations=[edfio.EdfAnnotation(20.0, 10.0, "Seizure (IIIC expert consensus, scored segment)")],
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    edf.write(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
