"""The one generator behind :func:`simulate_eeg` and :func:`write_simulated_edf`.

:class:`Simulation` plans a recording (parameters, events) on construction
and then renders it chunk after chunk. Each chunk is the sum of

1. background (linearised Jansen–Rit, IIR-filtered noise, filter state
   carried across chunks), multiplied down where a seizure is under way;
2. event waveforms (seizures, spikes, artifacts), each computed whole from
   its own seeded generator;
3. line noise (with artifacts), periodic in the absolute sample index;

and the ECG channel. Every term depends only on absolute sample numbers and
the seed, so the signal is identical, bit for bit, whatever the chunk size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..events import make_events
from ..utils import _check_option, _check_range, _validate_type
from . import _events, _layout
from ._background import Background
from ._continuous import Ecg, LineNoise
from ._rng import STREAM_ECG, STREAM_PARAMS, STREAM_SCHEDULE, block_rng

#: Wall-clock start written to the file and the events table.
MEAS_DATE = dt.datetime(2020, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
#: Physical range of every channel in µV; with 16-bit samples the resolution is 0.1 µV.
PHYSICAL_RANGE = (-3276.8, 3276.7)
DIGITAL_RANGE = (-32768, 32767)
#: Shortest and longest recording that can be simulated, in seconds.
DURATION_RANGE = (10.0, 7 * 86400.0)
SFREQ_RANGE = (128, 1024)


def _check_count(value, name: str, high: int = 10**7) -> int:
    _validate_type(value, (int, np.integer), name, "int")
    _check_range(name, int(value), 0, high)
    return int(value)


class Simulation:
    """A planned synthetic recording.

    Parameters are those of :func:`dbrain.simulate.simulate_eeg`, already
    parsed (``duration`` in seconds).
    """

    def __init__(self, duration, *, sfreq=256.0, seizures=0, spikes=0, artifacts=False, line_freq=50.0, ekg=True, seed=0):
        _validate_type(duration, (int, float, np.integer, np.floating), "duration", "number")
        _check_range("duration", float(duration), *DURATION_RANGE)
        _validate_type(sfreq, (int, float, np.integer, np.floating), "sfreq", "number")
        _check_range("sfreq", float(sfreq), *SFREQ_RANGE)
        if float(sfreq) != int(sfreq):
            raise ParameterError(f"sfreq must be a whole number of Hz (EDF stores whole samples per second), got {sfreq!r}.")
        self.seizures = _check_count(seizures, "seizures")
        self.spikes = _check_count(spikes, "spikes")
        _validate_type(artifacts, bool, "artifacts")
        _validate_type(ekg, bool, "ekg")
        _validate_type(line_freq, (int, float, np.integer, np.floating), "line_freq", "number")
        _check_option("line_freq", float(line_freq), (50.0, 60.0))
        self.seed = _check_count(seed, "seed", 2**63 - 1)
        self.sfreq = float(int(sfreq))
        self.n_times = int(round(float(duration) * self.sfreq))
        self.duration = self.n_times / self.sfreq
        self.artifacts, self.ekg, self.line_freq = artifacts, ekg, float(line_freq)
        _events.check_fits(self.duration, self.seizures, self.spikes, artifacts)

        params = block_rng(self.seed, STREAM_PARAMS)
        self.background = Background(self.sfreq, self.seed, params)
        self.events = _events.schedule(
            self.n_times, self.sfreq, self.seizures, self.spikes, artifacts, block_rng(self.seed, STREAM_SCHEDULE)
        )
        self._starts = np.array([ev.onset for ev in self.events], dtype=np.int64)
        self._stops = np.array([ev.stop for ev in self.events], dtype=np.int64)
        self.ecg = Ecg(self.n_times, self.sfreq, block_rng(self.seed, STREAM_ECG)) if ekg else None
        self.line = LineNoise(self.sfreq, self.line_freq, self.n_channels, params) if artifacts else None
        self._cache: dict[int, tuple] = {}
        self._pos = 0

    # ------------------------------------------------------------------ channels
    @property
    def n_channels(self) -> int:
        return len(_layout.CHANNELS) + int(self.ekg)

    @property
    def ch_names(self) -> list[str]:
        """Normalised channel names (what :func:`dbrain.io.read_recording` returns)."""
        return list(_layout.CHANNELS) + ([_layout.ECG_NAME] if self.ekg else [])

    @property
    def ch_types(self) -> list[str]:
        return ["eeg"] * len(_layout.CHANNELS) + (["ecg"] if self.ekg else [])

    @property
    def edf_labels(self) -> list[str]:
        """Labels written to the EDF, in a clinical vendor's spelling."""
        return list(_layout.EDF_LABELS) + ([_layout.ECG_LABEL] if self.ekg else [])

    # ------------------------------------------------------------------ rendering
    def render(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` in µV, shape (n_channels, n); calls must be consecutive."""
        if start != self._pos or not start < stop <= self.n_times:
            raise RuntimeError(f"chunks must be consecutive and inside the recording (at {self._pos}, asked {start}:{stop})")
        n_eeg = len(_layout.CHANNELS)
        out = np.empty((self.n_channels, stop - start))
        out[:n_eeg] = self.background.render(start, stop)
        first = int(np.searchsorted(self._stops, start, side="right"))
        last = int(np.searchsorted(self._starts, stop, side="left"))
        for k in range(first, last):
            ev = self.events[k]
            if k not in self._cache:
                self._cache[k] = ev.render(self.sfreq, self.seed)
            rows, added, gain = self._cache[k]
            a, b = max(start, ev.onset), min(stop, ev.stop)
            src = slice(a - ev.onset, b - ev.onset)
            dst = slice(a - start, b - start)
            if gain is not None:
                out[rows, dst] *= gain[:, src]
            out[rows, dst] += added[:, src]
        # Forget events that are over.
        for k in [k for k in self._cache if self.events[k].stop <= stop]:
            del self._cache[k]
        if self.ecg is not None:
            out[n_eeg] = self.ecg.render(start, stop)
        if self.line is not None:
            out += self.line.render(start, stop)
        np.clip(out, *PHYSICAL_RANGE, out=out)
        self._pos = stop
        return out

    def chunks(self, chunk_samples: int, on_progress: Callable[[float], None] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, data)`` over the whole recording, ``chunk_samples`` at a time."""
        for start in range(0, self.n_times, chunk_samples):
            stop = min(start + chunk_samples, self.n_times)
            yield start, self.render(start, stop)
            if on_progress is not None:
                on_progress(stop / self.n_times)

    # ------------------------------------------------------------------ ground truth
    def events_table(self) -> pd.DataFrame:
        """The ground truth as a dbrain events table (onsets exact to the sample)."""
        names = _layout.CHANNELS
        return make_events(
            [ev.onset / self.sfreq for ev in self.events],
            [ev.length / self.sfreq for ev in self.events],
            [ev.kind for ev in self.events],
            channels=[[names[c] for c in ev.channels] for ev in self.events],
            meas_date=MEAS_DATE.replace(tzinfo=None),
            recording_duration=self.duration,
        )
