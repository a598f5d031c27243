"""The seizure detector on a stream: the same features and model as the file path, state kept between chunks.

Samples arrive in pieces of any size. Each 2 s window (every 1 s) gets its
window features (:func:`dbrain.detect._features.window_features`) as soon as
its last sample is in. The background features compare a window with the
median of its channel over the *surrounding* 20 minutes (±60 blocks of 10
windows), so a window's final probability needs the 10 minutes that follow
it: windows are finalised block by block once 60 more blocks are complete,
or when the stream ends. Until then the stream gives a *provisional*
probability: what the file path gives on the recording cut where the stream
is now (its last blocks see less future). In particular, during the first
2 minutes of a stream the background is not yet known, so the background
features are missing (NaN) and the probabilities go through the model's
short-recording map, exactly as for a recording shorter than 2 minutes.

:meth:`SeizureStream.result` at the end of the stream equals
:meth:`SeizureDetector.run` on the same samples (a test holds it to 1e-6).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, RecordingError
from . import _features as F
from ._seizures import _MIN_SFREQ, SeizureDetector, SeizureResult, _window_proba

_BG_COLS = [F._IDX[name] for name in F._BG_SOURCES]
_BATCH = 600  # windows featurised at once: bounds memory whatever the chunk size


class SeizureStream:
    """Streaming seizure detection over a fixed set of channels.

    Parameters
    ----------
    detector : SeizureDetector
        Model, thresholds and post-processing (its ``montage`` is not used:
        the caller gives the channels).
    sfreq : float
        Sampling rate (Hz).
    channels : list of str
        Labels of the rows pushed (e.g. double-banana derivations).
    montage : str
        What the channels are (``"double-banana"``, ``"as-recorded"``), for the result.
    meas_date : datetime | None
        Start of the stream, for the events' ``dateTime``.
    """

    def __init__(self, detector: SeizureDetector, sfreq: float, channels: list[str], montage: str, meas_date=None):
        detector._validate()
        if sfreq < _MIN_SFREQ:
            raise RecordingError(f"seizure detection needs a sampling rate of at least 64 Hz, the stream has {sfreq:g} Hz")
        if not channels:
            raise RecordingError("the stream has no EEG channels for seizure detection")
        self.detector = detector
        self.booster, meta = detector._booster()
        self.meta = meta
        if list(meta.get("features", [])) != list(F.FEATURES):
            raise ParameterError("the seizure model was trained on other features than this dbrain computes: retrain it.")
        self.thresholds = detector.thresholds()
        self.sfreq = float(sfreq)
        self.channels = list(channels)
        self.montage = montage
        self.meas_date = meas_date
        self.n_win = int(round(F.WINDOW * self.sfreq))
        self.n_times = 0  # samples pushed
        self._buf = np.zeros((len(channels), 0), np.float32)  # µV, from sample _buf_start
        self._buf_start = 0
        self._n_feat = 0  # windows with window features
        self._pending = np.zeros((0, len(channels), len(F.RAW_COLUMNS)), np.float32)  # windows not final yet
        self._first_pending = 0  # window index of _pending[0]
        self._blocks: list[np.ndarray] = []  # median of each complete block from block _block0 on, (C, K)
        self._block0 = 0  # blocks before it are no window's neighbours any more (dropped: memory flat in duration)
        self._final: list[np.ndarray] = []  # channel probability of final windows, (E, C) pieces

    # --- feeding ---------------------------------------------------------------------------------
    def push(self, data: np.ndarray) -> None:
        """Feed the next samples of the channels, shape (n_channels, n), in volts (float64 as read)."""
        block = np.asarray(data).astype(np.float32)
        block *= 1e6  # V -> µV, in float32 as the file path converts
        if block.ndim != 2 or block.shape[0] != len(self.channels):
            raise ParameterError(f"expected ({len(self.channels)}, n) samples, got shape {block.shape}")
        self._buf = np.concatenate([self._buf, block], axis=1) if self._buf.shape[1] else block
        self.n_times += block.shape[1]
        n_avail = F.n_windows(self.n_times, self.sfreq)
        while self._n_feat < n_avail:
            e0, e1 = self._n_feat, min(n_avail, self._n_feat + _BATCH)
            starts = np.round(np.arange(e0, e1) * F.STEP * self.sfreq).astype(np.int64) - self._buf_start
            seg = self._buf[:, starts[:, None] + np.arange(self.n_win)[None, :]].transpose(1, 0, 2)
            self._pending = np.concatenate([self._pending, F.window_features(seg, self.sfreq, workers=1)])
            self._n_feat = e1
        keep = int(np.round(self._n_feat * F.STEP * self.sfreq))  # first sample of the next window
        if keep > self._buf_start:
            self._buf = self._buf[:, keep - self._buf_start :]
            self._buf_start = keep
        self._complete_blocks()
        self._finalise()

    def _block_rows(self, k: int) -> np.ndarray:
        lo = k * F.BACKGROUND_BLOCK - self._first_pending
        return self._pending[lo : lo + F.BACKGROUND_BLOCK]

    def _complete_blocks(self) -> None:
        while (self._block0 + len(self._blocks) + 1) * F.BACKGROUND_BLOCK <= self._n_feat:
            rows = self._block_rows(self._block0 + len(self._blocks))[..., _BG_COLS]
            self._blocks.append(np.nanmedian(rows, axis=0))

    def _finalise(self) -> None:
        """Final probabilities of blocks whose ±60-block neighbourhood is complete."""
        k0 = self._first_pending // F.BACKGROUND_BLOCK
        k1 = self._block0 + len(self._blocks) - F.BACKGROUND_HALF  # blocks [k0, k1) have all 60 following blocks
        if k1 <= k0:
            return
        # Only the neighbours of blocks k0..k1 (stacking every block so far made each chunk cost more as the stream grew).
        lo = max(0, k0 - F.BACKGROUND_HALF)
        blocks = np.stack(self._blocks[lo - self._block0 : k1 + F.BACKGROUND_HALF + 1 - self._block0])
        bg = np.stack(
            [
                np.median(blocks[max(0, k - F.BACKGROUND_HALF) - lo : k + F.BACKGROUND_HALF + 1 - lo], axis=0)
                for k in range(k0, k1)
            ]
        )
        n = (k1 - k0) * F.BACKGROUND_BLOCK
        raw = self._pending[:n]
        X = F.assemble(raw, np.repeat(bg, F.BACKGROUND_BLOCK, axis=0))
        self._final.append(_window_proba(self.booster, X, self.detector.n_jobs, self.meta, short=False))
        self._pending = self._pending[n:]
        self._first_pending += n
        drop = max(0, self._first_pending // F.BACKGROUND_BLOCK - F.BACKGROUND_HALF - self._block0)
        del self._blocks[:drop]
        self._block0 += drop

    # --- reading ---------------------------------------------------------------------------------
    def _tail(self, last: int | None = None) -> np.ndarray:
        """Probabilities of the pending windows as if the stream ended now (does not change state).

        ``last``: only the last ``last`` pending windows (their values are the same as in the full tail).
        """
        E = self._n_feat
        raw = self._pending if last is None else self._pending[max(0, len(self._pending) - int(last)) :]
        first = E - len(raw)  # window index of raw[0]
        if not len(raw):
            return np.zeros((0, len(self.channels)), np.float32)
        if E < F.MIN_BACKGROUND_WINDOWS:
            bg = np.full((len(raw), len(self.channels), len(_BG_COLS)), np.nan, np.float32)
        else:
            blocks = list(self._blocks)
            b0 = self._block0  # index of blocks[0]; every neighbour of the pending windows is at or after it
            n_blocks = -(-E // F.BACKGROUND_BLOCK)
            if n_blocks > b0 + len(blocks):  # the last, incomplete block: NaN-padded to 10 windows, as the file path pads
                rows = self._block_rows(b0 + len(blocks))[..., _BG_COLS]
                pad = np.full((F.BACKGROUND_BLOCK - len(rows), *rows.shape[1:]), np.nan, np.float32)
                blocks.append(np.nanmedian(np.concatenate([rows, pad]), axis=0))
            blocks = np.stack(blocks)
            k0 = first // F.BACKGROUND_BLOCK
            bg = np.stack(
                [
                    np.median(blocks[max(0, k - F.BACKGROUND_HALF) - b0 : min(n_blocks, k + F.BACKGROUND_HALF + 1) - b0], axis=0)
                    for k in range(k0, n_blocks)
                ]
            )
            lo = first - k0 * F.BACKGROUND_BLOCK
            bg = np.repeat(bg, F.BACKGROUND_BLOCK, axis=0)[lo : lo + len(raw)]
        short = E < F.MIN_BACKGROUND_WINDOWS  # under 2 min so far: the short-recording map, as the file path
        return _window_proba(self.booster, F.assemble(raw, bg), self.detector.n_jobs, self.meta, short=short)

    def recent(self, n_windows: int) -> tuple[int, np.ndarray]:
        """Provisional channel probabilities of the last ``n_windows`` windows only (live alarms).

        The values are those :meth:`result` gives for these windows now (each window's probability
        depends only on its own features and its background), at a cost that does not grow with the
        ~600 windows still pending. Fewer windows are returned when fewer are pending.

        Returns
        -------
        first : int
            Window index (= start second) of the first row.
        p : ndarray, shape (n, n_channels)
            Channel probability per window.
        """
        p = self._tail(last=int(n_windows))
        return self._n_feat - len(p), p

    def n_final_seconds(self) -> int:
        """Seconds whose probability is final (will not change as more samples arrive)."""
        # Second s is the mean of windows s-1 and s; window s must be final.
        return max(0, self._first_pending)

    def result(self) -> SeizureResult:
        """Probabilities and events of the stream so far (final where final, provisional after).

        At the end of the stream this is the detector's result on the whole recording.

        Returns
        -------
        result : SeizureResult
        """
        n_seconds = int(np.floor(self.n_times / self.sfreq))
        if n_seconds < F.WINDOW:
            raise RecordingError(f"the stream is too short for seizure detection ({self.n_times / self.sfreq:.2f} s < 2 s)")
        p = np.concatenate([*self._final, self._tail()]) if self._final else self._tail()
        return self.detector._result(p, self.channels, self.montage, n_seconds, self.meas_date, self.n_times / self.sfreq)
