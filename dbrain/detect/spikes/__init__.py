"""Interictal spikes and sharp waves: detection, rates and review by focus (issue 5).

:class:`SpikeDetector` (scikit-learn conventions; ``fit`` validates and
reads the preset's cut-off from the model) finds surface-negative sharp
transients of 20–200 ms that stand out from the local background in
amplitude and sharpness, have a field over neighbouring electrodes and show
in the double-banana montage, then a second stage (a small LightGBM model on
morphology and context, issue 18) gives each a calibrated confidence;
:func:`train_spike_model` retrains that stage (``dbrain train spikes``);
:func:`spike_rates` gives rates per hour by region and electrode;
:func:`review_spikes` groups the detections by focus (peak electrode and
field) with an averaged spike, a head map and representative examples per
cluster (:func:`plot_spike_cluster`, :func:`plot_spike_rate_map`).
"""

from ._detector import SENSITIVITY_PRESETS, SPIKE_COLUMNS, SPIKE_REGIONS, SpikeDetector, detect_spikes, spike_rates
from ._review import (
    SpikeCluster,
    SpikeReview,
    plot_spike_cluster,
    plot_spike_rate_map,
    plot_topomap_values,
    review_spikes,
)
from ._train import inject_spikes, train_spike_model

__all__ = [
    "SENSITIVITY_PRESETS",
    "SPIKE_COLUMNS",
    "SPIKE_REGIONS",
    "SpikeCluster",
    "SpikeDetector",
    "SpikeReview",
    "detect_spikes",
    "inject_spikes",
    "plot_spike_cluster",
    "plot_spike_rate_map",
    "plot_topomap_values",
    "review_spikes",
    "spike_rates",
    "train_spike_model",
]
