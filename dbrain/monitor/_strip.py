"""The ward's moving EEG strip: causal display filters (LFF, HFF) and decimation, state carried across chunks.

A clinical monitor shows EEG through a low-frequency filter (LFF, the
amplifier's time constant) and a high-frequency filter (HFF). Without the
LFF, electrode offsets and slow drift park a trace on its row's edge at a fixed
sensitivity; without an anti-aliasing low-pass before decimation, mains and
muscle fold back into the EEG band (docs/monitor.md, "The ward strip").
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from ..errors import ParameterError
from ..utils.check import _check_range

#: Low-frequency filter (-3 dB), Hz: first order, as an EEG amplifier's LFF (time constant 1/(2π·0.5) = 0.32 s).
STRIP_LFF = 0.5
#: High-frequency filter (-3 dB), Hz: 8th-order Butterworth, which is also the anti-aliasing filter of the
#: decimation to :data:`STRIP_MIN_SFREQ` or more: what would fold into 0-30 Hz lies at 70 Hz or higher and
#: is attenuated by 59 dB or more; mains is 35 dB (50 Hz) and 48 dB (60 Hz) down, so no notch is needed.
STRIP_HFF = 30.0
_HFF_ORDER = 8
#: The strip's rate is the stream's divided by the largest integer that keeps it at or above this.
STRIP_MIN_SFREQ = 100.0


class StripFilter:
    """Causal display filter and decimator of a few channels, fed chunk by chunk.

    The filters' state is carried from one chunk to the next and the decimation
    keeps the samples at fixed positions of the stream, so any chunking gives the
    same output as one pass over all the samples. The state starts as the steady
    state of each channel's first sample: an electrode offset does not ring in.

    Parameters
    ----------
    sfreq : float
        The stream's sampling rate, Hz.
    n_channels : int
        Channels filtered.
    lff, hff : float | None
        Low- and high-frequency filter corners, Hz (None: that filter off). The HFF
        is lowered to 0.4 × the stream's rate when the stream is too slow for it.
    min_sfreq : float
        Lowest output rate (the stream is decimated by ``floor(sfreq / min_sfreq)``).
    """

    def __init__(
        self,
        sfreq: float,
        n_channels: int,
        *,
        lff: float | None = STRIP_LFF,
        hff: float | None = STRIP_HFF,
        min_sfreq: float = STRIP_MIN_SFREQ,
    ):
        _check_range("sfreq", sfreq, 1.0)
        _check_range("min_sfreq", min_sfreq, 1.0)
        if int(n_channels) < 1:
            raise ParameterError(f"n_channels must be at least 1, got {n_channels}")
        self.sfreq = float(sfreq)
        self.q = max(1, int(self.sfreq // float(min_sfreq)))
        self.out_sfreq = self.sfreq / self.q
        if hff is not None:
            _check_range("hff", hff, 0.0)
            hff = min(float(hff), round(0.4 * self.sfreq, 1))
        if lff is not None:
            _check_range("lff", lff, 0.0)
            lff = float(lff)
            if hff is not None and lff >= hff:
                raise ParameterError(f"the strip's LFF ({lff:g} Hz) must be below its HFF ({hff:g} Hz)")
        self.lff, self.hff = lff, hff
        parts = []
        if lff is not None:
            parts.append(butter(1, lff, "highpass", fs=self.sfreq, output="sos"))
        if hff is not None:
            parts.append(butter(_HFF_ORDER, hff, "lowpass", fs=self.sfreq, output="sos"))
        self.sos = np.concatenate(parts) if parts else None
        self.n_channels = int(n_channels)
        self.n_in = 0  # stream samples received
        self._zi: np.ndarray | None = None

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter the next chunk ``x`` (n_channels, n) and return its decimated samples (n_channels, m).

        The samples kept are those at stream positions ``k`` with ``(k + 1) % q == 0``
        (the last of each block of ``q``), whatever the chunking.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ParameterError(f"strip samples must be ({self.n_channels}, n), got shape {x.shape}")
        n = x.shape[1]
        if n == 0:
            return np.zeros((self.n_channels, 0))
        if self.sos is None:
            y = x
        else:
            if self._zi is None:
                self._zi = sosfilt_zi(self.sos)[:, None, :] * x[None, :, 0, None]
            y, self._zi = sosfilt(self.sos, x, axis=1, zi=self._zi)
        first = (-(self.n_in + 1)) % self.q  # index in this chunk of its first kept sample
        self.n_in += n
        return y[:, first :: self.q]

    def describe(self) -> dict:
        """The filters as the strip's payload states them: ``{"lff": Hz|None, "hff": Hz|None}``."""
        return {"lff": self.lff, "hff": self.hff}
