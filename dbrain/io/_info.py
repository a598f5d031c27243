"""RecordingInfo: what a clinician or a pipeline needs to know about a recording."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import pandas as pd


@dataclass
class RecordingInfo:
    """Facts about a recording, independent of the file format.

    Attributes
    ----------
    path : str
        The file (or BIDS recording) that was read.
    format : str
        Format name, e.g. ``"EDF+C"``, ``"EDF+D"``, ``"BrainVision"``.
    start_time : datetime | None
        Wall-clock start of the first sample (UTC), if the file gives one.
    duration : float
        Seconds from the first to past the last sample, gaps included.
    sfreq : float
        Sampling rate of the returned ``Raw`` (Hz).
    sampling_rates : dict of str to float
        Original sampling rate of each channel (Hz), keyed by normalised name;
        differs from ``sfreq`` for channels MNE resampled (e.g. a 1 Hz SpO2).
    channels : pandas.DataFrame
        One row per channel: ``original``, ``name``, ``type``, ``reference``,
        ``recognised``, ``sfreq``.
    discontinuities : list of (float, float)
        Gaps as ``(onset, duration)`` in seconds; empty for continuous data.
    n_annotations : int
        Number of annotations (gap markers excluded).
    warnings : list of str
        What the reader noticed but could work around.
    header : dict
        Format-specific header fields as stored (for EDF/BDF: patient and
        recording fields, data-record count and duration, reserved field).
    """

    path: str
    format: str
    start_time: dt.datetime | None
    duration: float
    sfreq: float
    sampling_rates: dict[str, float]
    channels: pd.DataFrame
    discontinuities: list[tuple[float, float]] = field(default_factory=list)
    n_annotations: int = 0
    warnings: list[str] = field(default_factory=list)
    header: dict = field(default_factory=dict)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def unrecognised(self) -> list[str]:
        """Original labels that were kept as ``misc`` because they were not understood."""
        return list(self.channels.loc[~self.channels["recognised"], "original"])

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (datetimes as ISO 8601)."""
        out = asdict(self)
        out["start_time"] = self.start_time.isoformat() if self.start_time else None
        out["channels"] = self.channels.to_dict(orient="records")
        out["discontinuities"] = [{"onset": o, "duration": d} for o, d in self.discontinuities]
        out["n_channels"] = self.n_channels
        out["channel_types"] = self.channels["type"].value_counts().to_dict()
        return out
