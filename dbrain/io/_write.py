"""Writing EDF+ files through edfio."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..errors import RecordingError
from ..utils._atomic import atomic_file

# Types recorded in microvolts; everything else keeps MNE's SI value.
_MICROVOLT_TYPES = {"eeg", "eog", "ecg", "emg", "seeg", "ecog", "dbs"}
_LABEL_PREFIX = {"eeg": "EEG", "eog": "EOG", "ecg": "ECG", "emg": "EMG", "resp": "Resp", "seeg": "SEEG", "ecog": "ECoG"}


def _record_layout(n_times: int, sfreq: float) -> tuple[float, int]:
    """Choose a data-record duration with a whole number of samples per record.

    Prefers records near 1 s whose sample count divides the recording, so no
    padding is needed; returns the duration and the number of zero samples to
    append (0 whenever such a divisor exists).
    """
    if abs(sfreq - round(sfreq)) < 1e-9:
        rate = int(round(sfreq))
        for spr in sorted(range(max(1, rate // 16), rate * 4 + 1), key=lambda s: (abs(s - rate), s)):
            duration = spr / rate
            if n_times % spr == 0 and len(f"{duration:.8g}") <= 8 and float(f"{duration:.8g}") * rate == spr:
                return duration, 0
        return 1.0, (-n_times) % rate
    for k in range(1, 1001):  # non-integer rates such as 173.61 Hz
        spr = sfreq * k / 100
        if abs(spr - round(spr)) < 1e-6 and round(spr) > 0:
            return k / 100, (-n_times) % round(spr)
    raise RecordingError(f"cannot write EDF: sampling rate {sfreq} Hz has no whole number of samples per record")


def _physical_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if hi - lo < 1e-6:
        lo, hi = lo - 1.0, hi + 1.0

    # EDF header fields hold 8 characters: round outwards to a representable value.
    def fit(v, up):
        for decimals in (3, 2, 1, 0):
            step = 10**-decimals
            r = (math.ceil if up else math.floor)(v * 10**decimals) / 10**decimals
            # v * 10**decimals can round onto the whole number (-2713.2000000000003 -> -2713.2):
            # step outwards until the range holds the value (found by benchmarks/fuzz.py, convert)
            while (r < v) if up else (r > v):
                r = round(r + step if up else r - step, decimals)
            text = f"{r:.{decimals}f}" if decimals else f"{int(r)}"
            if len(text) <= 8:
                return r
        raise RecordingError(f"cannot write EDF: value {v:g} does not fit an 8-character header field")

    return fit(lo, False), fit(hi, True)


def _header_text(text: str) -> str:
    """EDF header text is printable ASCII: accents dropped (é -> e), anything else replaced by '_'.

    A damaged source file can carry control or non-ASCII bytes in its labels and patient
    fields; edfio refuses them (found by benchmarks/fuzz.py, convert).
    """
    import unicodedata

    out = []
    for c in text:
        plain = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode("ascii")
        out.append("".join(x for x in plain if 32 <= ord(x) < 127) or "_")
    return "".join(out)


def write_edf(
    raw: mne.io.BaseRaw,
    path: str | os.PathLike,
    *,
    events: pd.DataFrame | None = None,
    overwrite: bool = True,
    on_progress=None,
) -> Path:
    """Write a recording as EDF+ (16 bit), with annotations.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording; read one channel at a time, so a lazy 24 h ``Raw``
        never needs all its samples in memory as float64.
    path : path-like
        Output ``.edf`` file, written atomically.
    events : pandas.DataFrame | None
        Extra events (dbrain events table) to store as EDF+ annotations beside
        ``raw.annotations``.
    overwrite : bool
        Replace an existing file.
    on_progress : callable | None
        Called as ``on_progress(fraction)`` after each channel.

    Returns
    -------
    path : pathlib.Path

    Notes
    -----
    Every channel is written at ``raw.info['sfreq']``. When the number of
    samples does not fill whole data records the end is padded with zeros and
    the padding is marked ``BAD_ACQ_SKIP``. EEG-like channels are stored in
    µV, each with a physical range fitted to its own data.
    """
    import edfio

    sfreq = float(raw.info["sfreq"])
    record, pad = _record_layout(raw.n_times, sfreq)
    types = raw.get_channel_types()
    signals = []
    for i, (name, ch_type) in enumerate(zip(raw.ch_names, types, strict=True)):
        data = raw.get_data(picks=[i])[0]
        if on_progress is not None:
            on_progress(0.9 * i / len(raw.ch_names))
        unit = ""
        if ch_type in _MICROVOLT_TYPES:
            data = data * 1e6
            unit = "uV"
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        if pad:
            data = np.concatenate([data, np.zeros(pad)])
        prefix = _LABEL_PREFIX.get(ch_type)
        label = f"{prefix} {name}" if prefix and not name.upper().startswith(prefix.upper()) else name
        signals.append(
            edfio.EdfSignal(
                data,
                sfreq,
                label=_header_text(label)[:16],
                physical_dimension=unit,
                physical_range=_physical_range(data),
                transducer_type="AgAgCl electrode" if ch_type == "eeg" else "",
            )
        )
    anns = []
    first = raw.first_samp / sfreq
    ann = raw.annotations
    offset = first if ann.orig_time is not None else 0.0
    for onset, duration, text in zip(ann.onset, ann.duration, ann.description, strict=True):
        anns.append(edfio.EdfAnnotation(max(float(onset - offset), 0.0), float(duration) or None, str(text)))
    if events is not None:
        for row in events.itertuples(index=False):
            text = str(row.eventType)
            if isinstance(row.channels, str) and row.channels not in ("", "n/a"):
                text = f"{text} @{row.channels}"
            anns.append(edfio.EdfAnnotation(float(row.onset), float(row.duration) or None, text))
    if pad:
        anns.append(edfio.EdfAnnotation(raw.n_times / sfreq, pad / sfreq, "BAD_ACQ_SKIP"))
    meas = raw.info["meas_date"] or dt.datetime(1985, 1, 1, tzinfo=dt.UTC)
    subject = raw.info.get("subject_info") or {}
    sex = {1: "M", 2: "F"}.get(subject.get("sex"), "X")
    name = "_".join(str(subject[k]) for k in ("first_name", "last_name") if subject.get(k)) or "X"
    birth = subject.get("birthday")
    if not 1985 <= meas.year <= 2084:
        raise RecordingError(
            f"cannot write EDF: the recording starts on {meas.date().isoformat()}, outside the years EDF can hold (1985-2084)"
        )
    patient = edfio.Patient(
        code=_header_text(str(subject.get("his_id") or "X")).replace(" ", "_"),
        sex=sex,
        birthdate=birth if isinstance(birth, dt.date) else None,
        name=_header_text(name).replace(" ", "_"),
    )
    edf = edfio.Edf(
        signals,
        patient=patient,
        recording=edfio.Recording(startdate=meas.date()),
        starttime=meas.time().replace(microsecond=0, tzinfo=None),
        data_record_duration=record,
        annotations=anns,
    )
    path = Path(path)
    with atomic_file(path, overwrite=overwrite) as tmp:
        edf.write(tmp)
    if on_progress is not None:
        on_progress(1.0)
    return path
