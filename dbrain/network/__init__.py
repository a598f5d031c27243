"""Brain-network analysis: functional connectivity, graph measures, seizure-onset networks.

:func:`clean_epochs` picks artifact-clean epochs spread over a recording
(:func:`dbrain.qeeg.artifact_strength` below 0.5); :func:`compute_connectivity`
gives coherence, imaginary coherence, PLV, wPLI and orthogonalised AEC per
band (optionally PDC, and significance against phase-randomised surrogates)
as a tidy table; :func:`graph_measures` the node, region, hemisphere and
global graph measures (networkx) of one matrix; :func:`onset_network` and
:func:`seizure_onset_network` the pre-ictal → ictal network and a ranked list
of candidate onset channels; :func:`resting_state_features` the resting-state
summary for dementia screening. Definitions and checks: ``docs/network.md``.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> epochs = rng.standard_normal((20, 3, 512))
>>> table = compute_connectivity(epochs, 256.0, ["Fz", "Cz", "Pz"], measures=("wpli",))
>>> sorted(table["band"].unique())
['alpha', 'beta', 'delta', 'gamma', 'theta']
"""

from ._connectivity import (
    ALL_MEASURES,
    BANDS,
    CONNECTIVITY_COLUMNS,
    LAG_MEASURES,
    MEASURES,
    clean_epochs,
    compute_connectivity,
    connectivity_matrix,
    select_clean_epochs,
)
from ._figures import plot_connectivity, plot_connectome, plot_onset
from ._graph import GRAPH_COLUMNS, graph_measures, threshold_proportional
from ._onset import (
    EVOLUTION_COLUMNS,
    ONSET_BANDS,
    RANKING_COLUMNS,
    OnsetResult,
    onset_network,
    rank_scores,
    seizure_onset_network,
    seizure_onsets,
)
from ._resting import RESTING_FEATURES, resting_state_features

__all__ = [
    "ALL_MEASURES",
    "BANDS",
    "CONNECTIVITY_COLUMNS",
    "EVOLUTION_COLUMNS",
    "GRAPH_COLUMNS",
    "LAG_MEASURES",
    "MEASURES",
    "ONSET_BANDS",
    "RANKING_COLUMNS",
    "RESTING_FEATURES",
    "OnsetResult",
    "clean_epochs",
    "compute_connectivity",
    "connectivity_matrix",
    "graph_measures",
    "onset_network",
    "plot_connectivity",
    "plot_connectome",
    "plot_onset",
    "rank_scores",
    "resting_state_features",
    "seizure_onset_network",
    "seizure_onsets",
    "select_clean_epochs",
    "threshold_proportional",
]
