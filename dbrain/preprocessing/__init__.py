"""Preprocessing: artifact reduction by ICA + ICLabel or by ASR; the display filters of a page of EEG."""

from ._display import display_padding, filter_display
from ._reduce import ArtifactReductionReport, reduce_artifacts

__all__ = ["ArtifactReductionReport", "display_padding", "filter_display", "reduce_artifacts"]
