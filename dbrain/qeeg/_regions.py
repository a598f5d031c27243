"""Scalp regions and homologous left/right pairs on normalised 10-10 names.

Regions average channel spectra *in power* (µV²/Hz, before any dB
conversion). A channel missing from the recording is skipped; a region with
no channel present is left out of the result.
"""

from __future__ import annotations

import numpy as np

#: Channels of each region (normalised 10-10 names; T7/T8/P7/P8 = old T3/T4/T5/T6).
#: ``temporal`` holds the mid- and posterior-temporal electrodes T7 T8 P7 P8;
#: the anterior temporal F7/F8 belong to ``frontal`` as in the 10-20 lobe
#: assignment used by Persyst-style trend screens.
REGIONS: dict[str, tuple[str, ...]] = {
    "left": ("Fp1", "F3", "C3", "P3", "O1", "F7", "T7", "P7"),
    "right": ("Fp2", "F4", "C4", "P4", "O2", "F8", "T8", "P8"),
    "frontal": ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "Fz"),
    "central": ("C3", "C4", "Cz"),
    "temporal": ("T7", "T8", "P7", "P8"),
    "parietal": ("P3", "P4", "Pz"),
    "occipital": ("O1", "O2"),
}

#: Homologous (left, right) electrode pairs used for the asymmetry spectrogram.
HOMOLOGOUS_PAIRS: tuple[tuple[str, str], ...] = (
    ("Fp1", "Fp2"),
    ("F3", "F4"),
    ("C3", "C4"),
    ("P3", "P4"),
    ("O1", "O2"),
    ("F7", "F8"),
    ("T7", "T8"),
    ("P7", "P8"),
)


def region_weights(ch_names: list[str]) -> tuple[list[str], np.ndarray]:
    """Return the regions present and a (n_regions, n_channels) averaging matrix."""
    index = {c.lower(): i for i, c in enumerate(ch_names)}
    names, rows = [], []
    for region, members in REGIONS.items():
        idx = [index[m.lower()] for m in members if m.lower() in index]
        if not idx:
            continue
        w = np.zeros(len(ch_names), np.float32)
        w[idx] = 1.0 / len(idx)
        names.append(region)
        rows.append(w)
    return names, np.array(rows, np.float32).reshape(len(rows), len(ch_names))


def asymmetry_pairs(ch_names: list[str], region_names: list[str]) -> tuple[list[str], list[tuple[str, int, int]]]:
    """Homologous pairs present, as (label, left index, right index).

    Channel pairs index the channel axis; the hemisphere pair ``left-right``
    indexes the region axis (``kind`` is ``"channel"`` or ``"region"``).
    """
    index = {c.lower(): i for i, c in enumerate(ch_names)}
    labels, pairs = [], []
    if "left" in region_names and "right" in region_names:
        labels.append("left-right")
        pairs.append(("region", region_names.index("left"), region_names.index("right")))
    for left, right in HOMOLOGOUS_PAIRS:
        if left.lower() in index and right.lower() in index:
            labels.append(f"{ch_names[index[left.lower()]]}-{ch_names[index[right.lower()]]}")
            pairs.append(("channel", index[left.lower()], index[right.lower()]))
    return labels, pairs
