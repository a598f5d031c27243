"""Development check behind the ADHD card's caveat: where the groups' phase-coupling difference lives.

Usage (about 1 min)::

    nice -n 10 .venv/bin/python scripts/adhd_wpli_pairs.py [--data ../shared/data]

On the ADHD screen's own clean epochs (first 60 s, 0.5-45 Hz, rescaled) of every usable child: the AUROC (ADHD vs
control) of the debiased wPLI of each channel pair in 13-30 Hz, and of the mean over all pairs (and over the pairs
without the midline electrodes Fz, Cz, Pz) in 13-30 Hz and in 30-45 Hz (above the screen's bands: muscle and
recording chain). A development figure (no model, no folds): it says
where the difference is, not how well a screen generalises.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import mne
import numpy as np
from sklearn.metrics import roc_auc_score

from dbrain.channels import normalize_label
from dbrain.diagnosis import ADHD_FEATURE_PATH
from dbrain.diagnosis._adhd import _multitaper_connectivity
from dbrain.diagnosis._features import rescale
from dbrain.network import select_clean_epochs

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    path = ADHD_FEATURE_PATH
    mats, labels = [], []
    with np.load(args.data / "developmental" / "adhd-children" / "adhd_children_128hz.npz") as z:
        ch = [normalize_label(str(c)).name for c in z["channels"]]
        sf = float(z["sfreq"])
        for sub, grp in zip(z["subject"], z["group"], strict=True):
            x = z[f"eeg_{sub}"][:, : int(path["max_duration"] * sf)].astype(float) * 1e-6
            xs, _ = rescale(mne.filter.filter_data(x, sf, *path["band"], verbose="error"), path["scale_to_uv"])
            ep, _, kept = select_clean_epochs(xs, sf, ch, length=2.0, line_freq=None)
            if len(ep) < 5 or len(kept) < 12:  # the screen's 'insufficient data'
                continue
            wpli, _ = _multitaper_connectivity(ep, sf, [(13.0, 30.0), (30.0, 45.0)])
            m = np.full((len(ch), len(ch), 2), np.nan)
            idx = [ch.index(k) for k in kept]
            m[np.ix_(idx, idx)] = np.moveaxis(wpli, 0, -1)
            m[np.arange(len(ch)), np.arange(len(ch))] = np.nan  # pairs only
            mats.append(m)
            labels.append(grp == "adhd")
    M, y = np.array(mats), np.array(labels)
    print(f"{len(y)} children ({y.sum()} ADHD)")
    pairs = []
    for i in range(len(ch)):
        for j in range(i + 1, len(ch)):
            v = M[:, i, j, 0]
            ok = np.isfinite(v)
            pairs.append((roc_auc_score(y[ok], v[ok]), f"{ch[i]}-{ch[j]}"))
    pairs.sort(reverse=True)
    print("13-30 Hz pairs, highest AUROC:", ", ".join(f"{p} {a:.2f}" for a, p in pairs[:10]))
    print("13-30 Hz pairs, lowest AUROC:", ", ".join(f"{p} {a:.2f}" for a, p in pairs[-5:]))
    lateral = [i for i, c in enumerate(ch) if c not in ("Fz", "Cz", "Pz")]
    for k, band in enumerate(("13-30 Hz", "30-45 Hz")):
        g = np.nanmean(M[:, :, :, k].reshape(len(y), -1), axis=1)
        g2 = np.nanmean(M[:, lateral][:, :, lateral, k].reshape(len(y), -1), axis=1)
        print(f"mean over pairs, {band}: AUROC {roc_auc_score(y, g):.3f}; without Fz, Cz, Pz: {roc_auc_score(y, g2):.3f}")


if __name__ == "__main__":
    main()
