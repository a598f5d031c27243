"""The display filters of a page of EEG, shared by the report and the viewer.

A reviewer must see the same traces whether a page is printed in the report
(:func:`dbrain.report.plot_eeg_page`) or shown in the browser viewer
(:func:`dbrain.server.window.read_window`), so both read the page with
:func:`display_padding` samples on each side and filter it with
:func:`filter_display`, then cut the page out of the padded segment.

The design is that of a clinical EEG viewer: a 2nd-order Butterworth
high-pass and a 4th-order Butterworth low-pass, both run forwards and
backwards (zero phase, so spikes do not move), and an IIR notch (Q = 30) at the
mains frequency and each harmonic below Nyquist.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: Filter orders of the display high-pass and low-pass (Butterworth, applied forwards and backwards).
HIGHPASS_ORDER = 2
LOWPASS_ORDER = 4
#: Quality factor of the mains notch (bandwidth = frequency / Q, 1.7 Hz at 50 Hz).
NOTCH_Q = 30.0
#: A filter at or above this fraction of Nyquist is switched off (it would remove nothing but distort).
MAX_NYQUIST_FRACTION = 0.9
#: Fewer samples than this are shown unfiltered (shorter than the forward-backward filters' edge padding).
MIN_SAMPLES = 16


def display_padding(sfreq: float, highpass: float | None) -> int:
    """Samples to read on each side of a page so the display filters settle outside it.

    About three time constants of the high-pass (``3 / highpass`` seconds),
    at least 2 s and at most 30 s; 2 s without a high-pass.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    highpass : float | None
        The display high-pass in Hz, or None.

    Returns
    -------
    n_samples : int
        Padding on each side, in samples.
    """
    seconds = float(np.clip(3.0 / highpass, 2.0, 30.0)) if highpass else 2.0
    return int(seconds * sfreq)


def filter_display(
    data: np.ndarray,
    sfreq: float,
    *,
    highpass: float | None = None,
    lowpass: float | None = None,
    notch: float | None = None,
) -> tuple[np.ndarray, dict]:
    """Filter a (padded) segment of EEG for display.

    Missing samples (NaN) are filled with their channel's median while
    filtering, so a gap does not spread over the channel, and are NaN again
    in the result.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The segment, usually in µV, with :func:`display_padding` samples on
        each side of the page where the recording has them.
    sfreq : float
        Sampling rate in Hz.
    highpass, lowpass : float | None
        Corners in Hz; None (or 0) for off. A corner at or above 90 % of
        Nyquist is off.
    notch : float | None
        Mains frequency in Hz (50 or 60): notched with its harmonics below
        Nyquist; None for off, and off at or above 90 % of Nyquist.

    Returns
    -------
    filtered : ndarray, shape (n_channels, n_times)
        A new float64 array.
    used : dict
        ``highpass``, ``lowpass``, ``notch``: the settings applied (None for
        each one switched off). All are None for a segment of fewer than 16
        samples, which is returned unfiltered.
    """
    data = np.array(data, dtype=np.float64)  # a copy: the caller's array is never changed
    limit = MAX_NYQUIST_FRACTION * sfreq / 2
    hp, lp, nt = (float(f) if f and 0 < f < limit else None for f in (highpass, lowpass, notch))
    if data.ndim != 2 or data.shape[1] < MIN_SAMPLES or not (hp or lp or nt):
        return data, {"highpass": None, "lowpass": None, "notch": None}
    missing = ~np.isfinite(data)
    if missing.any():
        _fill_with_median(data, missing)
    if hp:
        data = signal.sosfiltfilt(signal.butter(HIGHPASS_ORDER, hp, "highpass", fs=sfreq, output="sos"), data, axis=1)
    if lp:
        data = signal.sosfiltfilt(signal.butter(LOWPASS_ORDER, lp, "lowpass", fs=sfreq, output="sos"), data, axis=1)
    if nt:
        for f0 in np.arange(nt, sfreq / 2, nt):
            b, a = signal.iirnotch(f0, NOTCH_Q, fs=sfreq)
            data = signal.filtfilt(b, a, data, axis=1)
    if missing.any():
        data[missing] = np.nan
    return data, {"highpass": hp, "lowpass": lp, "notch": nt}


def _fill_with_median(data: np.ndarray, missing: np.ndarray) -> None:
    """Set the missing samples of each channel to the median of its others (0 when it has none), in place."""
    for k in np.flatnonzero(missing.any(axis=1)):
        present = data[k, ~missing[k]]
        data[k, missing[k]] = np.median(present) if present.size else 0.0
