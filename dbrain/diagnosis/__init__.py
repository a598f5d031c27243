"""Diagnosis support: dementia and epilepsy screening from resting EEG, and cited decision aids.

:func:`compute_features` / :func:`recording_features` give one unit-free
feature vector per recording (relative band powers per region, slowing
ratios, peak alpha frequency, spectral entropy, aperiodic exponent, alpha and
theta connectivity and graph measures, asymmetries) on any subset of 10-20
channels and say which features were computable. :class:`DementiaScreen` and
:class:`EpilepsyScreen` are calibrated scikit-learn estimators with an
"insufficient data" outcome; :func:`nested_cross_validate` gives their
subject-wise numbers; :func:`train_diagnosis_model` is ``dbrain train
dementia|epilepsy|adhd`` (ADHD: the shipped recipe, :func:`write_adhd_model`). :func:`suggestions` maps findings to the cited
considerations of the knowledge base and :func:`similar_cases` finds the
nearest recordings of a data store. Everything here is decision support for a
qualified clinician, never a diagnosis. Details: ``docs/diagnosis.md``.
"""

from ._adhd import (
    ADHD_FEATURE_PATH,
    ADHD_SCREEN_FEATURES,
    adhd_candidate_features,
    adhd_features,
    adhd_screen,
    write_adhd_model,
)
from ._evaluate import nested_cross_validate, reliability
from ._features import (
    DIAGNOSIS_BANDS,
    DIAGNOSIS_REGIONS,
    FEATURE_GROUPS,
    FEATURES,
    ROBUST_FEATURES,
    FeatureResult,
    array_features,
    compute_features,
    recording_features,
    theta_beta_ratio,
)
from ._knowledge import (
    DISCLAIMER,
    EVENT_FINDINGS,
    FINDING_TYPES,
    SCREEN_FINDINGS,
    findings_from_events,
    load_knowledge,
    similar_cases,
    suggestions,
)
from ._screens import ADHD_FEATURES, INSUFFICIENT, OUTCOMES, ADHDScreen, DementiaScreen, EpilepsyScreen, subject_folds
from ._train import list_labelled_recordings, model_card, train_diagnosis_model, write_model

__all__ = [
    "ADHD_FEATURES",
    "ADHD_FEATURE_PATH",
    "ADHD_SCREEN_FEATURES",
    "adhd_candidate_features",
    "adhd_features",
    "adhd_screen",
    "write_adhd_model",
    "ADHDScreen",
    "ROBUST_FEATURES",
    "array_features",
    "DISCLAIMER",
    "DIAGNOSIS_BANDS",
    "DIAGNOSIS_REGIONS",
    "EVENT_FINDINGS",
    "FEATURES",
    "FINDING_TYPES",
    "FEATURE_GROUPS",
    "INSUFFICIENT",
    "OUTCOMES",
    "SCREEN_FINDINGS",
    "DementiaScreen",
    "EpilepsyScreen",
    "FeatureResult",
    "compute_features",
    "findings_from_events",
    "load_knowledge",
    "list_labelled_recordings",
    "model_card",
    "nested_cross_validate",
    "recording_features",
    "reliability",
    "similar_cases",
    "suggestions",
    "theta_beta_ratio",
    "subject_folds",
    "train_diagnosis_model",
    "write_model",
]
