"""Artifact reduction: ICA (Picard) + ICLabel, or Artifact Subspace Reconstruction.

Both methods keep the recording's reference and its frequencies below the
high-pass used for fitting: the artifact part is estimated on a filtered copy
(1 Hz high-pass and average reference for ICA, as ICLabel expects; 0.5 Hz
high-pass for ASR) and that part alone is subtracted from the original data.

* ``"ica"`` — :class:`mne.preprocessing.ICA` with Picard (extended, non-orthogonal:
  the Picard equivalent of extended Infomax, which ICLabel was trained on),
  labelled by ICLabel through ``mne-icalabel``'s ONNX backend (onnxruntime;
  no torch). Components whose probability of ``eye blink``, ``muscle artifact``,
  ``heart beat``, ``line noise`` or ``channel noise`` is at least ``threshold``
  are removed.
* ``"asr"`` — :class:`meegkit.asr.ASR`, calibrated by default on the clean
  windows of the whole recording (meegkit's ``clean_windows``, as EEGLAB's
  ``clean_rawdata`` does; blinks every few seconds leave no clean contiguous
  minute), or on the cleanest ``calibration`` seconds (lowest mean artifact
  strength), then run over the whole recording in 10 s blocks. At EEGLAB's
  default cutoff of 20 SD it repairs only large bursts; blinks need ICA or a
  cutoff near 5 (which also takes some alpha, see ``docs/qeeg.md``).

The report gives what was removed and, per channel, the mean artifact
strength (:func:`dbrain.qeeg._artifacts.artifact_strength`) and the alpha
power (8–13 Hz, Welch) before and after.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd
from scipy import signal

from ..errors import ParameterError
from ..qeeg._artifacts import artifact_strength
from ..utils import _check_option, _check_range, _validate_type, logger, verbose

__all__ = ["ArtifactReductionReport", "reduce_artifacts"]

#: ICLabel classes in the order of its output columns.
ICLABEL_CLASSES = ("brain", "muscle artifact", "eye blink", "heart beat", "line noise", "channel noise", "other")
#: Classes removed by ``reduce_artifacts(method="ica")``.
REMOVED_CLASSES = ("eye blink", "muscle artifact", "heart beat", "line noise", "channel noise")
ALPHA_BAND = (8.0, 13.0)


@dataclass
class ArtifactReductionReport:
    """What :func:`reduce_artifacts` did.

    Attributes
    ----------
    method : str
        ``"ica"`` or ``"asr"``.
    params : dict
        The parameters used.
    removed : pandas.DataFrame
        ICA: one row per removed component (``component``, ``label``,
        ``probability``); ASR: empty.
    n_components : int | None
        ICA components fitted.
    asr_cutoff : float | None
        ASR cutoff in standard deviations.
    fraction_modified : float
        Fraction of samples where some channel changed by more than 1 µV.
    channels : pandas.DataFrame
        Per channel: ``channel``, ``strength_before``, ``strength_after``
        (mean artifact strength), ``alpha_before``, ``alpha_after`` (V²) and
        ``alpha_change`` (after / before − 1).
    """

    method: str
    params: dict
    removed: pd.DataFrame
    n_components: int | None
    asr_cutoff: float | None
    fraction_modified: float
    channels: pd.DataFrame = field(repr=False)

    @property
    def strength_before(self) -> float:
        """Mean artifact strength over channels and epochs before."""
        return float(self.channels["strength_before"].mean())

    @property
    def strength_after(self) -> float:
        """Mean artifact strength over channels and epochs after."""
        return float(self.channels["strength_after"].mean())


def _alpha_power(data, sfreq):
    nper = int(min(data.shape[-1], round(4 * sfreq)))
    f, p = signal.welch(data, sfreq, nperseg=nper, axis=-1)
    sel = (f >= ALPHA_BAND[0]) & (f <= ALPHA_BAND[1])
    return p[:, sel].sum(axis=-1) * (f[1] - f[0])


def _ensure_positions(raw):
    """Give channels without positions the standard 10-05 ones (dbrain names are normalised)."""
    pos = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
    missing = ~np.all(np.isfinite(pos), axis=1) | np.all(pos == 0, axis=1)
    if missing.any():
        montage = mne.channels.make_standard_montage("standard_1005")
        known = {n.lower(): n for n in montage.ch_names}
        names = [raw.ch_names[i] for i in np.flatnonzero(missing)]
        unknown = [n for n in names if n.lower() not in known]
        if unknown:
            raise ParameterError(f"ICA labelling needs electrode positions; these channels have none: {unknown}.")
        raw.set_montage(montage, match_case=False, on_missing="ignore", verbose="error")


def _reduce_ica(raw, picks, threshold, random_state, n_components):
    fit = raw.copy().pick(picks)
    _ensure_positions(fit)
    h_freq = min(100.0, 0.45 * fit.info["sfreq"])
    fit.filter(1.0, h_freq, verbose="error")
    fit.set_eeg_reference("average", projection=False, verbose="error")
    rank = len(fit.ch_names) - 1  # average reference removes one dimension
    n = rank if n_components is None else min(int(n_components), rank)
    # tol 1e-4 (Picard's default 1e-7) converges 3x faster with the same components to the eye on EEG.
    ica = mne.preprocessing.ICA(
        n_components=n,
        method="picard",
        fit_params=dict(ortho=False, extended=True, tol=1e-4),
        max_iter=500,
        random_state=random_state,
        verbose="error",
    )
    with warnings.catch_warnings():
        # Picard may stop at max_iter on short data; the components are still usable for labelling.
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        ica.fit(fit, verbose="error")
    from mne_icalabel.iclabel import iclabel_label_components

    with warnings.catch_warnings():
        # ICLabel warns that it was trained on extended Infomax and 1–100 Hz data; we use extended
        # Picard (same model) and the band the sampling rate allows.
        warnings.filterwarnings("ignore", message="The provided Raw instance is not filtered between 1 and 100 Hz")
        warnings.filterwarnings("ignore", message="The provided ICA instance was fitted with")
        proba = iclabel_label_components(fit, ica, inplace=False, backend="onnx")
    rows = []
    for comp, p in enumerate(proba):
        best = max(REMOVED_CLASSES, key=lambda c: p[ICLABEL_CLASSES.index(c)])
        prob = float(p[ICLABEL_CLASSES.index(best)])
        if prob >= threshold:
            rows.append((comp, best, prob))
    removed = pd.DataFrame(rows, columns=["component", "label", "probability"])
    # The artifact signal in the average-reference space, subtracted from the original data:
    # the original reference and low frequencies are kept.
    orig = raw.get_data(picks=picks)
    avg = orig - orig.mean(axis=0, keepdims=True)
    if len(removed):
        tmp = mne.io.RawArray(avg.copy(), fit.info, verbose="error")  # RawArray shares the array; apply() is in place
        ica.apply(tmp, exclude=list(removed["component"]), verbose="error")
        artifact = avg - tmp.get_data()
    else:
        artifact = np.zeros_like(avg)
    return orig - artifact, removed, ica.n_components_


def _reduce_asr(raw, picks, cutoff, calibration, line_freq):
    from meegkit.asr import ASR

    sfreq = raw.info["sfreq"]
    orig = raw.get_data(picks=picks)
    sos = signal.butter(4, 0.5, "highpass", fs=sfreq, output="sos")
    hp = signal.sosfiltfilt(sos, orig, axis=-1)
    if orig.shape[1] < 30 * sfreq:
        raise ParameterError(f"ASR needs at least 30 s of data, got {orig.shape[1] / sfreq:.1f} s.")
    if calibration is None:  # meegkit's fit keeps the clean windows of what it is given
        start, width, calib = 0, int(orig.shape[1] / sfreq), hp
    else:  # the cleanest stretch: lowest mean artifact strength over `calibration` s
        names = [raw.ch_names[p] for p in picks]
        scores, _, _ = artifact_strength(hp, sfreq, names, line_freq=line_freq)
        per_s = scores.mean(axis=1)
        width = int(min(calibration, max(1, per_s.size // 2)))
        start = int(np.argmin(np.convolve(per_s, np.ones(width) / width, mode="valid")))
        calib = hp[:, int(start * sfreq) : int((start + width) * sfreq)]
    asr = ASR(sfreq=sfreq, cutoff=cutoff, method="euclid")
    asr.fit(calib)
    block = int(10 * sfreq)
    clean = np.empty_like(hp)
    for a in range(0, hp.shape[1], block):
        clean[:, a : a + block] = asr.transform(hp[:, a : a + block])
    return orig - (hp - clean), (start, width)


@verbose
def reduce_artifacts(
    raw,
    method: str = "ica",
    *,
    threshold: float = 0.8,
    random_state: int | None = 0,
    n_components: int | None = None,
    cutoff: float = 20.0,
    calibration: float | None = None,
    line_freq: float | None = 50.0,
    verbose=None,
):
    """Reduce artifacts in the EEG channels of a recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (read with :func:`dbrain.io.read_recording`); not modified.
    method : "ica" | "asr"
        ICA + ICLabel, or Artifact Subspace Reconstruction (see the module documentation).
    threshold : float
        ICA: minimum ICLabel probability (0–1) of an artifact class for a component to be removed.
    random_state : int | None
        ICA seed.
    n_components : int | None
        ICA components; ``None`` takes the rank (EEG channels − 1).
    cutoff : float
        ASR cutoff in standard deviations of the calibration data (20 is EEGLAB's
        ``clean_rawdata`` default; lower removes more).
    calibration : float | None
        ASR: ``None`` calibrates on the clean windows of the whole recording;
        a number, on the cleanest stretch of that many seconds.
    line_freq : float | None
        Mains frequency for the artifact strength in the report.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    cleaned : mne.io.Raw
        A loaded copy of ``raw`` with the EEG channels cleaned (other channels unchanged).
    report : ArtifactReductionReport
        What was removed, and artifact strength and alpha power before and after per channel.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.Raw")
    _check_option("method", method, ("ica", "asr"))
    _check_range("threshold", threshold, 0, 1)
    _check_range("cutoff", cutoff, 0, None, inclusive=False)
    if calibration is not None:
        _check_range("calibration", calibration, 10, None)
    if n_components is not None:
        _check_range("n_components", n_components, 2, None)
    picks = mne.pick_types(raw.info, eeg=True, exclude="bads")
    if len(picks) < 3:
        raise ParameterError(f"artifact reduction needs at least 3 EEG channels, got {len(picks)}.")
    sfreq = raw.info["sfreq"]
    names = [raw.ch_names[p] for p in picks]
    cleaned = raw.copy().load_data(verbose="error")
    before = cleaned.get_data(picks=picks)
    removed = pd.DataFrame(columns=["component", "label", "probability"])
    n_comp = cut = None
    if method == "ica":
        after, removed, n_comp = _reduce_ica(cleaned, picks, threshold, random_state, n_components)
        logger.info("ICA: removed %d of %d components", len(removed), n_comp)
    else:
        cut = float(cutoff)
        after, (start, width) = _reduce_asr(cleaned, picks, cut, calibration, line_freq)
        logger.info("ASR: calibrated on %d s from %d s", width, start)
    cleaned._data[picks] = after
    s_before = artifact_strength(before, sfreq, names, line_freq=line_freq)[0].mean(axis=0)
    s_after = artifact_strength(after, sfreq, names, line_freq=line_freq)[0].mean(axis=0)
    a_before, a_after = _alpha_power(before, sfreq), _alpha_power(after, sfreq)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(a_before > 0, a_after / a_before - 1.0, 0.0)
    channels = pd.DataFrame(
        {"channel": names, "strength_before": s_before, "strength_after": s_after,
         "alpha_before": a_before, "alpha_after": a_after, "alpha_change": change}
    )  # fmt: skip
    modified = float(np.mean(np.any(np.abs(after - before) > 1e-6, axis=0)))
    params = dict(threshold=threshold, random_state=random_state, n_components=n_components, cutoff=cutoff,
                  calibration=calibration, line_freq=line_freq)  # fmt: skip
    report = ArtifactReductionReport(method, params, removed, n_comp, cut, modified, channels)
    return cleaned, report
