"""Electrode layout of the simulated recording: names, EDF labels, positions, regions."""

from __future__ import annotations

import functools

import numpy as np

#: The 19 electrodes of the 10-20 system in the usual clinical order (10-10 names).
CHANNELS = ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2",
            "F7", "F8", "T7", "T8", "P7", "P8", "Fz", "Cz", "Pz")  # fmt: skip

#: The old 10-20 names used in the EDF labels (as most clinical systems still write them).
_OLD_NAMES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}

#: EDF label of each electrode, in the common "EEG Fp1-REF" vendor spelling.
EDF_LABELS = tuple(f"EEG {_OLD_NAMES.get(name, name)}-REF" for name in CHANNELS)

#: Label and normalised name of the optional ECG channel.
ECG_LABEL, ECG_NAME = "EKG", "ECG"

# Idealised spherical head: (angle from the vertex, azimuth from the nose towards
# the left ear) in degrees, following the 10 % / 20 % steps of the 10-20 system.
_SPHERICAL = {
    "Fp1": (72, 18), "Fp2": (72, -18), "F7": (72, 54), "F8": (72, -54),
    "T7": (72, 90), "T8": (72, -90), "P7": (72, 126), "P8": (72, -126),
    "O1": (72, 162), "O2": (72, -162),
    "F3": (46, 40), "F4": (46, -40), "C3": (36, 90), "C4": (36, -90),
    "P3": (46, 140), "P4": (46, -140), "Fz": (36, 0), "Cz": (0, 0), "Pz": (36, 180),
}  # fmt: skip
_HEAD_RADIUS_CM = 9.0

#: Region of each electrode, used to set the background's regional character.
REGIONS = {
    "Fp1": "frontopolar", "Fp2": "frontopolar",
    "F7": "frontal", "F3": "frontal", "Fz": "frontal", "F4": "frontal", "F8": "frontal",
    "T7": "temporal", "T8": "temporal",
    "C3": "central", "Cz": "central", "C4": "central",
    "P7": "posterior_temporal", "P8": "posterior_temporal",
    "P3": "parietal", "Pz": "parietal", "P4": "parietal",
    "O1": "occipital", "O2": "occipital",
}  # fmt: skip

#: Hemisphere of each electrode: +1 left, -1 right, 0 midline.
SIDE = {name: int(np.sign(np.round(az))) if abs(az) not in (0, 180) else 0 for name, (_, az) in _SPHERICAL.items()}


@functools.cache
def positions_cm() -> np.ndarray:
    """Cartesian electrode positions in cm (x to the nose, y to the left ear), shape (19, 3)."""
    pos = []
    for name in CHANNELS:
        theta, phi = np.deg2rad(_SPHERICAL[name])
        pos.append([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
    out = _HEAD_RADIUS_CM * np.asarray(pos)
    out.setflags(write=False)
    return out


@functools.cache
def distances_cm() -> np.ndarray:
    """Straight-line distance between every pair of electrodes in cm, shape (19, 19)."""
    pos = positions_cm()
    out = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    out.setflags(write=False)
    return out


def index(name: str) -> int:
    """Row of electrode ``name`` in :data:`CHANNELS`."""
    return CHANNELS.index(name)
