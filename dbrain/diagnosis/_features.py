"""One resting-state feature vector per recording, for the diagnosis screens.

Every feature is unit-free (ratios, frequencies, entropies, exponents,
connectivity), so recordings from different amplifiers and headsets can share
a model. A feature that cannot be computed on the channels present (a region
without electrodes, a peak outside 7–13 Hz, a network of fewer than four
channels) is NaN and named in :attr:`FeatureResult.missing` with the reason.

The spectra are Hann periodograms of the clean epochs (linear trend removed),
averaged over epochs; regions average the spectra of their channels in power.
Band powers cover 0.5–30 Hz only (delta, theta, alpha, beta) because one of
the training cohorts is band-limited to 0.5–30 Hz at source.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..network import RESTING_FEATURES
from ..qeeg import band_powers, peak_frequency
from ..utils._rename import renamed_parameter
from ..utils.check import _check_range, _validate_type

#: Bands of the diagnosis features (Hz), ``lo <= f < hi``.
DIAGNOSIS_BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
}

#: Channels of each region (normalised 10-10 names). ``dbrain.qeeg.REGIONS`` plus
#: the Emotiv/10-10 electrodes AF3/AF4, FC5/FC6 (frontal) so 14-channel headsets
#: have a frontal region; ``posterior`` joins parietal, occipital and P7/P8.
DIAGNOSIS_REGIONS: dict[str, tuple[str, ...]] = {
    "frontal": ("Fp1", "Fp2", "AF3", "AF4", "F3", "F4", "F7", "F8", "Fz", "FC5", "FC6"),
    "central": ("C3", "C4", "Cz"),
    "temporal": ("T7", "T8", "P7", "P8"),
    "parietal": ("P3", "P4", "Pz"),
    "occipital": ("O1", "O2"),
}
_POSTERIOR = ("P3", "P4", "Pz", "P7", "P8", "O1", "O2")
_PAIRS = (("Fp1", "Fp2"), ("AF3", "AF4"), ("F3", "F4"), ("F7", "F8"), ("FC5", "FC6"), ("C3", "C4"), ("T7", "T8"))
_PAIRS += (("P3", "P4"), ("P7", "P8"), ("O1", "O2"))
_FRONTAL_PAIRS = (("Fp1", "Fp2"), ("AF3", "AF4"), ("F3", "F4"), ("F7", "F8"))

_REL = tuple(f"rel_{b}_{r}" for r in ("global", *DIAGNOSIS_REGIONS) for b in DIAGNOSIS_BANDS)
_RATIOS = ("theta_alpha_ratio", "slowing_ratio", "theta_alpha_ratio_posterior", "slowing_ratio_posterior")
_SPECTRAL = ("alpha_peak", "spectral_entropy", "aperiodic_exponent")
# Shape measures that need no peak and no particular electrode: posterior dominant frequency as the power centroid of
# 4-13 Hz (defined even when a slowed rhythm has no peak inside 7-13 Hz), spectral edge (90 % of 0.5-30 Hz power)
# and the log slowing ratios (the ratios' tails are multiplicative).
_SHAPE = (
    "dominant_frequency_posterior",
    "spectral_edge_90",
    "log_theta_alpha_ratio",
    "log_slowing_ratio",
    "log_slowing_ratio_posterior",
    "theta_beta_ratio",
)
# The same measures on 2-30 Hz only: the power below 2 Hz (drift, residual eye movement, filtering of the recording
# chain) differs most between cohorts and amplifiers (ds004504 has 88 % of its 0.5-30 Hz power in delta, ADFSU about
# 35 %), so relative powers, the slowing ratio and the median frequency of 2-30 Hz carry better from one site to another.
_REL2 = ("rel2_delta", "rel2_theta", "rel2_alpha", "rel2_beta", "log_slowing_ratio_2_30", "median_frequency_2_30")
#: Bands of the 2-30 Hz measures (Hz), ``lo <= f < hi``.
BANDS_2_30: dict[str, tuple[float, float]] = {
    "delta": (2.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
}
#: Bands of the standardised theta/beta ratio (Hz): theta 4-8, beta 13-21 (the NEBA / Monastra definition), at Cz,
#: or the mean spectrum of C3 and C4 when Cz is absent.
TBR_BANDS = {"theta": (4.0, 8.0), "beta": (13.0, 21.0)}
# The network's resting-state connectivity and graph features, as dbrain.network names them.
_NETWORK = tuple(f for f in RESTING_FEATURES if f not in ("alpha_peak", "n_epochs"))
_ASYM = ("asym_delta", "asym_theta", "asym_alpha", "asym_beta", "asym_alpha_frontal")

#: Columns that describe the input and are no model features: ``amplitude_uv`` (median channel SD in µV),
#: ``clean_seconds``, ``n_channels`` and ``artifact_seconds`` (seconds of EEG with artifact the features had to use
#: because there was too little clean EEG; 0 normally, see ``fallback_seconds`` of :func:`array_features`).
DESCRIPTORS: tuple[str, ...] = ("amplitude_uv", "clean_seconds", "n_channels", "artifact_seconds")
#: All feature columns, in order (the :data:`DESCRIPTORS` last).
FEATURES: tuple[str, ...] = (*_REL, *_RATIOS, *_SPECTRAL, *_NETWORK, *_ASYM, *_SHAPE, *_REL2)
FEATURES += DESCRIPTORS

#: Feature groups, for choosing subsets (``spectral`` is everything but ``network``).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "relative_power": _REL,
    "ratios": _RATIOS,
    "spectral": _SPECTRAL,
    "network": _NETWORK,
    "asymmetry": _ASYM,
    "shape": _SHAPE,
    "band_2_30": _REL2,
}

#: The cohort-robust features of the dementia screen: relative and ratio measures, posterior dominant frequency,
#: spectral edge, entropy and aperiodic exponent, all computable from 5 s on any 12 of the 10-20 electrodes (a
#: missing region falls back on the global spectrum; no midline electrode is needed). No connectivity: wPLI and
#: graph measures over two to four 2-s epochs are too noisy to carry from one cohort to another.
ROBUST_FEATURES: tuple[str, ...] = (
    *(f"rel_{b}_global" for b in DIAGNOSIS_BANDS),
    "log_theta_alpha_ratio",
    "log_slowing_ratio",
    "log_slowing_ratio_posterior",
    "dominant_frequency_posterior",
    "spectral_edge_90",
    "spectral_entropy",
    "aperiodic_exponent",
)

#: The shipped dementia screen's features: relative delta (2-4 Hz), theta, alpha and beta power within 2-30 Hz, the
#: log theta/alpha ratio and the posterior dominant frequency. Chosen by leave-one-cohort-out AUROC on 256-Hz,
#: 16-channel (no midline), 5-8 s cuts (``scripts/train_dementia_model.py``); the 0.5-2 Hz power is left out because
#: it differs most between cohorts and amplifiers.
DEMENTIA_FEATURES: tuple[str, ...] = (
    "rel2_delta",
    "rel2_theta",
    "rel2_alpha",
    "rel2_beta",
    "log_theta_alpha_ratio",
    "dominant_frequency_posterior",
)

#: How the dementia screen computes its features (:func:`recording_features` / :func:`array_features` keywords,
#: stored in its ``model.json``): rescaled to a 10 µV median channel SD before clean EEG is chosen, and every
#: non-flat epoch when less than 4 s is clean.
DEMENTIA_FEATURE_PATH: dict[str, float] = {"scale_to_uv": 10.0, "fallback_seconds": 4.0}


@dataclass
class FeatureResult:
    """The feature vector of one recording.

    Attributes
    ----------
    values : pandas.Series
        One value per :data:`FEATURES` name (NaN when not computable).
    missing : dict of str to str
        Feature name → why it could not be computed.
    ch_names : list of str
        Channels used.
    clean_seconds : float
        Seconds of clean EEG the features come from.
    """

    values: pd.Series
    missing: dict[str, str] = field(default_factory=dict)
    ch_names: list[str] = field(default_factory=list)
    clean_seconds: float = 0.0

    @property
    def computable(self) -> list[str]:
        """Names of the features that were computed."""
        return [k for k in FEATURES if k not in self.missing]

    def to_frame(self) -> pd.DataFrame:
        """The values as a one-row DataFrame with columns :data:`FEATURES` (then any candidate features computed)."""
        cols = list(FEATURES) + [k for k in self.values.index if k not in FEATURES]
        return pd.DataFrame([self.values.reindex(cols).to_numpy(float)], columns=cols)


def _idx(ch_names, members):
    low = {c.lower(): i for i, c in enumerate(ch_names)}
    return [low[m.lower()] for m in members if m.lower() in low]


def _periodogram(epochs, sfreq):
    from scipy.signal import detrend

    x = detrend(epochs, axis=-1, type="linear")
    win = np.hanning(x.shape[-1])
    psd = (np.abs(np.fft.rfft(x * win, axis=-1)) ** 2).mean(0) / (sfreq * (win**2).sum())
    psd[..., 1:] *= 2.0
    return psd * 1e12, np.fft.rfftfreq(x.shape[-1], 1.0 / sfreq)  # µV²/Hz


def _aperiodic_exponent(psd, freqs):
    from specparam import SpectralModel  # ~3 s import: only when used

    model = SpectralModel(peak_width_limits=(1.0, 8.0), max_n_peaks=4, aperiodic_mode="fixed", verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failed fits come back as NaN
        model.fit(freqs, psd, [2.0, 30.0])
    ap = np.asarray(model.get_params("aperiodic"), float).ravel()
    return float(ap[-1]) if ap.size else float("nan")


@renamed_parameter("seed", "random_state", since="0.2")
def compute_features(
    epochs,
    sfreq,
    ch_names,
    *,
    network: bool = True,
    aperiodic: bool = True,
    random_state: int = 0,
    clean_seconds=None,
    amplitude_uv=None,
    artifact_seconds: float = 0.0,
    candidates: bool = False,
) -> FeatureResult:
    """Compute the diagnosis feature vector of artifact-clean resting epochs.

    Relative band powers (0.5–30 Hz) globally and per region, the same
    within 2–30 Hz (``rel2_*``, with the log slowing ratio and the median
    frequency of 2–30 Hz: less sensitive to drift and filtering), theta/alpha and
    (theta+delta)/(alpha+beta) ratios (global and posterior), the posterior
    peak alpha frequency, the normalised spectral entropy (0.5–30 Hz), the
    specparam aperiodic exponent (2–30 Hz, ``fixed`` mode) of the mean
    spectrum, alpha/theta wPLI, coherence and orthogonalised AEC with the
    global efficiency and clustering of the wPLI graphs
    (:func:`dbrain.network.resting_state_features`), and hemispheric band-power
    asymmetries ``(R - L) / (R + L)`` over the homologous pairs present.

    Parameters
    ----------
    epochs : array, shape (n_epochs, n_channels, n_times)
        Artifact-clean resting EEG epochs in volts (e.g. from
        :func:`dbrain.network.clean_epochs`). Any subset of 10-20/10-10 channels.
    sfreq : float
        Sampling rate in Hz (at least 64 Hz).
    ch_names : list of str
        Normalised channel names (``T7`` not ``T3``), one per channel.
    network : bool
        Compute the connectivity and graph features (the slowest part).
    aperiodic : bool
        Fit the aperiodic exponent with specparam.
    random_state : int
        Seed of the graph measures (formerly ``seed``).
    clean_seconds : float | None
        Seconds of distinct clean EEG behind the epochs (overlapping epochs
        from :func:`short_clean_epochs`); ``n_epochs * epoch length`` when None.
    amplitude_uv : float | None
        Amplitude of the whole recording (:func:`amplitude_level`); the
        median channel SD of the epochs when None.
    artifact_seconds : float
        Seconds of EEG with artifact among the epochs (stored as the
        ``artifact_seconds`` descriptor; 0 for clean epochs).
    candidates : bool
        Add the ADHD screen's candidate features
        (:func:`dbrain.diagnosis.adhd_candidate_features`: regional aperiodic
        exponents, 2-40 Hz entropy, wPLI and coherence summaries, theta/beta
        variants) after :data:`FEATURES`.

    Returns
    -------
    result : FeatureResult
        The values, which were computable and why the others were not.
    """
    _check_range("sfreq", sfreq, 64.0, None)
    _validate_type(network, bool, "network")
    _validate_type(aperiodic, bool, "aperiodic")
    epochs = np.asarray(epochs, dtype=float)
    if epochs.ndim != 3:
        raise ParameterError(f"epochs must be 3-D (n_epochs, n_channels, n_times), got shape {epochs.shape}.")
    ch_names = [str(c) for c in ch_names]
    if len(ch_names) != epochs.shape[1]:
        raise ParameterError(f"ch_names has {len(ch_names)} names for {epochs.shape[1]} channels.")
    if epochs.shape[2] < 2 * sfreq:
        raise ParameterError(f"epochs must be at least 2 s long, got {epochs.shape[2] / sfreq:g} s.")
    vals = dict.fromkeys(FEATURES, np.nan)
    missing: dict[str, str] = {}
    if candidates:
        from ._adhd import CANDIDATE_COLUMNS, adhd_candidate_features

        vals.update(dict.fromkeys(CANDIDATE_COLUMNS, np.nan))
    n_ep = epochs.shape[0]
    clean = float(n_ep * epochs.shape[2] / sfreq) if clean_seconds is None else float(clean_seconds)
    vals["clean_seconds"], vals["n_channels"] = clean, float(len(ch_names))
    vals["artifact_seconds"] = float(artifact_seconds)
    if amplitude_uv is not None:
        vals["amplitude_uv"] = float(amplitude_uv)
    if n_ep == 0 or not ch_names:
        for k in vals:
            if k in DESCRIPTORS:
                continue
            missing[k] = "no clean EEG"
        return FeatureResult(pd.Series(vals), missing, ch_names, clean)
    psd, freqs = _periodogram(epochs, sfreq)
    bands = list(DIAGNOSIS_BANDS)

    def rel_of(idx):
        spec = psd[idx].mean(0)
        _, rel, _ = band_powers(spec, freqs, DIAGNOSIS_BANDS)
        return dict(zip(bands, np.asarray(rel, float), strict=True)), spec

    groups = {"global": list(range(len(ch_names)))} | {r: _idx(ch_names, m) for r, m in DIAGNOSIS_REGIONS.items()}
    for region, idx in groups.items():
        if not idx:
            for b in bands:
                missing[f"rel_{b}_{region}"] = f"no {region} channel"
            continue
        rel, _ = rel_of(idx)
        for b in bands:
            vals[f"rel_{b}_{region}"] = rel[b]
    rel, spec = rel_of(groups["global"])
    vals["theta_alpha_ratio"] = rel["theta"] / rel["alpha"]
    vals["slowing_ratio"] = (rel["theta"] + rel["delta"]) / (rel["alpha"] + rel["beta"])
    post = _idx(ch_names, _POSTERIOR)
    if post:
        prel, pspec = rel_of(post)
        vals["theta_alpha_ratio_posterior"] = prel["theta"] / prel["alpha"]
        vals["slowing_ratio_posterior"] = (prel["theta"] + prel["delta"]) / (prel["alpha"] + prel["beta"])
    else:
        pspec = spec
        missing["theta_alpha_ratio_posterior"] = missing["slowing_ratio_posterior"] = "no posterior channel"
    if amplitude_uv is None:
        vals["amplitude_uv"] = float(np.median(epochs.std(axis=2).mean(axis=0)) * 1e6)
    vals["log_theta_alpha_ratio"] = np.log(vals["theta_alpha_ratio"])
    vals["log_slowing_ratio"] = np.log(vals["slowing_ratio"])
    # without posterior electrodes the global spectrum stands in (a stated substitute, not a missing value)
    vals["log_slowing_ratio_posterior"] = np.log(vals["slowing_ratio_posterior"] if post else vals["slowing_ratio"])
    band = (freqs >= 4.0) & (freqs <= 13.0)
    vals["dominant_frequency_posterior"] = float((freqs[band] * pspec[band]).sum() / pspec[band].sum())
    sel30 = (freqs >= 0.5) & (freqs < 30.0)
    cum = np.cumsum(spec[sel30]) / spec[sel30].sum()
    vals["spectral_edge_90"] = float(freqs[sel30][min(np.searchsorted(cum, 0.9), cum.size - 1)])
    _band_2_30(spec, freqs, vals)
    site = _idx(ch_names, ["Cz"]) or _idx(ch_names, ["C3", "C4"])
    if site:
        vals["theta_beta_ratio"] = _band_ratio(psd[site].mean(0), freqs, TBR_BANDS["theta"], TBR_BANDS["beta"])
    else:
        missing["theta_beta_ratio"] = "no Cz, C3 or C4"
    paf = float(peak_frequency(pspec, freqs, 7.0, 13.0))
    vals["alpha_peak"] = paf
    if not np.isfinite(paf):
        missing["alpha_peak"] = "no spectral peak inside 7-13 Hz"
    sel = (freqs >= 0.5) & (freqs < 30.0)
    p = spec[sel] / spec[sel].sum()
    vals["spectral_entropy"] = float(-(p * np.log(np.maximum(p, 1e-30))).sum() / np.log(p.size))
    if aperiodic:
        vals["aperiodic_exponent"] = _aperiodic_exponent(spec, freqs)
        if not np.isfinite(vals["aperiodic_exponent"]):
            missing["aperiodic_exponent"] = "specparam fit failed"
    else:
        missing["aperiodic_exponent"] = "not requested"
    _network_features(epochs, sfreq, ch_names, vals, missing, network, random_state)
    _asymmetries(psd, freqs, ch_names, vals, missing)
    if candidates:
        vals.update(adhd_candidate_features(epochs, sfreq, ch_names))
    for k in vals:
        if k not in missing and not np.isfinite(vals[k]):
            missing[k] = "not finite (flat or empty spectrum)"
    return FeatureResult(pd.Series(vals), missing, ch_names, clean)


def _band_ratio(spec, freqs, num, den):
    """Power in ``num`` over power in ``den`` (Hz, ``lo <= f < hi``) of one spectrum; NaN without ``den`` power."""
    a = spec[(freqs >= num[0]) & (freqs < num[1])].sum()
    b = spec[(freqs >= den[0]) & (freqs < den[1])].sum()
    return float(a / b) if b > 0 else np.nan


def theta_beta_ratio(epochs, sfreq, ch_names, *, site=("Cz",), theta=(4.0, 8.0), beta=(13.0, 21.0)) -> float:
    """Theta/beta power ratio of clean epochs at a site, for any of the literature's definitions.

    The spectra (Hann periodograms, as :func:`compute_features`) of the
    ``site`` channels present are averaged in power; the ratio is theta power
    over beta power. The diagnosis feature ``theta_beta_ratio`` is this ratio
    at Cz (C3/C4 when Cz is absent) with :data:`TBR_BANDS`.

    Parameters
    ----------
    epochs : array, shape (n_epochs, n_channels, n_times)
        Artifact-clean EEG epochs.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names, one per channel.
    site : sequence of str
        Channels whose spectra are averaged (e.g. ``("Cz",)``, ``("Fz",)``, ``("C3", "Cz", "C4")``).
    theta, beta : tuple of float
        Band edges in Hz (``lo <= f < hi``).

    Returns
    -------
    ratio : float
        The ratio (NaN when no ``site`` channel is present or there is no epoch).
    """
    _check_range("sfreq", sfreq, 1.0, None)
    epochs = np.asarray(epochs, dtype=float)
    if epochs.ndim != 3 or epochs.shape[1] != len(ch_names):
        raise ParameterError(f"epochs must be (n_epochs, {len(ch_names)} channels, n_times), got shape {epochs.shape}.")
    for name, band in (("theta", theta), ("beta", beta)):
        if len(band) != 2 or not 0 <= band[0] < band[1] <= sfreq / 2:
            raise ParameterError(f"{name} must be (low, high) Hz with 0 <= low < high <= {sfreq / 2:g}, got {band}.")
    idx = _idx([str(c) for c in ch_names], list(site))
    if not idx or not len(epochs):
        return float("nan")
    psd, freqs = _periodogram(epochs[:, idx], sfreq)
    return _band_ratio(psd.mean(0), freqs, theta, beta)


def _band_2_30(spec, freqs, vals):
    """Relative powers, log slowing ratio and median frequency of the global spectrum within 2-30 Hz."""
    sel = (freqs >= 2.0) & (freqs < 30.0)
    total = spec[sel].sum()
    if not total > 0:
        return
    p = {b: spec[(freqs >= lo) & (freqs < hi)].sum() / total for b, (lo, hi) in BANDS_2_30.items()}
    for b, v in p.items():
        vals[f"rel2_{b}"] = float(v)
    if p["alpha"] + p["beta"] > 0 and p["delta"] + p["theta"] > 0:
        vals["log_slowing_ratio_2_30"] = float(np.log((p["delta"] + p["theta"]) / (p["alpha"] + p["beta"])))
    cum = np.cumsum(spec[sel]) / total
    vals["median_frequency_2_30"] = float(np.interp(0.5, cum, freqs[sel]))  # interpolated: 2-s epochs give 0.5-Hz bins


def _network_features(epochs, sfreq, ch_names, vals, missing, network, random_state):
    if not network:
        reason = "not requested"
    elif len(ch_names) < 4:
        reason = "fewer than 4 channels"
    elif epochs.shape[0] < 2:
        reason = "fewer than 2 clean epochs"
    else:
        from ..network import resting_state_features

        row = resting_state_features(epochs, sfreq, ch_names, random_state=random_state).iloc[0]
        for k in _NETWORK:
            vals[k] = float(row[k])
            if not np.isfinite(vals[k]):
                missing[k] = "graph could not be built"
        return
    for k in _NETWORK:
        missing[k] = reason


def _asymmetries(psd, freqs, ch_names, vals, missing):
    absolute, _, _ = band_powers(psd, freqs, DIAGNOSIS_BANDS)
    absolute = np.asarray(absolute, float)
    for name, pairs, band in [(f"asym_{b}", _PAIRS, b) for b in DIAGNOSIS_BANDS] + [
        ("asym_alpha_frontal", _FRONTAL_PAIRS, "alpha")
    ]:
        left = [_idx(ch_names, [a]) for a, b in pairs]
        right = [_idx(ch_names, [b]) for a, b in pairs]
        ok = [(lo[0], ro[0]) for lo, ro in zip(left, right, strict=True) if lo and ro]
        if not ok:
            missing[name] = "no homologous left/right pair"
            continue
        k = list(DIAGNOSIS_BANDS).index(band)
        lp = absolute[[i for i, _ in ok], k].sum()
        rp = absolute[[j for _, j in ok], k].sum()
        vals[name] = float((rp - lp) / (rp + lp)) if rp + lp > 0 else np.nan


#: Recordings shorter than this (s) are cut into 2-s epochs every second (50 % overlap) instead of back to back, so
#: that 5 s of EEG with one artifact still leaves 4 s of clean epochs.
SHORT_RECORDING = 30.0


def short_clean_epochs(data, sfreq, ch_names, *, length: float = 2.0, line_freq=None):
    """Artifact-clean epochs with 50 % overlap, for short recordings.

    :func:`dbrain.network.select_clean_epochs` is run on the data and on the
    data shifted by half an epoch; the two sets of clean epochs are merged
    (the shifted set only when it kept the same channels). When that leaves
    less than :data:`MIN_SHORT_CLEAN` seconds, every channel with artifact in
    any epoch is dropped instead, provided at least 12 channels (or three
    quarters of fewer) remain.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in volts.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names.
    length : float
        Epoch length in seconds (a whole number, at least 2).
    line_freq : float | None
        Mains frequency for the artifact score (None: not scored).

    Returns
    -------
    epochs : numpy.ndarray, shape (n_epochs, n_kept_channels, n_samples)
        Clean epochs, ordered by start.
    ch_names : list of str
        The channels kept.
    clean_seconds : float
        Seconds of the recording covered by at least one clean epoch.
    """
    data = np.asarray(data, float)
    ep, kept, clean = _overlapping(data, sfreq, ch_names, length, line_freq, 0.5)
    if clean < MIN_SHORT_CLEAN:
        # One channel's transient must not cost a short recording its screen: drop every channel with artifact in
        # any epoch instead, when at least 12 channels (or 3/4 of fewer) remain.
        ep2, kept2, clean2 = _overlapping(data, sfreq, ch_names, length, line_freq, 0.0)
        if clean2 > clean and len(kept2) >= min(12, int(np.ceil(0.75 * len(ch_names)))):
            return ep2, kept2, clean2
    return ep, kept, clean


#: Clean seconds from which a short recording keeps the usual bad-channel rule (the dementia screen's minimum).
MIN_SHORT_CLEAN = 4.0


def _overlapping(data, sfreq, ch_names, length, line_freq, bad_channel_fraction):
    from ..network import select_clean_epochs

    kw = {"length": length, "line_freq": line_freq, "bad_channel_fraction": bad_channel_fraction}
    ep, starts, kept = select_clean_epochs(data, sfreq, ch_names, **kw)
    half = int(round(length * sfreq / 2))
    if data.shape[1] - half >= int(round(length * sfreq)):
        ep2, st2, kept2 = select_clean_epochs(data[:, half:], sfreq, ch_names, offset=half / sfreq, **kw)
        if kept2 == kept and len(ep2):
            ep = np.concatenate([ep, ep2]) if len(ep) else ep2
            starts = np.concatenate([starts, st2])
    order = np.argsort(starts)
    ep, starts = ep[order], np.asarray(starts, float)[order]
    covered = np.zeros(int(np.ceil(data.shape[1] / sfreq * 2)) + 1, bool)  # half-second grid
    for s0 in starts:
        covered[int(round(s0 * 2)) : int(round((s0 + length) * 2))] = True
    return ep, list(kept), float(covered.sum() / 2.0)


def amplitude_level(data) -> float:
    """Median over channels of the robust SD (1.4826 x median absolute deviation) of a recording, in µV.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in volts.

    Returns
    -------
    level : float
        The amplitude level in µV (NaN without data).
    """
    data = np.asarray(data, float)
    if data.size == 0:
        return float("nan")
    mad = np.median(np.abs(data - np.median(data, axis=1, keepdims=True)), axis=1) * 1.4826
    return float(np.median(mad) * 1e6)


def rescale(data, target_uv: float):
    """Data rescaled so that the median channel's robust SD is ``target_uv`` µV, and the factor applied.

    For recordings of unknown amplitude units (the ADHD children's set): the
    artifact detector's absolute thresholds then act relative to the
    recording's own amplitude, the same way in training and in use. Every
    diagnosis feature is scale-free, so the features are otherwise unchanged.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in any unit.
    target_uv : float
        Robust SD (1.4826 x median absolute deviation) of the median channel after rescaling, in µV.

    Returns
    -------
    data : numpy.ndarray
        Rescaled data (volts if ``target_uv`` is read as µV).
    factor : float
        The factor applied (1 when the data are flat).
    """
    data = np.asarray(data, float)
    level = amplitude_level(data) * 1e-6
    factor = target_uv * 1e-6 / level if level > 0 else 1.0
    return data * factor, factor


def array_features(
    data,
    sfreq,
    ch_names,
    *,
    max_seconds: float = 300.0,
    network: bool = True,
    aperiodic: bool = True,
    scale_to_uv: float | None = None,
    band: tuple[float, float] = (0.5, 45.0),
    fallback_seconds: float | None = None,
    fallback_channels: int = 12,
    candidates: bool = False,
):
    """Diagnosis features of a continuous EEG array, the way :func:`recording_features` computes them.

    Recordings shorter than :data:`SHORT_RECORDING` use overlapping 2-s
    epochs (:func:`short_clean_epochs`); longer ones back-to-back 2-s epochs,
    at most ``max_seconds`` of them spread evenly over the recording.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in volts.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names.
    max_seconds : float
        At most this many seconds of clean epochs.
    network, aperiodic : bool
        As in :func:`compute_features`.
    scale_to_uv : float | None
        Band-pass the data (``band``) and rescale it (:func:`rescale`) first,
        for data of unknown units; ``amplitude_uv`` then still reports the
        amplitude before rescaling.
    band : tuple of float
        Pass band (Hz) applied with ``scale_to_uv`` (the high edge is capped
        at 0.45 x ``sfreq``).
    fallback_seconds : float | None
        When the clean EEG is shorter than this, or keeps fewer than
        ``fallback_channels`` channels, use every 2-s epoch (50 % overlap, at
        most ``max_seconds``) of every channel that is not flat instead, and
        report the seconds with artifact in the ``artifact_seconds``
        descriptor (:func:`all_epochs`). None: clean EEG only.
    fallback_channels : int
        Channels the clean EEG must keep to avoid the fallback.
    candidates : bool
        Add the ADHD candidate features (as in :func:`compute_features`).

    Returns
    -------
    result : FeatureResult
        The features.
    """
    data = np.asarray(data, float)
    if data.ndim != 2:
        raise ParameterError(f"data must be 2-D (n_channels, n_times), got shape {data.shape}.")
    if scale_to_uv is not None:
        import mne

        # unknown units usually come with unknown filtering: band-pass first, so drift cannot set the scale
        lo, hi = (float(b) for b in band)
        if not 0 < lo < hi:
            raise ParameterError(f"band must be (low, high) Hz with 0 < low < high, got {band}.")
        data = mne.filter.filter_data(data, float(sfreq), lo, min(hi, 0.45 * float(sfreq)), verbose="error")
        data, factor = rescale(data, scale_to_uv)
        res = array_features(
            data,
            sfreq,
            ch_names,
            max_seconds=max_seconds,
            network=network,
            aperiodic=aperiodic,
            fallback_seconds=fallback_seconds,
            fallback_channels=fallback_channels,
            candidates=candidates,
        )
        res.values["amplitude_uv"] = res.values["amplitude_uv"] / factor
        return res
    from ..network import select_clean_epochs

    kw = {"network": network, "aperiodic": aperiodic, "amplitude_uv": amplitude_level(data), "candidates": candidates}
    if data.shape[1] < 2 * sfreq:
        return compute_features(np.empty((0, len(ch_names), int(2 * sfreq))), sfreq, ch_names, **kw)
    if data.shape[1] / sfreq < SHORT_RECORDING:
        ep, kept, clean = short_clean_epochs(data, sfreq, ch_names)
    else:
        ep, _, kept = select_clean_epochs(data, sfreq, ch_names, length=2.0, line_freq=None)
        clean = float(len(ep) * 2.0)
        n_max = int(max_seconds // 2.0)
        if len(ep) > n_max:
            ep = ep[np.linspace(0, len(ep) - 1, n_max).round().astype(int)]
    if fallback_seconds is not None and (clean < fallback_seconds or len(kept) < fallback_channels):
        # too little clean EEG: the EEG there is, artifact and all, flagged so the screen widens its interval
        ep2, kept2, seconds = all_epochs(data, sfreq, ch_names, max_seconds=max_seconds)
        if seconds >= fallback_seconds and len(kept2) >= fallback_channels:
            artifact = max(seconds - (clean if len(kept) >= fallback_channels else 0.0), 0.0)
            return compute_features(ep2, sfreq, kept2, clean_seconds=seconds - artifact, artifact_seconds=artifact, **kw)
    if data.shape[1] / sfreq < SHORT_RECORDING:
        return compute_features(ep, sfreq, kept, clean_seconds=clean, **kw)
    return compute_features(ep, sfreq, kept, **kw)


def all_epochs(data, sfreq, ch_names, *, max_seconds: float = 60.0):
    """Every 2-s epoch (1-s step) of the channels that are not flat, artifact or not.

    The last resort of a screen that must not leave a plausible recording
    without a probability: a channel is flat when its robust SD is below
    0.05 times the median channel's (or not finite), which no scaling of the
    recording changes.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in volts.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names.
    max_seconds : float
        At most this many seconds, from the start.

    Returns
    -------
    epochs : numpy.ndarray, shape (n_epochs, n_kept_channels, n_samples)
        The epochs.
    ch_names : list of str
        The channels that are not flat.
    seconds : float
        Seconds the epochs cover.
    """
    data = np.asarray(data, float)[:, : int(round(max_seconds * sfreq))]
    finite = np.isfinite(data).all(axis=1)
    mad = np.full(len(data), 0.0)
    mad[finite] = np.median(np.abs(data[finite] - np.median(data[finite], axis=1, keepdims=True)), axis=1)
    ref = np.median(mad[finite]) if finite.any() else 0.0
    keep = np.flatnonzero(finite & (mad > 0.05 * ref) & (mad > 0)) if ref > 0 else np.array([], int)
    n = int(round(2.0 * sfreq))
    starts = np.arange(0, data.shape[1] - n + 1, int(round(sfreq))) if data.shape[1] >= n else np.array([], int)
    if not keep.size or not starts.size:
        return np.empty((0, keep.size, n)), [ch_names[k] for k in keep], 0.0
    ep = np.stack([data[keep, s0 : s0 + n] for s0 in starts])
    return ep, [ch_names[k] for k in keep], float((starts[-1] + n) / sfreq)


def recording_features(
    raw,
    *,
    length: float = 2.0,
    max_duration: float = 300.0,
    network: bool = True,
    aperiodic: bool = True,
    scale_to_uv: float | None = None,
    band: tuple[float, float] = (0.5, 45.0),
    fallback_seconds: float | None = None,
    candidates: bool = False,
) -> FeatureResult:
    """Diagnosis features of a recording from its artifact-clean epochs.

    The clean epochs are chosen by :func:`dbrain.network.clean_epochs`
    (artifact strength below 0.5, persistently bad channels dropped);
    recordings shorter than :data:`SHORT_RECORDING` seconds use 2-s epochs
    every second (:func:`short_clean_epochs`).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (normalised channel names, volts).
    length : float
        Epoch length in seconds (the shipped models use 2 s).
    max_duration : float
        At most this many seconds of clean EEG are used.
    network : bool
        Compute the connectivity and graph features.
    aperiodic : bool
        Fit the aperiodic exponent.
    scale_to_uv : float | None
        Rescale to this robust SD before choosing clean epochs (:func:`rescale`,
        for screens trained on data of unknown units); only the first
        ``max_duration`` seconds are then read, as one array.
    band : tuple of float
        Pass band (Hz) applied before rescaling (with ``scale_to_uv`` only).
    fallback_seconds : float | None
        With ``scale_to_uv``: when there is less clean EEG than this, use
        all the EEG of the channels that are not flat and report the seconds
        with artifact (``fallback_seconds`` of :func:`array_features`).
    candidates : bool
        Add the ADHD candidate features (as in :func:`compute_features`).

    Returns
    -------
    result : FeatureResult
        Features of the clean epochs (all missing when none are clean).
    """
    import mne

    if scale_to_uv is not None:
        picks = mne.pick_types(raw.info, meg=False, eeg=True, exclude="bads")
        stop = min(raw.n_times, int(max_duration * raw.info["sfreq"]))
        data = raw.get_data(picks=picks, stop=stop)
        chs = [raw.ch_names[i] for i in picks]
        return array_features(
            data,
            raw.info["sfreq"],
            chs,
            max_seconds=max_duration,
            network=network,
            aperiodic=aperiodic,
            scale_to_uv=scale_to_uv,
            band=band,
            fallback_seconds=fallback_seconds,
            candidates=candidates,
        )

    from ..network import clean_epochs

    # (n_times - 1) / sfreq is raw.times[-1] without building the whole time axis (531 MB for 72 h at 256 Hz).
    if (raw.n_times - 1) / float(raw.info["sfreq"]) < SHORT_RECORDING and length == 2.0:
        picks = mne.pick_types(raw.info, meg=False, eeg=True, exclude="bads")
        chs = [raw.ch_names[i] for i in picks]
        data = raw.get_data(picks=picks)
        ep, kept, clean = short_clean_epochs(data, raw.info["sfreq"], chs, line_freq=raw.info.get("line_freq") or 50.0)
        amp = amplitude_level(data)
        return compute_features(
            ep,
            raw.info["sfreq"],
            kept,
            network=network,
            aperiodic=aperiodic,
            clean_seconds=clean,
            amplitude_uv=amp,
            candidates=candidates,
        )
    epochs, _, ch_names = clean_epochs(raw, length=length, max_duration=max_duration)
    amp = None
    if not len(epochs):  # no clean epoch to measure: the first minute says whether the units are plausible
        picks = mne.pick_types(raw.info, meg=False, eeg=True, exclude="bads")
        amp = amplitude_level(raw.get_data(picks=picks, stop=min(raw.n_times, int(60 * raw.info["sfreq"]))))
    return compute_features(
        epochs, raw.info["sfreq"], ch_names, network=network, aperiodic=aperiodic, amplitude_uv=amp, candidates=candidates
    )
