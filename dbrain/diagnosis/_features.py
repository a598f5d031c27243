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
# The network's resting-state connectivity and graph features, as dbrain.network names them.
_NETWORK = tuple(f for f in RESTING_FEATURES if f not in ("alpha_peak", "n_epochs"))
_ASYM = ("asym_delta", "asym_theta", "asym_alpha", "asym_beta", "asym_alpha_frontal")

#: All feature columns, in order (``clean_seconds`` and ``n_channels`` describe the input).
FEATURES: tuple[str, ...] = (*_REL, *_RATIOS, *_SPECTRAL, *_NETWORK, *_ASYM, "clean_seconds", "n_channels")

#: Feature groups, for choosing subsets (``spectral`` is everything but ``network``).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "relative_power": _REL,
    "ratios": _RATIOS,
    "spectral": _SPECTRAL,
    "network": _NETWORK,
    "asymmetry": _ASYM,
}


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
        """The values as a one-row DataFrame with columns :data:`FEATURES`."""
        return pd.DataFrame([self.values.reindex(list(FEATURES)).to_numpy(float)], columns=list(FEATURES))


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


def compute_features(epochs, sfreq, ch_names, *, network: bool = True, aperiodic: bool = True, seed: int = 0) -> FeatureResult:
    """Compute the diagnosis feature vector of artifact-clean resting epochs.

    Relative band powers (0.5–30 Hz) globally and per region, theta/alpha and
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
    seed : int
        Seed of the graph measures.

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
    n_ep = epochs.shape[0]
    clean = float(n_ep * epochs.shape[2] / sfreq)
    vals["clean_seconds"], vals["n_channels"] = clean, float(len(ch_names))
    if n_ep == 0 or not ch_names:
        for k in FEATURES[:-2]:
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
    _network_features(epochs, sfreq, ch_names, vals, missing, network, seed)
    _asymmetries(psd, freqs, ch_names, vals, missing)
    for k in FEATURES:
        if k not in missing and not np.isfinite(vals[k]):
            missing[k] = "not finite (flat or empty spectrum)"
    return FeatureResult(pd.Series(vals), missing, ch_names, clean)


def _network_features(epochs, sfreq, ch_names, vals, missing, network, seed):
    if not network:
        reason = "not requested"
    elif len(ch_names) < 4:
        reason = "fewer than 4 channels"
    elif epochs.shape[0] < 2:
        reason = "fewer than 2 clean epochs"
    else:
        from ..network import resting_state_features

        row = resting_state_features(epochs, sfreq, ch_names, seed=seed).iloc[0]
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


def recording_features(
    raw, *, length: float = 2.0, max_duration: float = 300.0, network: bool = True, aperiodic: bool = True
) -> FeatureResult:
    """Diagnosis features of a recording from its artifact-clean epochs.

    The clean epochs are chosen by :func:`dbrain.network.clean_epochs`
    (artifact strength below 0.5, persistently bad channels dropped).

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

    Returns
    -------
    result : FeatureResult
        Features of the clean epochs (all missing when none are clean).
    """
    from ..network import clean_epochs

    epochs, _, ch_names = clean_epochs(raw, length=length, max_duration=max_duration)
    return compute_features(epochs, raw.info["sfreq"], ch_names, network=network, aperiodic=aperiodic)
