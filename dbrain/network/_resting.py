"""Resting-state network summary: features for the dementia screening.

One row per recording: mean alpha and theta connectivity (wPLI, coherence,
orthogonalised AEC over all channel pairs), global efficiency and clustering
of the alpha and theta wPLI graphs (30 % density), and the posterior alpha
peak frequency of the clean epochs (:func:`dbrain.qeeg.peak_frequency` on the
mean Hann periodogram of O1, O2, P3, P4, Pz, or of all channels when none of
them is present). A slowing, disintegrating network (Alzheimer's disease)
shows lower alpha wPLI and efficiency and a lower alpha peak.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..qeeg import peak_frequency
from ..utils._rename import renamed_parameter
from ._connectivity import _check_epochs, compute_connectivity, connectivity_matrix
from ._graph import graph_measures

#: Feature columns of :func:`resting_state_features`.
RESTING_FEATURES: tuple[str, ...] = (
    "alpha_wpli",
    "alpha_coh",
    "alpha_aec",
    "theta_wpli",
    "theta_coh",
    "theta_aec",
    "alpha_efficiency",
    "theta_efficiency",
    "alpha_clustering",
    "theta_clustering",
    "alpha_peak",
    "n_epochs",
)

_POSTERIOR = ("o1", "o2", "p3", "p4", "pz")


@renamed_parameter("seed", "random_state", since="0.2")
def resting_state_features(epochs, sfreq, ch_names, *, table: pd.DataFrame | None = None, random_state: int = 0) -> pd.DataFrame:
    """Resting-state network features of artifact-clean epochs, as one row.

    Parameters
    ----------
    epochs : array, shape (n_epochs, n_channels, n_times)
        Artifact-clean resting epochs (volts).
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names.
    table : pandas.DataFrame | None
        A :func:`compute_connectivity` table of these epochs with the theta
        and alpha bands, to reuse; computed when None.
    random_state : int
        Seed of the graph measures (formerly ``seed``).

    Returns
    -------
    features : pandas.DataFrame
        One row, columns :data:`RESTING_FEATURES`.
    """
    epochs, sfreq, ch_names = _check_epochs(epochs, sfreq, ch_names)
    if table is None:
        table = compute_connectivity(
            epochs, sfreq, ch_names, measures=("coh", "wpli", "aec"), bands={"theta": (4.0, 8.0), "alpha": (8.0, 13.0)}
        )
    feats = {}
    for band in ("alpha", "theta"):
        for m in ("wpli", "coh", "aec"):
            sub = table[(table["band"] == band) & (table["measure"] == m)]
            feats[f"{band}_{m}"] = float(sub["value"].abs().mean()) if len(sub) else float("nan")
        try:
            mat, _ = connectivity_matrix(table, band, "wpli", ch_names)
            g = graph_measures(mat, ch_names, density=0.3, n_random=0, random_state=random_state).set_index(["level", "measure"])[
                "value"
            ]
            feats[f"{band}_efficiency"] = float(g[("global", "efficiency")])
            feats[f"{band}_clustering"] = float(g[("global", "clustering")])
        except Exception:  # noqa: BLE001  no wPLI rows for this band: leave the graph features missing
            feats[f"{band}_efficiency"] = feats[f"{band}_clustering"] = float("nan")
    x = epochs - epochs.mean(-1, keepdims=True)
    win = np.hanning(x.shape[-1])
    psd = (np.abs(np.fft.rfft(x * win, axis=-1)) ** 2).mean(0) / (sfreq * (win**2).sum())
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / sfreq)
    post = [i for i, c in enumerate(ch_names) if c.lower() in _POSTERIOR] or list(range(len(ch_names)))
    feats["alpha_peak"] = float(peak_frequency(psd[post].mean(0), freqs, 7.0, 13.0))
    feats["n_epochs"] = float(epochs.shape[0])
    return pd.DataFrame([feats], columns=list(RESTING_FEATURES))
