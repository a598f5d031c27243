"""Event detectors: seizures (issue 4).

:class:`SeizureDetector` follows the scikit-learn estimator conventions:
``fit(recordings, events)`` trains a channel-level LightGBM model on
continuous recordings, ``predict_proba(raw)`` gives the seizure probability
of every second, ``detect(raw)`` the seizure events (onset, duration,
confidence, channels involved, lateralisation). Without ``fit`` it uses the
model shipped in ``dbrain/detect/models/seizure`` (see its ``MODEL_CARD.md``).
:func:`train_seizure_model` retrains it on a BIDS epilepsy dataset in the
SzCORE layout (``dbrain train seizures``).
"""

from ._pattern_model import PatternClassifier
from ._postprocess import PRESETS
from ._reconcile import Reconciled, reconcile_windows
from ._seizures import (
    DEFAULT_MODEL_DIR,
    SEIZURE_COLUMNS,
    SeizureDetector,
    SeizureResult,
    detect_seizures,
    load_model,
    select_channels,
)
from ._train import find_bids_recordings, train_seizure_model

__all__ = [
    "DEFAULT_MODEL_DIR",
    "PRESETS",
    "PatternClassifier",
    "Reconciled",
    "SEIZURE_COLUMNS",
    "SeizureDetector",
    "SeizureResult",
    "detect_seizures",
    "find_bids_recordings",
    "load_model",
    "reconcile_windows",
    "select_channels",
    "train_seizure_model",
]
from . import patterns, spikes  # noqa: E402,F401  issue 5: dbrain.detect.spikes, dbrain.detect.patterns
