"""Normalise the channels of an MNE ``Raw`` once, at the boundary of dbrain."""

from __future__ import annotations

import mne
import pandas as pd

from ..utils import logger, verbose
from ..utils.check import _validate_type
from ._normalize import normalize_channels


def _apply_mapping(raw: mne.io.BaseRaw, *, keep_types: bool) -> pd.DataFrame:
    mapping = normalize_channels(raw.ch_names)
    types = {}
    for row, mne_type in zip(mapping.itertuples(index=False), raw.get_channel_types(), strict=True):
        # A typed format (FIF, BIDS) knows better than the label when the label is not one we recognise.
        types[row.name] = mne_type if (keep_types and not row.recognised) else row.type
    mapping["type"] = [types[n] for n in mapping["name"]]
    raw.rename_channels(dict(zip(mapping["original"], mapping["name"], strict=True)), verbose="error")
    raw.set_channel_types(types, on_unit_change="ignore", verbose="error")
    return mapping


@verbose
def normalize_raw(raw: mne.io.BaseRaw, *, keep_types: bool = False, copy: bool = True, verbose=None) -> mne.io.BaseRaw:
    """Give a plain MNE ``Raw`` dbrain's channel names and types.

    :func:`dbrain.read_recording` does this itself; call it on a ``Raw`` read with MNE
    (``mne.io.read_raw_edf`` …) before handing it to dbrain's functions, so that
    ``EEG T3-REF`` becomes ``T7`` (type ``eeg``) and ``EKG`` becomes ``ECG`` (type ``ecg``)
    instead of being counted as EEG. Normalising twice changes nothing.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (lazy or loaded).
    keep_types : bool
        Keep the ``Raw``'s own channel type for labels dbrain does not recognise
        (right for typed formats such as FIF); otherwise they become ``misc``.
    copy : bool
        Work on a copy (default) instead of changing ``raw`` in place.
    verbose : bool | str | int | None
        Log level; at ``"info"`` every renamed or retyped channel is logged.

    Returns
    -------
    raw : mne.io.BaseRaw
        The normalised recording (``raw`` itself when ``copy=False``).

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["EEG FP1-REF", "EKG"], 256.0, "eeg")
    >>> raw = normalize_raw(mne.io.RawArray(np.zeros((2, 256)), info, verbose="error"))
    >>> raw.ch_names, raw.get_channel_types()
    (['Fp1', 'ECG'], ['eeg', 'ecg'])
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    if copy:
        raw = raw.copy()
    before = dict(zip(raw.ch_names, raw.get_channel_types(), strict=True))
    mapping = _apply_mapping(raw, keep_types=keep_types)
    for row in mapping.itertuples(index=False):
        if row.original != row.name or before[row.original] != row.type:
            logger.info("channel %r -> %r (%s)", row.original, row.name, row.type)
    return raw


def as_normalized(raw: mne.io.BaseRaw) -> mne.io.BaseRaw:
    """``raw`` itself when its channels already carry dbrain's names and types, else a normalised copy.

    Every public function that takes a ``Raw`` calls this once at its boundary, so a plain
    ``mne.io.read_raw_edf`` recording is read the same way as one from :func:`dbrain.read_recording`
    (whose output passes through unchanged: labels dbrain does not recognise keep their type).

    Parameters
    ----------
    raw : mne.io.BaseRaw

    Returns
    -------
    raw : mne.io.BaseRaw
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    mapping = normalize_channels(raw.ch_names)
    types = raw.get_channel_types()
    same = all(
        row.name == name and (not row.recognised or row.type == kind)
        for row, name, kind in zip(mapping.itertuples(index=False), raw.ch_names, types, strict=True)
    )
    if same:
        return raw
    logger.info("normalising the channels of a Raw not read by dbrain.read_recording")
    return normalize_raw(raw, keep_types=True)
