"""Preprocessing: artifact reduction by ICA + ICLabel or by ASR."""

from ._reduce import ArtifactReductionReport, reduce_artifacts

__all__ = ["ArtifactReductionReport", "reduce_artifacts"]
