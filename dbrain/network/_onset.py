"""Seizure-onset network: pre-ictal → ictal evolution and a ranked list of candidate onset channels.

For one seizure onset (annotated or detected) the EEG from ``pre`` seconds
before to ``post`` seconds after it is analysed in the *onset band*: by
default 4–30 Hz on scalp EEG (the ictal rhythms that reach the scalp, from
beta low-voltage fast activity to theta discharges) and 30–100 Hz on
intracranial EEG (the low-voltage fast activity of intracranial onsets, the
high band of Bartolomei's epileptogenicity index); the top is capped at
0.45 × the sampling rate:

1. **Earliest involvement.** Line length of the onset-band signal in short
   windows (``window`` s, every ``window / 5`` s), as a z-score against the
   channel's own pre-ictal windows. A channel is *involved* at the end of the
   first window after onset whose z-score reaches ``z_threshold``; channels
   never reaching it come last, ordered by their peak z-score.
2. **Network change.** Coherence strength (sum of a channel's onset-band
   coherence, undirected hub status) and PDC outflow (sum of the directed
   onset-band flow out of a channel, from a ridge-regularised VAR on the
   signal decimated to about 2.5 × the band's top) in the pre-ictal window
   and in the first seconds of the seizure, cut into ``window``-s epochs,
   as many after onset as before (coherence is biased by the number of
   epochs); the change is ictal minus pre-ictal.
3. **Ranking.** Each of the three criteria ranks the channels; the combined
   score is the weighted mean of the rank percentiles (``weights``, by
   default 0.5 earliest involvement, 0.25 strength change, 0.25 outflow change)
   and gives the candidate list, best first.

The evolution table follows the global network (mean coherence strength,
efficiency, clustering of the onset-band coherence graph) and the number of
involved channels in sliding windows from ``pre`` before to ``post`` after onset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import butter, sosfiltfilt

from ..errors import ParameterError
from ..utils.check import _check_option, _check_range, _validate_type
from ._connectivity import compute_connectivity, connectivity_matrix
from ._graph import graph_measures

#: Columns of the ranking table.
RANKING_COLUMNS: tuple[str, ...] = (
    "rank",
    "channel",
    "score",
    "involvement_time",
    "peak_z",
    "strength_change",
    "outflow_change",
    "rank_involvement",
    "rank_strength",
    "rank_outflow",
)

#: Default onset bands (Hz) by recording kind.
ONSET_BANDS: dict[str, tuple[float, float]] = {"scalp": (4.0, 30.0), "intracranial": (30.0, 100.0)}

#: Columns of the evolution table.
EVOLUTION_COLUMNS: tuple[str, ...] = ("time", "measure", "value")

_SEIZURE_LABEL = re.compile(r"^(sz|sz[_ -].*|.*seizure.*|.*ictal onset.*|eeg onset|clinical onset)$", re.IGNORECASE)
_NOT_SEIZURE = re.compile(r"(inter|pre|post|non|no |not |free|end|offset)", re.IGNORECASE)


@dataclass
class OnsetResult:
    """Result of :func:`onset_network` for one seizure.

    Attributes
    ----------
    ranking : pandas.DataFrame
        Candidate onset channels, best first (:data:`RANKING_COLUMNS`).
    evolution : pandas.DataFrame
        Global measures over time relative to onset (:data:`EVOLUTION_COLUMNS`).
    pre_matrix, ictal_matrix : numpy.ndarray
        Fast-band coherence matrices of the pre-ictal and early-ictal windows.
    pre_outflow, ictal_outflow : numpy.ndarray
        PDC outflow per channel (NaN when it could not be fitted).
    ch_names : list of str
        Channel order of the matrices.
    band : tuple of float
        The onset band used (Hz).
    """

    ranking: pd.DataFrame
    evolution: pd.DataFrame
    pre_matrix: np.ndarray
    ictal_matrix: np.ndarray
    pre_outflow: np.ndarray
    ictal_outflow: np.ndarray
    ch_names: list
    band: tuple


def _onset_band(band, kind, sfreq):
    _check_option("kind", kind, tuple(ONSET_BANDS))
    if band is None:
        band = ONSET_BANDS[kind]
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ParameterError(f"band must be (fmin, fmax) in Hz, got {band!r}.") from None
    top = min(hi, 0.45 * sfreq)
    if not 0 < lo < top:
        raise ParameterError(f"band ({lo:g}, {hi:g}) Hz does not fit below 0.45 × {sfreq:g} Hz.")
    return lo, top


def _epochs(x, start, stop, n):
    k = (stop - start) // n
    return x[:, start : start + k * n].reshape(x.shape[0], k, n).transpose(1, 0, 2)


def _rank(values, ascending):
    """1 = best; NaN last."""
    v = np.asarray(values, float)
    key = np.where(np.isnan(v), np.inf, v if ascending else -v)
    order = np.argsort(key, kind="stable")
    r = np.empty(v.size, int)
    r[order] = np.arange(1, v.size + 1)
    return r


def _outflow(epochs, sfreq, ch_names, band, var_order, ridge):
    tab = compute_connectivity(epochs, sfreq, ch_names, measures=("pdc",), bands={"fast": band}, var_order=var_order, ridge=ridge)
    mat, _ = connectivity_matrix(tab, "fast", "pdc", ch_names)
    return mat.sum(axis=0)  # column j: flow out of j


def onset_network(
    data,
    sfreq,
    ch_names,
    onset,
    *,
    pre: float = 30.0,
    post: float = 20.0,
    kind: str = "scalp",
    band=None,
    window: float | None = None,
    z_threshold: float = 5.0,
    weights=(0.5, 0.25, 0.25),
    var_order: int = 3,
    ridge: float = 0.1,
    evolution: bool = True,
) -> OnsetResult:
    """Candidate onset channels and the pre-ictal → ictal network evolution of one seizure.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        Scalp or intracranial EEG around the onset (any unit, referential or
        common average).
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Channel names (unique).
    onset : float
        Seizure onset in seconds from the first sample of ``data``.
    pre : float
        Seconds before onset used as the pre-ictal baseline (clipped to the data).
    post : float
        Seconds after onset analysed (clipped to the data).
    kind : str
        ``"scalp"`` or ``"intracranial"``: chooses the default onset band
        (:data:`ONSET_BANDS`).
    band : (float, float) | None
        Onset band (Hz) of the involvement and network measures, overriding
        ``kind``; the top is capped at 0.45 × ``sfreq``.
    window : float | None
        Short-window length in seconds; by default ``pre / 4`` clipped to
        0.25–1 s.
    z_threshold : float
        Line-length z-score that marks a channel as involved.
    weights : (float, float, float)
        Weights of earliest involvement, coherence-strength change and PDC
        outflow change in the combined score.
    var_order : int
        VAR model order for the PDC.
    ridge : float
        Ridge regularisation of the VAR fit (relative).
    evolution : bool
        Also compute the evolution table (sliding windows; costs more).

    Returns
    -------
    result : OnsetResult
        Ranking, evolution and the matrices behind them.
    """
    data, ch_names, weights = _check_onset_args(data, sfreq, ch_names, onset, pre, post, z_threshold, var_order, weights)
    band = _onset_band(band, kind, sfreq)
    if window is None:
        window = float(np.clip(min(pre, onset) / 4, 0.25, 1.0))
    _check_range("window", window, 0, None, inclusive=False)
    n_win = int(round(window * sfreq))
    i_on = int(round(onset * sfreq))
    i_pre = max(0, i_on - int(round(pre * sfreq)))
    i_post = min(data.shape[1], i_on + int(round(post * sfreq)))
    if (i_on - i_pre) < 2 * n_win or (i_post - i_on) < 2 * n_win:
        raise ParameterError(
            f"need at least two {window:g}-s windows before and after onset; have {(i_on - i_pre) / sfreq:g} s and {(i_post - i_on) / sfreq:g} s."
        )
    sos = butter(4, band, btype="bandpass", fs=sfreq, output="sos")
    fast = sosfiltfilt(sos, data - data.mean(axis=1, keepdims=True), axis=1)
    inv = _involvement(fast, sfreq, onset, i_pre, i_post, n_win, z_threshold)
    coh, out = _network_change(fast, sfreq, ch_names, band, (i_pre, i_on, i_post), n_win, var_order, ridge)
    flat = np.ptp(data[:, i_pre:i_post], axis=1) == 0
    ranking = _combined_ranking(ch_names, inv, coh, out, weights, flat)
    ranking.attrs.update({"band": list(band), "window": window, "z_threshold": z_threshold, "weights": list(weights)})

    evo = (
        _evolution(fast, sfreq, ch_names, band, i_pre, i_post, i_on, n_win, inv.z, inv.t_end, z_threshold) if evolution else None
    )
    if evo is None:
        evo = pd.DataFrame(columns=list(EVOLUTION_COLUMNS))
    return OnsetResult(ranking, evo, coh["pre"], coh["ictal"], out["pre"], out["ictal"], ch_names, band)


def _check_onset_args(data, sfreq, ch_names, onset, pre, post, z_threshold, var_order, weights):
    """Validated ``data`` (float, 2-D), ``ch_names`` (str) and ``weights`` (three floats)."""
    data = np.asarray(data, dtype=float)
    if data.ndim != 2:
        raise ParameterError(f"data must be 2-D (n_channels, n_times), got shape {data.shape}.")
    _check_range("sfreq", sfreq, 0, None, inclusive=False)
    ch_names = [str(c) for c in ch_names]
    if len(ch_names) != data.shape[0]:
        raise ParameterError(f"ch_names has {len(ch_names)} names for {data.shape[0]} channels.")
    if data.shape[0] < 3:
        raise ParameterError(f"an onset network needs at least 3 channels, got {data.shape[0]}.")
    _check_range("pre", pre, 0, None, inclusive=False)
    _check_range("post", post, 0, None, inclusive=False)
    _check_range("z_threshold", z_threshold, 0, None, inclusive=False)
    _validate_type(var_order, int, "var_order")
    w_inv, w_str, w_out = (float(v) for v in weights)
    if min(w_inv, w_str, w_out) < 0 or w_inv + w_str + w_out <= 0:
        raise ParameterError(f"weights must be non-negative and not all 0, got {tuple(weights)}.")
    dur = data.shape[1] / sfreq
    if not 0 < onset < dur:
        raise ParameterError(f"onset {onset:g} s lies outside the data (0–{dur:g} s).")
    return data, ch_names, (w_inv, w_str, w_out)


@dataclass
class _Involvement:
    """Onset-band line length of each channel against its own pre-ictal baseline."""

    z: np.ndarray  # (n_channels, n_windows) line-length z-scores
    t_end: np.ndarray  # end of each window relative to onset (s)
    peak_z: np.ndarray  # per channel, the largest z after onset
    time: np.ndarray  # per channel, the end of the first window after onset at or over the threshold (NaN: never)
    rank: np.ndarray  # earliest first, ties broken by peak z


def _involvement(fast, sfreq, onset, i_pre, i_post, n_win, z_threshold) -> _Involvement:
    """Earliest involvement: when each channel's onset-band line length first reaches ``z_threshold``."""
    ll = np.abs(np.diff(fast[:, i_pre:i_post], axis=1))
    cs = np.concatenate([np.zeros((ll.shape[0], 1)), np.cumsum(ll, axis=1)], axis=1)
    hop = max(1, n_win // 5)
    starts = np.arange(0, ll.shape[1] - n_win + 1, hop)
    L = cs[:, starts + n_win] - cs[:, starts]
    t_end = (i_pre + starts + n_win) / sfreq - onset  # window end relative to onset (s)
    base = t_end <= 0
    after = t_end > 0
    if base.sum() < 2:
        raise ParameterError("the pre-ictal window holds fewer than two line-length windows; give more data before onset.")
    mu, sd = L[:, base].mean(1, keepdims=True), L[:, base].std(1, keepdims=True)
    sd[sd == 0] = np.inf
    z = (L - mu) / sd
    peak_z = z[:, after].max(axis=1)
    inv_time = np.full(len(fast), np.nan)
    for i in range(len(fast)):
        hit = np.flatnonzero(z[i, after] >= z_threshold)
        if hit.size:
            inv_time[i] = t_end[after][hit[0]]
    # ties (and the not-involved) broken by peak z
    inv_key = np.where(np.isnan(inv_time), 1e9, inv_time) - 1e-6 * np.tanh(peak_z / 100.0)
    return _Involvement(z, t_end, peak_z, inv_time, _rank(inv_key, ascending=True))


def _network_change(fast, sfreq, ch_names, band, bounds, n_win, var_order, ridge) -> tuple[dict, dict]:
    """Onset-band coherence matrices and PDC outflow of the pre-ictal and early-ictal epochs."""
    i_pre, i_on, i_post = bounds
    # as many epochs on both sides (coherence is biased upwards by few epochs): the last before onset, the first after
    pre_ep, ict_ep = _epochs(fast, i_pre, i_on, n_win), _epochs(fast, i_on, i_post, n_win)
    n_ep = min(len(pre_ep), len(ict_ep))
    pre_ep, ict_ep = pre_ep[len(pre_ep) - n_ep :], ict_ep[:n_ep]
    coh = {}
    for name, ep in (("pre", pre_ep), ("ictal", ict_ep)):
        tab = compute_connectivity(ep, sfreq, ch_names, measures=("coh",), bands={"fast": band})
        coh[name], _ = connectivity_matrix(tab, "fast", "coh", ch_names)
    factor = max(1, int(sfreq // (2.5 * band[1])))
    sf_d = sfreq / factor
    out = {}
    for name, ep in (("pre", pre_ep), ("ictal", ict_ep)):
        epd = ep[:, :, ::factor]
        try:
            out[name] = _outflow(epd, sf_d, ch_names, (band[0], min(band[1], 0.45 * sf_d)), var_order, ridge)
        except (ParameterError, np.linalg.LinAlgError):
            out[name] = np.full(len(ch_names), np.nan)
    return coh, out


def _combined_ranking(ch_names, inv: _Involvement, coh: dict, out: dict, weights, flat) -> pd.DataFrame:
    """Rank the channels by the weighted percentiles of earliest involvement, strength and outflow change."""
    w_inv, w_str, w_out = weights
    strength_change = coh["ictal"].sum(0) - coh["pre"].sum(0)
    outflow_change = out["ictal"] - out["pre"]
    rank_str = _rank(strength_change, ascending=False)
    rank_out = _rank(outflow_change, ascending=False)
    n = len(ch_names)
    pct = lambda r: (r - 1) / max(n - 1, 1)  # noqa: E731
    total = w_inv + w_str + w_out
    score = 1.0 - (w_inv * pct(inv.rank) + w_str * pct(rank_str) + w_out * pct(rank_out)) / total
    score[flat] = 0.0  # a flat channel is never a candidate: score 0, ranked last
    final = _rank(-score + 2.0 * flat, ascending=True)
    ranking = pd.DataFrame(
        {
            "rank": final,
            "channel": ch_names,
            "score": score,
            "involvement_time": inv.time,
            "peak_z": inv.peak_z,
            "strength_change": strength_change,
            "outflow_change": outflow_change,
            "rank_involvement": inv.rank,
            "rank_strength": rank_str,
            "rank_outflow": rank_out,
        }
    ).sort_values("rank", kind="stable")
    return ranking.reset_index(drop=True)[list(RANKING_COLUMNS)]


def _evolution(fast, sfreq, ch_names, band, i_pre, i_post, i_on, n_win, z, t_end, z_threshold):
    """Global onset-band network measures in sliding windows of 4 short windows (2 per step)."""
    span = 4 * n_win
    rows = []
    for s in range(i_pre, i_post - span + 1, 2 * n_win):
        ep = _epochs(fast, s, s + span, n_win)
        tab = compute_connectivity(ep, sfreq, ch_names, measures=("coh",), bands={"fast": band})
        mat, _ = connectivity_matrix(tab, "fast", "coh", ch_names)
        g = graph_measures(mat, ch_names, density=0.3, n_random=0)
        glob = g[g["level"] == "global"].set_index("measure")["value"]
        t = (s + span) / sfreq - i_on / sfreq
        rows += [
            (t, "mean_coherence", float(mat[np.triu_indices(len(ch_names), 1)].mean())),
            (t, "efficiency", float(glob["efficiency"])),
            (t, "clustering", float(glob["clustering"])),
        ]
        after = (t_end > 0) & (t_end <= t + 1e-9)  # involvement windows after onset ending by t
        n_inv = float((z[:, after].max(axis=1) >= z_threshold).sum()) if after.any() else 0.0
        rows.append((t, "n_involved", n_inv))
    return pd.DataFrame(rows, columns=list(EVOLUTION_COLUMNS))


def rank_scores(ranking: pd.DataFrame, onset_zone, *, k: int | None = None, column: str = "rank") -> dict:
    """How well a channel ranking finds a known onset zone.

    Parameters
    ----------
    ranking : pandas.DataFrame
        A ranking table (:data:`RANKING_COLUMNS`).
    onset_zone : list of str
        Channels of the clinically defined onset zone.
    k : int | None
        Size of the top list checked; the size of the onset zone by default.
    column : str
        Rank column to score (``"rank"`` or one of the component ranks).

    Returns
    -------
    scores : dict
        ``ranks`` (of the onset-zone channels, sorted), ``mean_rank``,
        ``top_k`` and ``hits_in_top_k``, ``auroc`` (probability that an
        onset-zone channel ranks above another channel; 0.5 is chance) and
        ``n_channels``.
    """
    _validate_type(ranking, pd.DataFrame, "ranking", "pandas.DataFrame")
    if column not in ranking.columns:
        raise ParameterError(f"ranking has no column {column!r}.")
    if ranking.empty:
        raise ParameterError("the ranking is empty.")
    zone = {str(c).lower() for c in onset_zone}
    is_zone = ranking["channel"].str.lower().isin(zone).to_numpy()
    if not is_zone.any():
        raise ParameterError("none of the onset-zone channels is in the ranking.")
    if is_zone.all():
        raise ParameterError("every ranked channel is in the onset zone; nothing to compare with.")
    r = ranking[column].to_numpy(float)
    k = int(is_zone.sum()) if k is None else int(k)
    pos, neg = r[is_zone], r[~is_zone]
    auroc = float(((pos[:, None] < neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (pos.size * neg.size))
    return {
        "ranks": sorted(int(v) for v in pos),
        "mean_rank": float(pos.mean()),
        "top_k": k,
        "hits_in_top_k": int((pos <= k).sum()),
        "auroc": auroc,
        "n_channels": int(r.size),
    }


def seizure_onsets(raw, events: pd.DataFrame | None = None) -> list[float]:
    """Seizure onsets (seconds from the recording start) from an events table or the annotations.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording; its annotations are used when ``events`` is None.
    events : pandas.DataFrame | None
        A :mod:`dbrain.events` table; rows whose ``eventType`` is ``sz`` or
        starts with ``sz_`` are seizures.

    Returns
    -------
    onsets : list of float
        Sorted seizure onsets in seconds.
    """
    if events is not None:
        _validate_type(events, pd.DataFrame, "events", "pandas.DataFrame")
        if not len(events):
            return []
        kind = events["eventType"].astype(str).str.lower()
        sel = events[(kind == "sz") | kind.str.startswith("sz_")]
        return sorted(float(v) for v in sel["onset"])
    onsets = []
    first = raw.first_samp / raw.info["sfreq"]
    for ann in raw.annotations:
        desc = str(ann["description"]).strip()
        if _SEIZURE_LABEL.match(desc) and not _NOT_SEIZURE.search(desc):
            onsets.append(float(ann["onset"]) - first)
    return sorted(onsets)


def seizure_onset_network(raw, events: pd.DataFrame | None = None, *, pre: float = 30.0, post: float = 20.0, **kwargs):
    """Onset networks of every seizure of a recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (EEG, sEEG or ECoG channels are used).
    events : pandas.DataFrame | None
        Seizure events (``dbrain.events`` table); the annotations by default
        (see :func:`seizure_onsets`).
    pre : float
        Pre-ictal seconds.
    post : float
        Ictal seconds analysed.
    **kwargs
        Passed to :func:`onset_network`; ``kind`` defaults to
        ``"intracranial"`` when most channels are sEEG/ECoG.

    Returns
    -------
    ranking : pandas.DataFrame
        :data:`RANKING_COLUMNS` with a leading ``seizure`` (1-based) and ``onset`` column.
    evolution : pandas.DataFrame
        :data:`EVOLUTION_COLUMNS` with ``seizure`` and ``onset``.
    results : list of OnsetResult
        One per seizure analysed (seizures too close to the edges are skipped).
    """
    import mne

    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    picks = mne.pick_types(raw.info, meg=False, eeg=True, seeg=True, ecog=True, exclude="bads")
    names = [raw.ch_names[i] for i in picks]
    if "kind" not in kwargs:
        types = raw.get_channel_types(picks=picks)
        kwargs["kind"] = "intracranial" if types.count("eeg") < len(types) / 2 else "scalp"
    sfreq = raw.info["sfreq"]
    rankings, evolutions, results = [], [], []
    for k, onset in enumerate(seizure_onsets(raw, events), start=1):
        start = max(0, int(round((onset - pre) * sfreq)))
        stop = min(raw.n_times, int(round((onset + post) * sfreq)))
        if stop <= start:
            continue
        data = raw.get_data(picks=picks, start=start, stop=stop)
        try:
            res = onset_network(data, sfreq, names, onset - start / sfreq, pre=pre, post=post, **kwargs)
        except ParameterError:
            continue  # too close to the start or end of the recording
        results.append(res)
        rankings.append(res.ranking.assign(seizure=k, onset=onset))
        evolutions.append(res.evolution.assign(seizure=k, onset=onset))
    cols_r = ["seizure", "onset", *RANKING_COLUMNS]
    cols_e = ["seizure", "onset", *EVOLUTION_COLUMNS]
    ranking = pd.concat(rankings, ignore_index=True)[cols_r] if rankings else pd.DataFrame(columns=cols_r)
    evo = pd.concat(evolutions, ignore_index=True)[cols_e] if evolutions else pd.DataFrame(columns=cols_e)
    return ranking, evo, results
