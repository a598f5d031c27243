"""The ADHD screen's recipe: its feature path, its features, its training, and the candidate features it was tested on.

One recipe serves ``scripts/train_adhd_model.py`` (the shipped model), ``dbrain train adhd DATA`` and the
``diagnosis`` step of ``dbrain analyze``, so that the command reproduces the shipped model on the same data
(test ``test_train_adhd_reproduces_the_shipped_model``).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..utils.check import _check_range
from ._features import DIAGNOSIS_REGIONS, _band_ratio, _idx, _periodogram, recording_features

#: How the ADHD screen computes its features (:func:`recording_features` keywords): the first 60 s (recording length
#: depends on the child's speed in the task), band-passed 0.5-45 Hz and rescaled to a 10 µV robust SD (units unknown
#: at source), no graph measures, and the candidate features (:func:`adhd_candidate_features`) on the same epochs.
ADHD_FEATURE_PATH: dict = {"max_duration": 60.0, "network": False, "scale_to_uv": 10.0, "band": (0.5, 45.0), "candidates": True}

#: The session-6 screen's features: the theta/beta ratio and the hemispheric asymmetries, whose within-group rank
#: correlation with the recording's amplitude level is small (one of the candidate sets since session 7).
ADHD_SCREEN_FEATURES: tuple[str, ...] = (
    "theta_beta_ratio",
    "asym_delta",
    "asym_theta",
    "asym_alpha",
    "asym_beta",
    "asym_alpha_frontal",
)

#: Age range (years) of the training children, and the ages for which the screen runs.
ADHD_AGES = {"trained": (7.0, 12.0), "limits": (6.0, 17.99), "norms": (7.0, 12.99)}


def adhd_features(raw):
    """The features of a recording computed the way the ADHD screen's training data were.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (normalised channel names, volts or any unit).

    Returns
    -------
    result : FeatureResult
        Features of the first 60 s (:data:`ADHD_FEATURE_PATH`).
    """
    return recording_features(raw, **ADHD_FEATURE_PATH)


def theta_beta_norms(tbr, y) -> dict:
    """Child norms of the standardised theta/beta ratio from the control rows.

    Parameters
    ----------
    tbr : array-like of float
        ``theta_beta_ratio`` per child (NaN when not computable).
    y : array-like of int
        1 = ADHD, 0 = control.

    Returns
    -------
    norms : dict
        Mean and SD of the natural log of the controls' ratios, with the definition (Cz, 4-8 / 13-21 Hz), the
        counts and the ages the norms cover.
    """
    lt = np.log(np.asarray(tbr, float))
    y = np.asarray(y).astype(int)
    ctrl = lt[(y == 0) & np.isfinite(lt)]
    if ctrl.size < 3:
        raise ParameterError(f"theta/beta norms need at least 3 control children with the ratio, got {ctrl.size}.")
    return {
        "channel": "Cz (C3/C4 mean when Cz is absent)",
        "bands_hz": {"theta": [4.0, 8.0], "beta": [13.0, 21.0]},
        "scale": "natural log of the power ratio",
        "mean_log": float(ctrl.mean()),
        "sd_log": float(ctrl.std(ddof=1)),
        "n_controls": int(ctrl.size),
        "n_adhd": int(((y == 1) & np.isfinite(lt)).sum()),
        "age_range": list(ADHD_AGES["norms"]),
        "ages": "7-12 y pooled (per-child ages not available: no age bins, no regression on age)",
        "condition": "visual counting task (not eyes-closed rest), first 60 s",
    }


def adhd_screen(**kwargs):
    """An unfitted ADHD screen with the shipped recipe: its feature set chosen among :data:`CANDIDATE_SETS`.

    The choice is made by inner subject-grouped AUROC on the training
    children (``feature_sets`` of :class:`ADHDScreen`), so inside a nested
    cross-validation it is made on each outer training fold only.

    Parameters
    ----------
    **kwargs
        Other :class:`ADHDScreen` parameters (``n_bootstrap``, ``random_state``, ...).

    Returns
    -------
    screen : ADHDScreen
        The unfitted screen.
    """
    from ._screens import ADHDScreen

    return ADHDScreen(feature_sets={k: list(v) for k, v in CANDIDATE_SETS.items()}, **kwargs)


def write_adhd_model(X, y, groups, out, *, cohort: str, repeats: int = 3, random_state: int = 0, extra_norms=None):
    """Evaluate, fit and write the ADHD screen the way the shipped model was made.

    Nested subject-wise cross-validation and the fit on all rows
    (:func:`write_model`) with :func:`adhd_screen`, then the applicability:
    ages, the feature path (:data:`ADHD_FEATURE_PATH`) and the theta/beta norms of
    the usable control rows.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature rows from :func:`adhd_features` (one per child).
    y : array-like of int
        1 = ADHD, 0 = control.
    groups : array-like
        Child of each row.
    out : str | pathlib.Path
        Model folder (created).
    cohort : str
        One line describing the training data.
    repeats : int
        Repetitions of the outer cross-validation split.
    random_state : int
        Seed of the splits and of the fit.
    extra_norms : dict | None
        More entries for the theta/beta norms (the training script adds the literature's variants).

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds (with ``applicability``).
    """
    import json
    from pathlib import Path

    from ._train import write_model

    _check_range("repeats", repeats, 1, None)
    screen = adhd_screen(random_state=random_state)
    y = np.asarray(y).astype(int)
    metrics = write_model(screen, X, y, groups, out, cohort=cohort, repeats=repeats, random_state=random_state)
    ok = screen.usable(X)
    norms = theta_beta_norms(X.loc[ok, "theta_beta_ratio"].to_numpy(float), y[ok]) | dict(extra_norms or {})
    path = ADHD_FEATURE_PATH
    screen.set_applicability(
        age_trained=ADHD_AGES["trained"],
        age_limits=ADHD_AGES["limits"],
        age_required=True,
        extra={
            "theta_beta_norms": norms,
            "scale_to_uv": path["scale_to_uv"],
            "band_hz": list(path["band"]),
            "candidate_features": path["candidates"],
        },
    )
    screen.save(Path(out) / "model.json")
    metrics["applicability"] = screen.applicability_
    metrics["theta_beta_norms"] = norms
    metrics["band_hz"] = list(path["band"])
    (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float) + "\n", encoding="utf-8")
    return metrics


# -- candidate features (session 7), measured in scripts/train_adhd_model.py ------------------------------------------

#: Bands of the candidate connectivity and ratio features (Hz, ``lo <= f < hi``).
CANDIDATE_BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
_CONN_REGIONS = {
    "frontal": ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "Fz"),
    "centroparietal": ("C3", "C4", "Cz", "P3", "P4", "Pz"),
    "posterior": ("P3", "P4", "Pz", "P7", "P8", "O1", "O2"),
}
_HOMOLOGOUS = (("Fp1", "Fp2"), ("F3", "F4"), ("F7", "F8"), ("C3", "C4"), ("T7", "T8"), ("P3", "P4"), ("P7", "P8"))
_HOMOLOGOUS += (("O1", "O2"),)


def _loglog_exponent(spec, freqs, lo=2.0, hi=30.0, skip=(7.0, 14.0)):
    """Aperiodic exponent from a robust (Theil-Sen) line through log10 power vs log10 frequency, alpha band left out."""
    from scipy.stats import theilslopes

    sel = (freqs >= lo) & (freqs <= hi) & ~((freqs >= skip[0]) & (freqs <= skip[1])) & (spec > 0)
    if sel.sum() < 5:
        return float("nan")
    slope = theilslopes(np.log10(spec[sel]), np.log10(freqs[sel]))[0]
    return float(-slope)


def adhd_candidate_features(epochs, sfreq, ch_names) -> dict:
    """Scale- and length-free candidate features for the ADHD screen (session 7), from clean epochs.

    Aperiodic (1/f) exponent per region (specparam, 2-30 Hz, ``fixed``; and a
    robust log-log line without the alpha band, global), spectral entropy of
    2-40 Hz (no drift below 2 Hz), wPLI per band (theta, alpha, beta) averaged
    within regions, between frontal and posterior channels and over
    homologous pairs, magnitude-squared coherence per band (global and
    homologous), the theta/beta ratio's frontal and central variants (log) and
    the posterior alpha peak. None of them depends on the amplitude scale;
    they come from a fixed number of seconds, so not from the recording length.

    Parameters
    ----------
    epochs : array, shape (n_epochs, n_channels, n_times)
        Artifact-clean EEG epochs (at least 2 for the connectivity).
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Normalised channel names.

    Returns
    -------
    values : dict of str to float
        Feature name to value (NaN when not computable).
    """
    from ..qeeg import peak_frequency
    from ._features import _aperiodic_exponent

    _check_range("sfreq", sfreq, 64.0, None)
    epochs = np.asarray(epochs, float)
    if epochs.ndim != 3 or epochs.shape[1] != len(ch_names):
        raise ParameterError(f"epochs must be (n_epochs, {len(ch_names)} channels, n_times), got shape {epochs.shape}.")
    ch_names = [str(c) for c in ch_names]
    out: dict[str, float] = {}
    psd, freqs = _periodogram(epochs, sfreq)
    spec = psd.mean(0)
    regions = {"frontal": DIAGNOSIS_REGIONS["frontal"], "central": DIAGNOSIS_REGIONS["central"]}
    regions["posterior"] = ("P3", "P4", "Pz", "P7", "P8", "O1", "O2")
    for r, members in regions.items():
        idx = _idx(ch_names, members)
        out[f"aperiodic_exponent_{r}"] = _aperiodic_exponent(psd[idx].mean(0), freqs) if idx else np.nan
    out["aperiodic_exponent_loglog"] = _loglog_exponent(spec, freqs)
    sel = (freqs >= 2.0) & (freqs < 40.0)
    p = spec[sel] / spec[sel].sum()
    out["spectral_entropy_2_40"] = float(-(p * np.log(np.maximum(p, 1e-30))).sum() / np.log(p.size))
    for name, site, beta in (
        ("log_tbr_fz", ("Fz",), (13.0, 21.0)),
        ("log_tbr_central", ("C3", "Cz", "C4"), (13.0, 21.0)),
        ("log_tbr_frontal", ("F3", "F4", "Fz"), (13.0, 21.0)),
        ("log_tbr_cz_13_30", ("Cz",), (13.0, 30.0)),
    ):
        idx = _idx(ch_names, site)
        out[name] = float(np.log(_band_ratio(psd[idx].mean(0), freqs, (4.0, 8.0), beta))) if idx else np.nan
    post = _idx(ch_names, regions["posterior"])
    out["alpha_peak_posterior"] = float(peak_frequency(psd[post].mean(0), freqs, 7.0, 13.0)) if post else np.nan
    out.update(_connectivity_summaries(epochs, sfreq, ch_names))
    return out


def _multitaper_connectivity(epochs, sfreq, bands):
    """Debiased squared wPLI and coherence per band from multitaper cross-spectra, (n_bands, n, n) each.

    The definitions of mne-connectivity's ``spectral_connectivity_epochs(method=["wpli2_debiased", "coh"],
    mode="multitaper", faverage=True)`` with its defaults (DPSS tapers, time-half-bandwidth 4, low-bias tapers,
    weights sqrt(eigenvalue), mean removed, bins ``fmin <= f <= fmax``), without the dependency (a test checks the
    numbers are equal). Per bin: wPLI² = ((Σ Im S)² − Σ (Im S)²) / ((Σ |Im S|)² − Σ (Im S)²) over epochs (Vinck et
    al. 2011); coherence |<S_xy>| / sqrt(<S_xx><S_yy>); then averaged over the band's bins. Overall scale factors
    cancel in both.
    """
    from mne.time_frequency import dpss_windows

    n = epochs.shape[-1]
    tapers, eig = dpss_windows(n, 4.0, 8, sym=False, low_bias=True)
    x = epochs - epochs.mean(axis=-1, keepdims=True)
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    X = np.fft.rfft(x[:, :, None, :] * tapers[None, None], axis=-1)  # (E, C, K, F)
    X *= np.sqrt(eig)[None, None, :, None]
    wpli, coh = [], []
    for lo, hi in bands:
        sel = (freqs >= lo) & (freqs <= hi)
        Xb = X[..., sel]
        S = np.einsum("eckf,edkf->efcd", Xb, Xb.conj())  # cross-spectra summed over tapers: (E, F, C, C)
        im = S.imag
        s1, sa, s2 = im.sum(0), np.abs(im).sum(0), (im**2).sum(0)
        den = sa**2 - s2
        w = np.where(den == 0, 0.0, (s1**2 - s2) / np.where(den == 0, 1.0, den))
        wpli.append(w.mean(0))
        csd = S.sum(0)
        p = np.einsum("fcc->fc", csd).real
        coh.append((np.abs(csd) / np.sqrt(p[:, :, None] * p[:, None, :])).mean(0))
    return np.array(wpli), np.array(coh)


def _connectivity_summaries(epochs, sfreq, ch_names) -> dict:
    """Debiased wPLI and coherence per band, averaged over channel pairs within and between regions."""
    names = [f"wpli_{b}_{r}" for b in CANDIDATE_BANDS for r in (*_CONN_REGIONS, "fronto_posterior", "homologous")]
    names += [f"coh_{b}_{r}" for b in CANDIDATE_BANDS for r in ("global", "homologous")]
    out = dict.fromkeys(names, np.nan)
    if epochs.shape[0] < 2 or len(ch_names) < 4:
        return out
    # debiased squared wPLI: the plain wPLI's positive bias grows as the number of clean epochs falls, and that number
    # differs between children (artifact); coherence keeps a bias of the same kind (clean_seconds is checked)
    wpli, coh = _multitaper_connectivity(epochs, sfreq, list(CANDIDATE_BANDS.values()))
    pos = {c: i for i, c in enumerate(ch_names)}
    n = len(ch_names)

    def mean_of(m, pairs):
        v = [m[pos[i], pos[j]] for i, j in pairs if i in pos and j in pos and i != j]
        return float(np.nanmean(v)) if v else np.nan

    fr = [c for c in _CONN_REGIONS["frontal"] if c in pos]
    po = [c for c in _CONN_REGIONS["posterior"] if c in pos]
    for measure, mats in (("wpli", wpli), ("coh", coh)):
        for k, band in enumerate(CANDIDATE_BANDS):
            m = np.array(mats[k], float)
            m[np.diag_indices(n)] = np.nan
            out[f"{measure}_{band}_homologous"] = mean_of(m, _HOMOLOGOUS)
            if measure == "coh":
                out[f"coh_{band}_global"] = float(np.nanmean(m[np.triu_indices(n, 1)]))
                continue
            for r, members in _CONN_REGIONS.items():
                mem = [c for c in members if c in pos]
                out[f"wpli_{band}_{r}"] = mean_of(m, [(a, b) for j, a in enumerate(mem) for b in mem[j + 1 :]])
            out[f"wpli_{band}_fronto_posterior"] = mean_of(m, [(a, b) for a in fr for b in po])
    return out


#: The candidate feature sets of session 7 (columns of :func:`adhd_candidate_features` and of the diagnosis features).
CANDIDATE_SETS: dict[str, tuple[str, ...]] = {
    "current (6)": ADHD_SCREEN_FEATURES,
    "aperiodic and shape": (
        "aperiodic_exponent",
        "aperiodic_exponent_frontal",
        "aperiodic_exponent_central",
        "aperiodic_exponent_posterior",
        "aperiodic_exponent_loglog",
        "spectral_entropy_2_40",
    ),
    "phase connectivity": tuple(
        [f"wpli_{b}_{r}" for b in CANDIDATE_BANDS for r in (*_CONN_REGIONS, "fronto_posterior", "homologous")]
        + [f"coh_{b}_{r}" for b in CANDIDATE_BANDS for r in ("global", "homologous")]
    ),
    "theta/beta variants, alpha peak": (
        "theta_beta_ratio",
        "log_tbr_fz",
        "log_tbr_central",
        "log_tbr_frontal",
        "log_tbr_cz_13_30",
        "rel_theta_frontal",
        "rel_theta_central",
        "rel_beta_central",
        "alpha_peak_posterior",
        "dominant_frequency_posterior",
    ),
}
CANDIDATE_SETS["union"] = tuple(dict.fromkeys(c for v in CANDIDATE_SETS.values() for c in v))
#: The columns :func:`adhd_candidate_features` returns.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "aperiodic_exponent_frontal",
    "aperiodic_exponent_central",
    "aperiodic_exponent_posterior",
    "aperiodic_exponent_loglog",
    "spectral_entropy_2_40",
    "log_tbr_fz",
    "log_tbr_central",
    "log_tbr_frontal",
    "log_tbr_cz_13_30",
    "alpha_peak_posterior",
    *CANDIDATE_SETS["phase connectivity"],
)
