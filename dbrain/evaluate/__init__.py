"""Seizure-detection scoring with SzCORE's rules: event and sample scoring, per subject.

See :func:`score_events`, :func:`score_samples` (one recording) and
:func:`evaluate` (files or folders of events TSVs, averaged over subjects).
"""

from ._evaluate import EvaluationResult, evaluate
from ._scoring import SCORE_KEYS, is_seizure, score_events, score_samples

__all__ = ["SCORE_KEYS", "EvaluationResult", "evaluate", "is_seizure", "score_events", "score_samples"]
