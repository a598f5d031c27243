"""Quantitative EEG: spectrogram (DSA), asymmetry, aEEG, band powers and burst suppression.

:func:`compute_qeeg` makes one streaming pass over a (lazy) recording, per
epoch (default 2 s every 1 s) and per channel and region, with memory bounded
by the chunk size; :func:`plot_trends` draws the ICU-style trend screen.
"""

from ._aeeg import aeeg_response
from ._artifacts import ARTIFACT_TYPES, artifact_strength, compute_artifact_strength
from ._bands import BANDS, MEASURES, UNITS, band_powers, peak_frequency, rhythmicity, spectral_edge
from ._compute import QEEGResult, compute_qeeg, detect_burst_suppression
from ._regions import HOMOLOGOUS_PAIRS, REGIONS
from ._spectral import ASYMMETRY_LABEL, asymmetry
from ._trends import plot_trends

# -------------------------------------------------------------------------------------------------

__all__ = [
    "ARTIFACT_TYPES",
    "ASYMMETRY_LABEL",
    "artifact_strength",
    "compute_artifact_strength",
    "BANDS",
    "HOMOLOGOUS_PAIRS",
    "MEASURES",
    "QEEGResult",
    "REGIONS",
    "UNITS",
    "aeeg_response",
    "asymmetry",
    "band_powers",
    "compute_qeeg",
    "detect_burst_suppression",
    "peak_frequency",
    "plot_trends",
    "rhythmicity",
    "spectral_edge",
]
