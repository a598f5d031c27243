"""Functional connectivity per frequency band from artifact-clean epochs.

All spectral measures come from one Hann-windowed FFT of every epoch, so the
five undirected measures of all bands cost about as much as one of them:

* ``coh`` — magnitude-squared-free coherence ``|<Sxy>| / sqrt(<Sxx><Syy>)``;
* ``imcoh`` — imaginary part of coherency ``Im<Sxy> / sqrt(<Sxx><Syy>)``
  (signed; Nolte et al. 2004);
* ``plv`` — phase-locking value ``|<Sxy / |Sxy|>|`` (Lachaux et al. 1999);
* ``wpli`` — weighted phase-lag index ``|<Im Sxy>| / <|Im Sxy|>`` (Vinck et al. 2011);
* ``aec`` — orthogonalised amplitude-envelope correlation (Hipp et al. 2012),
  pairwise orthogonalisation of the band-limited analytic signal, absolute
  value, symmetrised, averaged over epochs;

where ``<.>`` averages over epochs; each value is then averaged over the FFT
bins of the band (``fmin <= f <= fmax``). These are the definitions of
mne-connectivity's ``spectral_connectivity_epochs`` (``mode="fourier"``,
``faverage=True``) and ``envelope_correlation(orthogonalize="pairwise")``; the
tests check the numbers are equal. ``pdc`` (optional) is the partial directed
coherence of a multivariate autoregressive model fitted by least squares
(Baccalá & Sameshima 2001), ``from`` → ``to``.

Significance: the same measures on phase-randomised surrogates (FFT phases
drawn independently per channel and epoch, so every coupling, zero-lag
included, is destroyed while each channel's spectrum is kept); a value is
significant when it exceeds the 95th percentile of its surrogates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..qeeg import BANDS as _QEEG_BANDS
from ..qeeg import artifact_strength
from ..utils._logging import verbose
from ..utils._rename import renamed_parameter
from ..utils.check import _check_option, _check_range, _validate_type

#: Frequency bands (Hz), those of dbrain.qeeg.
BANDS: dict[str, tuple[float, float]] = dict(_QEEG_BANDS)

#: Undirected measures computed by default.
MEASURES: tuple[str, ...] = ("coh", "imcoh", "plv", "wpli", "aec")

#: All measures, directed ones included.
ALL_MEASURES: tuple[str, ...] = (*MEASURES, "pdc")

#: Volume-conduction-robust measures (zero-lag mixing gives zero).
LAG_MEASURES: tuple[str, ...] = ("imcoh", "wpli", "aec")

#: Columns of the connectivity table.
CONNECTIVITY_COLUMNS: tuple[str, ...] = ("band", "measure", "node_a", "node_b", "value", "threshold", "significant")


# ----------------------------------------------------------------------------------------------
# Clean epochs


def _epoch_scores(data, sfreq, ch_names, length, line_freq):
    """Worst artifact strength per whole ``length``-s epoch and channel: (n_epochs, n_channels)."""
    n = int(round(length * sfreq))
    n_epochs = data.shape[1] // n
    if n_epochs == 0:
        return np.zeros((0, data.shape[0]))
    scores, _, _ = artifact_strength(data[:, : n_epochs * n], sfreq, ch_names, window=2.0, step=1.0, line_freq=line_freq)
    out = np.ones((n_epochs, data.shape[0]))
    for k in range(n_epochs):
        win = scores[k * length : k * length + length - 1]  # the 2 s windows starting inside the epoch
        if len(win):
            out[k] = win.max(axis=0)
    return out


def _choose(worst, threshold, bad_channel_fraction):
    """Bad channels (artifact in more than the fraction of epochs) and clean epochs on the others."""
    if not len(worst):
        return np.zeros(worst.shape[1], bool), np.zeros(0, bool)
    bad = (worst >= threshold).mean(axis=0) > bad_channel_fraction
    if bad.all():
        return bad, np.zeros(len(worst), bool)
    return bad, worst[:, ~bad].max(axis=1) < threshold


def _check_clean_args(length, threshold, bad_channel_fraction):
    _check_range("length", length, 2.0, None)
    _check_range("threshold", threshold, 0.0, 1.0)
    _check_range("bad_channel_fraction", bad_channel_fraction, 0.0, 1.0)
    if abs(length - round(length)) > 1e-9:
        raise ParameterError(f"length must be a whole number of seconds, got {length}.")
    return int(round(length))


def select_clean_epochs(
    data,
    sfreq,
    ch_names,
    *,
    length: float = 4.0,
    threshold: float = 0.5,
    bad_channel_fraction: float = 0.5,
    line_freq: float | None = 50.0,
    offset: float = 0.0,
):
    """Cut EEG into non-overlapping epochs and keep those free of artifacts.

    The artifact strength of :func:`dbrain.qeeg.artifact_strength` (2 s
    windows every 1 s) is computed on ``data``. A channel whose score reaches
    ``threshold`` in more than ``bad_channel_fraction`` of the epochs is left
    out as a bad channel; an epoch is kept when every window inside it has a
    score below ``threshold`` on every remaining channel.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in volts.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names.
    length : float
        Epoch length in seconds (at least 2 s, a whole number of seconds).
    threshold : float
        Artifact strength (0–1) from which a window counts as artifact.
    bad_channel_fraction : float
        Channels with artifact in more than this fraction of epochs are dropped.
    line_freq : float | None
        Mains frequency for the line-noise score; None disables it.
    offset : float
        Time of the first sample in seconds, added to the epoch starts.

    Returns
    -------
    epochs : numpy.ndarray, shape (n_epochs, n_kept_channels, n_samples)
        The clean epochs (volts).
    starts : numpy.ndarray, shape (n_epochs,)
        Epoch starts in seconds.
    ch_names : list of str
        The channels kept (the bad ones left out).
    """
    data = np.asarray(data, dtype=float)
    if data.ndim != 2:
        raise ParameterError(f"data must be 2-D (n_channels, n_times), got shape {data.shape}.")
    _check_range("sfreq", sfreq, 0, None, inclusive=False)
    length = _check_clean_args(length, threshold, bad_channel_fraction)
    ch_names = [str(c) for c in ch_names]
    if len(ch_names) != data.shape[0]:
        raise ParameterError(f"ch_names has {len(ch_names)} names for {data.shape[0]} channels.")
    n = int(round(length * sfreq))
    worst = _epoch_scores(data, sfreq, ch_names, length, line_freq)
    bad, keep = _choose(worst, threshold, bad_channel_fraction)
    idx = np.flatnonzero(keep)
    good = np.flatnonzero(~bad)
    epochs = np.stack([data[good, k * n : (k + 1) * n] for k in idx]) if idx.size else np.empty((0, good.size, n))
    return epochs, offset + idx * float(length), [ch_names[i] for i in good]


def clean_epochs(
    raw,
    *,
    length: float = 4.0,
    threshold: float = 0.5,
    bad_channel_fraction: float = 0.5,
    max_duration: float = 300.0,
    picks: str = "eeg",
):
    """Artifact-clean epochs spread over a (lazy) recording, with bounded reading.

    The recording is read in ten blocks spread evenly over its length
    (together about twice ``max_duration``; all of it when shorter), bad
    channels and clean epochs are chosen as in :func:`select_clean_epochs`
    over all blocks together, and at most ``max_duration`` seconds of clean
    epochs are kept, spread over the blocks.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (normalised channel names).
    length : float
        Epoch length in seconds.
    threshold : float
        Artifact strength from which a window is rejected.
    bad_channel_fraction : float
        Channels with artifact in more than this fraction of epochs are dropped.
    max_duration : float
        At most this many seconds of clean epochs.
    picks : str
        Channel type to use: ``"eeg"``, ``"seeg"`` or ``"ecog"``.

    Returns
    -------
    epochs : numpy.ndarray, shape (n_epochs, n_channels, n_samples)
        Clean epochs in volts.
    starts : numpy.ndarray, shape (n_epochs,)
        Epoch starts in seconds from the start of the recording.
    ch_names : list of str
        Channel names of the second axis (bad channels left out).
    """
    import mne

    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    length = _check_clean_args(length, threshold, bad_channel_fraction)
    _check_range("max_duration", max_duration, length, None)
    _check_option("picks", picks, ("eeg", "seeg", "ecog"))
    idx = mne.pick_types(raw.info, meg=False, **{picks: True}, exclude="bads")
    ch_names = [raw.ch_names[i] for i in idx]
    sfreq = raw.info["sfreq"]
    n = int(round(length * sfreq))
    total = raw.n_times
    n_blocks = 10
    block = int(np.ceil(2 * max_duration / n_blocks / length)) * n
    if block * n_blocks >= total:
        block_starts, block = [0], total
    else:
        block_starts = np.linspace(0, total - block, n_blocks).astype(int)
    line_freq = raw.info.get("line_freq") or 50.0
    datas, worsts, starts = [], [], []
    for s in block_starts:
        data = raw.get_data(picks=idx, start=int(s), stop=int(s) + block)
        w = _epoch_scores(data, sfreq, ch_names, length, line_freq)
        datas.append(data)
        worsts.append(w)
        starts.append(s / sfreq + np.arange(len(w)) * float(length))
    worst = np.concatenate(worsts) if worsts else np.zeros((0, len(ch_names)))
    bad, keep = _choose(worst, threshold, bad_channel_fraction)
    good = np.flatnonzero(~bad)
    where = [(b, k) for b, w in enumerate(worsts) for k in range(len(w))]
    sel = np.flatnonzero(keep)
    max_epochs = int(max_duration // length)
    if sel.size > max_epochs:  # keep epochs spread over the blocks
        sel = sel[np.linspace(0, sel.size - 1, max_epochs).round().astype(int)]
    epochs = [datas[where[i][0]][good, where[i][1] * n : (where[i][1] + 1) * n] for i in sel]
    epochs = np.stack(epochs) if epochs else np.empty((0, good.size, n))
    all_starts = np.concatenate(starts) if starts else np.zeros(0)
    return epochs, all_starts[sel], [ch_names[i] for i in good]


# ----------------------------------------------------------------------------------------------
# Measures


def _check_epochs(epochs, sfreq, ch_names):
    import mne

    if isinstance(epochs, mne.BaseEpochs):
        picks = mne.pick_types(epochs.info, meg=False, eeg=True, seeg=True, ecog=True, exclude="bads")
        if sfreq is not None and float(sfreq) != epochs.info["sfreq"]:
            raise ParameterError(f"sfreq {sfreq:g} Hz disagrees with the epochs' {epochs.info['sfreq']:g} Hz; leave it None.")
        sfreq = epochs.info["sfreq"]
        ch_names = [epochs.ch_names[i] for i in picks] if ch_names is None else ch_names
        epochs = epochs.get_data(picks=picks)
    if sfreq is None or ch_names is None:
        raise ParameterError("sfreq and ch_names are needed with an array of epochs.")
    epochs = np.asarray(epochs)
    if epochs.ndim != 3:
        raise ParameterError(f"epochs must be 3-D (n_epochs, n_channels, n_times), got shape {epochs.shape}.")
    if epochs.shape[0] < 2:
        raise ParameterError(f"connectivity needs at least 2 epochs, got {epochs.shape[0]}.")
    if epochs.shape[1] < 2:
        raise ParameterError(f"connectivity needs at least 2 channels, got {epochs.shape[1]}.")
    _check_range("sfreq", sfreq, 0, None, inclusive=False)
    ch_names = [str(c) for c in ch_names]
    if len(ch_names) != epochs.shape[1]:
        raise ParameterError(f"ch_names has {len(ch_names)} names for {epochs.shape[1]} channels.")
    if len(set(ch_names)) != len(ch_names):
        raise ParameterError("ch_names must be unique.")
    if not np.all(np.isfinite(epochs)):
        raise ParameterError("epochs hold NaN or infinite values.")
    return epochs.astype(float, copy=False), float(sfreq), ch_names


def _check_bands(bands, sfreq, n_times):
    if bands is None:
        bands = BANDS
    _validate_type(bands, dict, "bands", "dict of name -> (fmin, fmax)")
    if not bands:
        raise ParameterError("bands must not be empty.")
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    out = {}
    for name, lim in bands.items():
        try:
            lo, hi = (float(v) for v in lim)
        except (TypeError, ValueError):
            raise ParameterError(f"band {name!r} must be (fmin, fmax) in Hz, got {lim!r}.") from None
        if not 0 <= lo < hi:
            raise ParameterError(f"band {name!r} needs 0 <= fmin < fmax, got ({lo:g}, {hi:g}).")
        sel = np.flatnonzero((freqs >= lo) & (freqs <= hi) & (freqs > 0))
        if hi >= sfreq / 2 or sel.size == 0:
            continue  # band above Nyquist or narrower than the frequency resolution: left out
        out[str(name)] = (lo, hi, sel)
    if not out:
        raise ParameterError(f"no band lies below the Nyquist frequency {sfreq / 2:g} Hz with {n_times} samples per epoch.")
    return out


def _spectra(epochs):
    """Hann-windowed rFFT of the demeaned epochs: (n_epochs, n_channels, n_freqs)."""
    x = epochs - epochs.mean(axis=-1, keepdims=True)
    return np.fft.rfft(x * np.hanning(x.shape[-1]), axis=-1)


def _spectral_measures(X, sel, measures):
    """Band-averaged spectral measures from spectra X (E, C, F) at bins ``sel``."""
    Xb = X[:, :, sel]
    n_ep = Xb.shape[0]
    out = {}
    need_csd = any(m in measures for m in ("coh", "imcoh"))
    # einsum, not batched matmul: many small complex products are slow in multithreaded BLAS on a busy machine
    if need_csd:
        csd = np.einsum("ecf,edf->fcd", Xb, Xb.conj()) / n_ep
        psd = np.einsum("fcc->fc", csd).real
        norm = np.sqrt(psd[:, :, None] * psd[:, None, :])
        norm[norm == 0] = np.inf
        if "coh" in measures:
            out["coh"] = (np.abs(csd) / norm).mean(0)
        if "imcoh" in measures:
            out["imcoh"] = (csd.imag / norm).mean(0)
    if "plv" in measures:
        mag = np.abs(Xb)
        mag[mag == 0] = np.inf
        U = Xb / mag
        out["plv"] = (np.abs(np.einsum("ecf,edf->fcd", U, U.conj())) / n_ep).mean(0)
    if "wpli" in measures:
        n_ch = Xb.shape[1]
        w = np.zeros((n_ch, n_ch))
        re, im = Xb.real, Xb.imag
        for f in range(Xb.shape[2]):
            # Im(x y*) = Im(x) Re(y) - Re(x) Im(y), per epoch: (E, C, C)
            ims = im[:, :, f, None] * re[:, None, :, f] - re[:, :, f, None] * im[:, None, :, f]
            num = np.abs(ims.sum(0))
            den = np.abs(ims).sum(0)
            den[den == 0] = np.inf
            w += num / den
        out["wpli"] = w / Xb.shape[2]
    return out


#: The band-limited analytic signal for the AEC is evaluated on a grid this many times finer than the band width.
_AEC_OVERSAMPLE = 8


def _analytic_band(epochs_fft, n_times, sel):
    """Band-limited analytic signal (E, C, T') of the epochs, ideal band-pass, shifted to base band.

    Shifting every channel by the same frequency multiplies it by a common
    phase ``exp(-2πi f0 t)``, which changes neither the envelopes ``|z|`` nor
    the orthogonalised products ``Im(z_i conj(z_j)) / |z_j|`` of the AEC; the
    shifted signal is smooth enough to be evaluated on ``_AEC_OVERSAMPLE`` ×
    (band width) points instead of ``n_times`` (a 3–12 × smaller grid for the
    default bands), at the same time points spread over the epoch.
    """
    width = sel[-1] - sel[0] + 1
    m = min(n_times, max(32, _AEC_OVERSAMPLE * width))
    if m >= n_times:
        spec = np.zeros_like(epochs_fft)
        spec[:, :, sel] = 2.0 * epochs_fft[:, :, sel]
        return np.fft.ifft(spec, n=n_times, axis=-1)
    spec = np.zeros(epochs_fft.shape[:2] + (m,), dtype=complex)
    spec[:, :, :width] = 2.0 * epochs_fft[:, :, sel]
    return np.fft.ifft(spec, axis=-1)


def _aec(z):
    """Orthogonalised (pairwise), absolute, symmetrised envelope correlation averaged over epochs; z (E, C, T)."""
    n_ep, n_ch, _ = z.shape
    mag = np.abs(z)
    mag_safe = np.where(mag == 0, 1.0, mag)
    mag0 = mag - mag.mean(-1, keepdims=True)
    mag_sd = np.linalg.norm(mag0, axis=-1)
    mag_sd[mag_sd == 0] = 1.0
    re, im = z.real, z.imag
    idx = np.arange(n_ch)
    total = np.zeros((n_ch, n_ch))
    chunk = max(1, int(4e6 // (n_ch * n_ch * z.shape[-1])))
    for e0 in range(0, n_ep, chunk):
        sl = slice(e0, e0 + chunk)
        r, i, m = re[sl], im[sl], mag_safe[sl]
        # orth[e, i, j] = |Im(z_i conj(z_j))| / |z_j|: channel i orthogonalised to channel j (real arithmetic)
        orth = i[:, :, None, :] * r[:, None, :, :]
        orth -= r[:, :, None, :] * i[:, None, :, :]
        np.abs(orth, out=orth)
        orth /= m[:, None, :, :]
        orth[:, idx, idx] = 1.0
        orth -= orth.mean(-1, keepdims=True)
        orth_sd = np.sqrt(np.einsum("eijt,eijt->eij", orth, orth))
        orth_sd[orth_sd == 0] = 1.0
        corr = np.abs(np.einsum("eijt,ejt->eij", orth, mag0[sl]) / mag_sd[sl][:, None, :] / orth_sd)
        total += ((corr + corr.transpose(0, 2, 1)) / 2.0).sum(0)
    return total / n_ep


def _var_fit(epochs, order, ridge):
    """Least-squares (ridge) VAR fit over epochs; returns coefficients (order, C, C) with x_t = sum A_k x_{t-k}."""
    n_ep, n_ch, n_t = epochs.shape
    x = epochs - epochs.mean(-1, keepdims=True)
    x = x / x.reshape(n_ep, n_ch, -1).std(axis=(0, 2))[None, :, None].clip(1e-30)
    lagged = [x[:, :, order - k : n_t - k] for k in range(1, order + 1)]  # each (E, C, T-p)
    Z = np.concatenate(lagged, axis=1).transpose(0, 2, 1).reshape(-1, n_ch * order)
    Y = x[:, :, order:].transpose(0, 2, 1).reshape(-1, n_ch)
    G = Z.T @ Z
    G[np.diag_indices_from(G)] += ridge * np.trace(G) / G.shape[0]
    B = np.linalg.solve(G, Z.T @ Y)  # (C*p, C)
    return B.T.reshape(n_ch, order, n_ch).transpose(1, 0, 2)


def _pdc(coefs, freqs, sfreq):
    """PDC[f, i, j] from j to i (columns normalised)."""
    order, n_ch, _ = coefs.shape
    k = np.arange(1, order + 1)
    phase = np.exp(-2j * np.pi * np.outer(freqs, k) / sfreq)  # (F, p)
    A = np.eye(n_ch)[None] - np.einsum("fk,kij->fij", phase, coefs)
    num = np.abs(A)
    den = np.sqrt((num**2).sum(axis=1, keepdims=True))
    return num / den


def _phase_randomize(epochs, rng):
    """Phase-randomised surrogates: FFT phases drawn independently per epoch and channel."""
    n_t = epochs.shape[-1]
    spec = np.fft.rfft(epochs, axis=-1)
    phases = rng.uniform(0, 2 * np.pi, spec.shape)
    phases[..., 0] = 0.0
    if n_t % 2 == 0:
        phases[..., -1] = 0.0
    return np.fft.irfft(spec * np.exp(1j * phases), n=n_t, axis=-1)


def _all_measures(epochs, sfreq, band_sel, measures, var_order, ridge):
    """{(band, measure): (C, C) matrix}."""
    n_t = epochs.shape[-1]
    X = _spectra(epochs) if any(m in measures for m in ("coh", "imcoh", "plv", "wpli")) else None
    F = np.fft.fft(epochs - epochs.mean(-1, keepdims=True), axis=-1) if "aec" in measures else None
    coefs = _var_fit(epochs, var_order, ridge) if "pdc" in measures else None
    freqs = np.fft.rfftfreq(n_t, 1.0 / sfreq)
    out = {}
    for band, (_lo, _hi, sel) in band_sel.items():
        if X is not None:
            for m, mat in _spectral_measures(X, sel, measures).items():
                out[(band, m)] = mat
        if F is not None:
            out[(band, "aec")] = _aec(_analytic_band(F, n_t, sel))
        if coefs is not None:
            out[(band, "pdc")] = _pdc(coefs, freqs[sel], sfreq).mean(0)
    return out


@renamed_parameter("seed", "random_state", since="0.2")
@verbose
def compute_connectivity(
    epochs,
    sfreq=None,
    ch_names=None,
    *,
    measures=MEASURES,
    bands: dict | None = None,
    n_surrogates: int = 0,
    surrogate_measures=None,
    var_order: int = 5,
    ridge: float = 1e-3,
    random_state: int = 0,
    verbose=None,
) -> pd.DataFrame:
    """Functional connectivity per band and measure, optionally tested against surrogates.

    Parameters
    ----------
    epochs : array, shape (n_epochs, n_channels, n_times) | mne.Epochs
        Artifact-clean epochs (e.g. from :func:`clean_epochs`), any unit; or
        an :class:`mne.Epochs` (its EEG, sEEG and ECoG channels are used).
    sfreq : float | None
        Sampling rate in Hz (taken from ``epochs`` when it is an mne.Epochs).
    ch_names : list of str | None
        Channel names of the second axis, unique (taken from an mne.Epochs).
    measures : sequence of str
        Any of ``"coh"``, ``"imcoh"``, ``"plv"``, ``"wpli"``, ``"aec"``
        (undirected) and ``"pdc"`` (directed); see the module documentation.
    bands : dict of str to (float, float) | None
        Bands in Hz (inclusive); :data:`BANDS` by default. Bands above
        Nyquist or narrower than the frequency resolution are left out.
    n_surrogates : int
        Number of phase-randomised surrogates (0: no test; 19 or more gives
        a 95th percentile threshold).
    surrogate_measures : sequence of str | None
        Measures tested against the surrogates (the others get no
        threshold); all of ``measures`` by default. The spectral measures
        cost little, ``aec`` and ``pdc`` most.
    var_order : int
        Model order of the autoregressive model for ``pdc``.
    ridge : float
        Ridge regularisation of the VAR fit, relative to the mean variance of
        the regressors.
    random_state : int
        Seed of the surrogates (formerly ``seed``).
    verbose : bool | str | int | None
        Log level for this call (MNE-style); None keeps the current one.

    Returns
    -------
    table : pandas.DataFrame
        Columns :data:`CONNECTIVITY_COLUMNS`: one row per band, measure and
        channel pair (``node_a < node_b`` in channel order for undirected
        measures; both directions, ``node_a`` → ``node_b``, for ``pdc``);
        ``threshold`` is the surrogates' 95th percentile and ``significant``
        whether ``value`` (its absolute value for ``imcoh``) exceeds it (NaN
        and False without surrogates). The settings are in ``table.attrs``.
    """
    epochs, sfreq, ch_names = _check_epochs(epochs, sfreq, ch_names)
    measures = tuple(measures) if not isinstance(measures, str) else (measures,)
    if not measures:
        raise ParameterError("measures must not be empty.")
    for m in measures:
        _check_option("measures", m, ALL_MEASURES)
    _validate_type(n_surrogates, int, "n_surrogates")
    if n_surrogates < 0 or 0 < n_surrogates < 19:
        raise ParameterError(f"n_surrogates must be 0 or at least 19 (a 95th percentile), got {n_surrogates}.")
    _validate_type(var_order, int, "var_order")
    _check_range("var_order", var_order, 1, epochs.shape[-1] // 4)
    _check_range("ridge", ridge, 0, None)
    if surrogate_measures is None:
        surrogate_measures = measures
    surrogate_measures = tuple(surrogate_measures) if not isinstance(surrogate_measures, str) else (surrogate_measures,)
    for m in surrogate_measures:
        _check_option("surrogate_measures", m, measures)
    band_sel = _check_bands(bands, sfreq, epochs.shape[-1])
    mats = _all_measures(epochs, sfreq, band_sel, measures, var_order, ridge)
    null = {}
    if n_surrogates and surrogate_measures:
        rng = np.random.default_rng(random_state)
        samples = {k: [] for k in mats if k[1] in surrogate_measures}
        for _ in range(n_surrogates):
            for k, v in _all_measures(
                _phase_randomize(epochs, rng), sfreq, band_sel, surrogate_measures, var_order, ridge
            ).items():
                samples[k].append(np.abs(v))
        null = {k: np.percentile(np.array(v), 95, axis=0) for k, v in samples.items()}
    n_ch = len(ch_names)
    iu, ju = np.triu_indices(n_ch, 1)
    off = ~np.eye(n_ch, dtype=bool)
    di, dj = np.nonzero(off.T)  # pdc: source j (node_a) -> target i (node_b), rows ordered by source
    names = np.array(ch_names, dtype=object)
    frames = []
    for (band, m), mat in mats.items():
        if m == "pdc":
            src, dst = di, dj
            vals = mat[dst, src]
            thr = null[(band, m)][dst, src] if (band, m) in null else np.full(vals.size, np.nan)
        else:
            src, dst = iu, ju
            vals = mat[src, dst]
            thr = null[(band, m)][src, dst] if (band, m) in null else np.full(vals.size, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "band": band,
                    "measure": m,
                    "node_a": names[src],
                    "node_b": names[dst],
                    "value": vals,
                    "threshold": thr,
                    "significant": np.abs(vals) > np.nan_to_num(thr, nan=np.inf),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table.attrs.update(
        {
            "sfreq": sfreq,
            "n_epochs": int(epochs.shape[0]),
            "epoch_length": epochs.shape[-1] / sfreq,
            "bands": {b: [lo, hi] for b, (lo, hi, _) in band_sel.items()},
            "n_surrogates": n_surrogates,
            "surrogate_measures": list(surrogate_measures) if n_surrogates else [],
            "channels": list(ch_names),
        }
    )
    return table


def connectivity_matrix(table: pd.DataFrame, band: str, measure: str, ch_names=None, *, significant_only: bool = False):
    """A square matrix from a connectivity table.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`compute_connectivity`.
    band : str
        Band name.
    measure : str
        Measure name.
    ch_names : list of str | None
        Row/column order; the table's channels by default.
    significant_only : bool
        Set values that are not significant to 0.

    Returns
    -------
    matrix : numpy.ndarray, shape (n_channels, n_channels)
        Symmetric for undirected measures (absolute values for ``imcoh``);
        for ``pdc``, ``matrix[i, j]`` is the flow from channel ``j`` to ``i``.
        The diagonal is 0.
    ch_names : list of str
        The channel order.
    """
    _validate_type(table, pd.DataFrame, "table", "pandas.DataFrame")
    sub = table[(table["band"] == band) & (table["measure"] == measure)]
    if sub.empty:
        have = sorted(set(zip(table["band"], table["measure"], strict=True)))
        raise ParameterError(f"no rows for band {band!r} and measure {measure!r}; the table has {have}.")
    if ch_names is None:
        ch_names = table.attrs.get("channels") or list(dict.fromkeys([*sub["node_a"], *sub["node_b"]]))
    index = {c: i for i, c in enumerate(ch_names)}
    mat = np.zeros((len(ch_names), len(ch_names)))
    vals = np.abs(sub["value"].to_numpy(float))
    if significant_only:
        vals = np.where(sub["significant"].to_numpy(bool), vals, 0.0)
    a = sub["node_a"].map(index).to_numpy()
    b = sub["node_b"].map(index).to_numpy()
    ok = ~(pd.isna(a) | pd.isna(b))
    a, b, vals = a[ok].astype(int), b[ok].astype(int), vals[ok]
    if measure == "pdc":
        mat[b, a] = vals
    else:
        mat[a, b] = vals
        mat[b, a] = vals
    np.fill_diagonal(mat, 0.0)
    return mat, list(ch_names)
