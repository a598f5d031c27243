"""Synthetic 10-20 EEG with exact ground truth.

:func:`simulate_eeg` builds a short recording in memory; :func:`write_simulated_edf`
streams a long one (24 h in well under a minute) to EDF+ with the events TSV
beside it. Both run the same generator:

* background — a stochastic Jansen–Rit neural mass per electrode, linearised
  around its fixed point so that it is an IIR filter over noise: posterior
  alpha (9.5–10.5 Hz) over a broadband low-activity rhythm, spatially
  correlated;
* seizures — a Wendling neural mass integrated during the seizure only: onset
  at a focus with low-voltage fast activity, rhythmic discharges slowing from
  ~11 to ~3.5 Hz as they grow, recruitment of neighbouring electrodes with
  delays, simultaneous offset;
* spikes — sharp surface-negative transients with an after-going slow wave
  and a spatial field;
* artifacts — eye blinks, muscle bursts, electrode pops, line noise; an ECG channel.

The same parameters and seed give the same signal, bit for bit, whatever the
chunk size.
"""

from ._api import events_path_for, parse_duration, simulate_eeg, write_simulated_edf
from ._events import ARTIFACT_RATES, SEIZURE_DURATION, SPIKE_PEAK_LATENCY
from ._layout import CHANNELS, EDF_LABELS

__all__ = [
    "ARTIFACT_RATES",
    "CHANNELS",
    "EDF_LABELS",
    "SEIZURE_DURATION",
    "SPIKE_PEAK_LATENCY",
    "events_path_for",
    "parse_duration",
    "simulate_eeg",
    "write_simulated_edf",
]
