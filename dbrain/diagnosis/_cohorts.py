"""Readers of the two development cohorts (``../shared/data``) into feature tables.

* ADFSU (dementia/adfsu): 19-channel 128 Hz resting EEG, one 8-s segment per
  person and eye condition, AD vs healthy elderly. AD Paciente40-44 are one
  recording under five ids: recordings are grouped by a hash of their samples
  and only the first of identical recordings is kept, so a duplicate can never
  sit in both a training and a test fold.
* Guinea-Bissau (epilepsy-diagnosis/guinea-bissau): 14-channel Emotiv, 128 Hz,
  ~5 min resting EEG per person, epilepsy vs control; the eyes-closed half is
  used, high-passed (Emotiv DC offset) and band-limited to 0.5–30 Hz like ADFSU.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..channels import normalize_label
from ..errors import ParameterError
from ._features import array_features, compute_features


def _clean(data_v, sfreq, ch_names, length):
    from ..network import select_clean_epochs

    return select_clean_epochs(data_v, sfreq, ch_names, length=length, line_freq=None)


def adfsu_recordings(path) -> pd.DataFrame:
    """The de-duplicated eyes-closed ADFSU recordings.

    Parameters
    ----------
    path : str | pathlib.Path
        Folder holding ``adfsu_128hz.npz``.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``subject`` (``group/person``), ``label`` (1 = AD), ``digest``
        (sample hash), ``duplicates`` (ids sharing the samples) and ``data``
        (array, volts); attribute-free, one row per unique person.
    """
    f = Path(path) / "adfsu_128hz.npz"
    if not f.is_file():
        raise ParameterError(f"'{f}' not found.")
    with np.load(f) as npz:  # read each array once (npz members decompress on every access)
        z = {k: npz[k] for k in ("data", "group", "condition", "person")}
    rows = []
    for i in np.flatnonzero(z["condition"] == "Eyes_closed"):
        x = z["data"][i].astype(float) * 1e-6  # µV (undocumented at source) → V
        rows.append(
            {
                "subject": f"{z['group'][i]}/{z['person'][i]}",
                "label": int(z["group"][i] == "AD"),
                "digest": hashlib.sha256(np.ascontiguousarray(z["data"][i]).tobytes()).hexdigest(),
                "data": x,
            }
        )
    table = pd.DataFrame(rows)
    dup = table.groupby("digest")["subject"].agg(lambda s: ",".join(sorted(s)))
    table["duplicates"] = table["digest"].map(dup)
    table = table.drop_duplicates("digest", keep="first").reset_index(drop=True)
    table.attrs = {}
    return table


def adfsu_features(path, *, ch_names=None, length: float = 2.0, network: bool = True) -> pd.DataFrame:
    """Feature table of the de-duplicated ADFSU eyes-closed recordings.

    Parameters
    ----------
    path : str | pathlib.Path
        Folder holding ``adfsu_128hz.npz``.
    ch_names : list of str | None
        Keep only these (normalised) channels; all 19 when None.
    length : float
        Epoch length in seconds; 2 s uses the overlapping epochs of
        :func:`dbrain.diagnosis.array_features` (as ``dbrain analyze`` does on
        recordings this short), any other length back-to-back epochs.
    network : bool
        Compute the connectivity features.

    Returns
    -------
    table : pandas.DataFrame
        ``subject``, ``label`` and the feature columns.
    """
    with np.load(Path(path) / "adfsu_128hz.npz") as npz:
        names = [normalize_label(str(c)).name for c in npz["ch_names"]]
    keep = list(range(len(names))) if ch_names is None else [names.index(c) for c in ch_names if c in names]
    out = []
    for row in adfsu_recordings(path).itertuples():
        if length == 2.0:
            feats = array_features(row.data[keep], 128.0, [names[k] for k in keep], network=network).to_frame()
        else:
            ep, _, chs = _clean(row.data[keep], 128.0, [names[k] for k in keep], length)
            feats = compute_features(ep, 128.0, chs, network=network).to_frame()
        feats.insert(0, "label", row.label)
        feats.insert(0, "subject", row.subject)
        out.append(feats)
    return pd.concat(out, ignore_index=True)


def guinea_bissau_segment(path, subject_id, eyes: str) -> tuple[np.ndarray, list[str]]:
    """The eyes-closed 3 or 2 min of one Guinea-Bissau recording, 0.5–30 Hz, volts.

    Parameters
    ----------
    path : str | pathlib.Path
        The ``guinea-bissau`` folder.
    subject_id : int
        ``subject.id`` of the metadata.
    eyes : str
        ``Eyes.condition`` of the metadata.

    Returns
    -------
    data : numpy.ndarray, shape (14, n_times)
        Filtered EEG in volts.
    ch_names : list of str
        The 14 Emotiv channel names.
    """
    import mne

    chs = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7", "T8"]
    df = pd.read_csv(Path(path) / "EEGs" / f"signal-{subject_id}.csv.gz", usecols=chs)
    x = df[chs].to_numpy(float).T * 1e-6
    x = x - x.mean(axis=1, keepdims=True)
    x = mne.filter.filter_data(x, 128.0, 0.5, 30.0, verbose="error")
    n = x.shape[1]
    if str(eyes).startswith("closed"):
        seg = x[:, 5 * 128 : 178 * 128]
    else:
        seg = x[:, min(182 * 128, n) : n - 2 * 128]
    return seg, chs


def guinea_bissau_features(path, *, ch_names=None, length: float = 2.0, max_seconds: float = 170.0) -> pd.DataFrame:
    """Feature table of the Guinea-Bissau recordings (eyes-closed part).

    Parameters
    ----------
    path : str | pathlib.Path
        The ``guinea-bissau`` folder (``EEGs/``, ``metadata_guineabissau.csv``).
    ch_names : list of str | None
        Keep only these channels; all 14 when None.
    length : float
        Epoch length in seconds.
    max_seconds : float
        At most this many seconds of clean epochs per person.

    Returns
    -------
    table : pandas.DataFrame
        ``subject``, ``label`` (1 = epilepsy) and the feature columns.
    """
    meta = pd.read_csv(Path(path) / "metadata_guineabissau.csv")
    present = {int(p.name.split("-")[1].split(".")[0]) for p in (Path(path) / "EEGs").glob("signal-*.csv.gz")}
    out = []
    for r in meta.itertuples():
        sid = int(r[1])
        if sid not in present:
            continue
        x, chs = guinea_bissau_segment(path, sid, r[3])
        keep = list(range(len(chs))) if ch_names is None else [chs.index(c) for c in ch_names if c in chs]
        ep, _, kept = _clean(x[keep], 128.0, [chs[k] for k in keep], length)
        n_max = int(max_seconds // length)
        if len(ep) > n_max:
            ep = ep[np.linspace(0, len(ep) - 1, n_max).round().astype(int)]
        feats = compute_features(ep, 128.0, kept).to_frame()
        feats.insert(0, "label", int(r[2] == "Epilepsy"))
        feats.insert(0, "subject", f"gb-{sid}")
        out.append(feats)
    return pd.concat(out, ignore_index=True)


def ds004504_recordings(path) -> pd.DataFrame:
    """The ds004504 recordings (AD, FTD, cognitively normal) in volts.

    Parameters
    ----------
    path : str | pathlib.Path
        Folder holding ``ds004504_95hz_5min.npz``.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``subject``, ``group`` (``A``, ``F``, ``C``), ``age``, ``mmse``
        and ``data`` (array, volts, 95 Hz, channels :data:`DS004504_CHANNELS`).
    """
    f = Path(path) / "ds004504_95hz_5min.npz"
    if not f.is_file():
        raise ParameterError(f"'{f}' not found.")
    rows = []
    with np.load(f) as z:
        scale = float(z["unit_uV"]) * 1e-6
        for i, sub in enumerate(z["subject"]):
            rows.append(
                {
                    "subject": str(sub),
                    "group": str(z["group"][i]),
                    "age": float(z["age"][i]),
                    "mmse": float(z["mmse"][i]),
                    "data": z[f"eeg_{sub}"].astype(float) * scale,
                }
            )
    return pd.DataFrame(rows)


#: Channel order of ds004504 (normalised names).
DS004504_CHANNELS = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8"]
DS004504_CHANNELS += ["Fz", "Cz", "Pz"]


def array_table_features(
    table: pd.DataFrame,
    sfreq: float,
    ch_names,
    *,
    keep=None,
    seconds=None,
    start: float = 0.0,
    network: bool = False,
    **kwargs,
) -> pd.DataFrame:
    """Features of every recording of a table (``subject``, ``data``), optionally cut and on a channel subset.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per recording with ``subject`` and ``data`` (channels x samples, volts).
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Channel names of ``data``.
    keep : list of str | None
        Channels to keep (all when None).
    seconds : float | None
        Use only this many seconds from ``start`` (all when None).
    start : float
        Start of the cut in seconds.
    network : bool
        Compute the connectivity features.
    **kwargs
        Passed to :func:`array_features` (``scale_to_uv``, ``fallback_seconds``).

    Returns
    -------
    features : pandas.DataFrame
        ``subject`` and the feature columns, in the order of ``table``.
    """
    idx = list(range(len(ch_names))) if keep is None else [list(ch_names).index(c) for c in keep if c in ch_names]
    names = [ch_names[k] for k in idx]
    a = int(round(start * sfreq))
    out = []
    for row in table.itertuples():
        x = row.data[idx, a : None if seconds is None else a + int(round(seconds * sfreq))]
        feats = array_features(x, sfreq, names, network=network, **kwargs).to_frame()
        feats.insert(0, "subject", row.subject)
        out.append(feats)
    return pd.concat(out, ignore_index=True)
