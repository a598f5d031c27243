"""Sweep of the spike detector's rhythmic-background share and the ``medium`` threshold on the tuning seeds.

The command behind the constants in ``dbrain/detect/spikes/_detector.py`` (``RHYTHM_SHARE``,
``RHYTHM_RATIO``, ``SENSITIVITY_PRESETS["medium"]``); see docs/spikes.md. Each setting is scored as
``eval_spikes.py`` scores (peaks within 50 ms, one-to-one) on simulated 10-min recordings:

    python benchmarks/tune_spikes.py                  # the tuning seeds 1-5, 101-105, 201-210, 401-420
    python benchmarks/tune_spikes.py --seeds 1-5

Never run it on the test seeds (601-640): they are for ``eval_spikes.py``, once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_spikes import score  # noqa: E402

import dbrain.detect.spikes._detector as detector_module  # noqa: E402
from dbrain.detect.spikes import SpikeDetector  # noqa: E402
from dbrain.simulate import simulate_eeg  # noqa: E402

TUNING_SEEDS = [*range(1, 6), *range(101, 106), *range(201, 211), *range(401, 421)]
#: (alpha share, stand-out ratio) of the rhythmic-background rule; share 1.0 switches the rule off.
RULES = [(0.45, 6.0), (0.55, 6.0), (0.45, 4.0), (0.55, 4.0), (0.6, 3.0), (1.0, 6.0)]
THRESHOLDS = (0.4, 0.45, 0.5)


def _seeds(text: str | None) -> list[int]:
    if text is None:
        return TUNING_SEEDS
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=None, help="e.g. 1-5,101-105 (default: the tuning seeds)")
    args = parser.parse_args(argv)
    seeds = _seeds(args.seeds)
    recordings = [simulate_eeg(600.0, spikes=40, artifacts=True, seed=seed, verbose="error") for seed in seeds]
    rows = []
    saved = detector_module.RHYTHM_SHARE, detector_module.RHYTHM_RATIO
    try:
        for share, ratio in RULES:
            # the rule's constants are module constants (no detector parameter): set them for this sweep only
            detector_module.RHYTHM_SHARE, detector_module.RHYTHM_RATIO = share, ratio
            for raw, events in recordings:
                truth = events[events["eventType"] == "spike"]
                detector = SpikeDetector("high").fit()
                detector.threshold_ = min(THRESHOLDS)  # confidences do not depend on the threshold at or above it
                found = detector.detect(raw)
                for t in THRESHOLDS:
                    kept = found[found["confidence"] >= t].reset_index(drop=True)
                    rows.append({"share": share, "ratio": ratio, "threshold": t, **score(kept, truth, raw.info["sfreq"], 600.0)})
    finally:
        detector_module.RHYTHM_SHARE, detector_module.RHYTHM_RATIO = saved
    df = pd.DataFrame(rows)
    total = df.groupby(["share", "ratio", "threshold"])[["n_true", "tp", "fp", "minutes"]].sum()
    total["sensitivity"] = total.tp / total.n_true
    total["fp_per_min"] = total.fp / total.minutes
    print(f"seeds {args.seeds or 'tuning (1-5, 101-105, 201-210, 401-420)'}: {len(seeds)} × 600 s, 40 spikes each, artifacts on")
    print(total[["n_true", "tp", "fp", "sensitivity", "fp_per_min"]].round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
