"""Decimated EEG windows for the browser viewer.

The server never sends a whole recording: :func:`read_window` reads one
window of a montage through the core (:func:`dbrain.io.read_recording`,
:func:`dbrain.montages.apply_montage`, both lazy), filters it as a clinical
viewer does (:func:`dbrain.preprocessing.filter_display`, the report's
filters too: zero-phase Butterworth high-/low-pass, IIR notch at the mains
frequency and its harmonics, with padding read around the window so edges
are not distorted) and, when the window holds more samples than the page can
draw, decimates it by min/max envelope: each bucket of samples becomes its
minimum and maximum in time order, so spikes survive decimation (plain
subsampling would drop them).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import ParameterError

_CACHE: OrderedDict[str, tuple] = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 8
#: Montages applied to open recordings, kept per (file, montage, derivations): building one (channel
#: matching, a new MNE Info and its checks) cost more CPU than reading and filtering a 10 s page.
_DERIVED: OrderedDict[tuple, tuple] = OrderedDict()
_DERIVED_SIZE = 64


#: Recordings being opened, each with the lock its first request holds while opening it.
_OPENING: dict[str, threading.Lock] = {}


def _open(path: Path):
    from ..io import read_recording

    key = str(path)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        opening = _OPENING.setdefault(key, threading.Lock())
    # One request opens the file; the others asking for it meanwhile wait for that one instead of each
    # parsing the header again (a burst of first pages of one recording cost one open per request).
    with opening:
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
        try:
            value = read_recording(path) + (threading.Lock(),)
            with _LOCK:
                _CACHE[key] = value
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
        finally:
            with _LOCK:
                if _OPENING.get(key) is opening:
                    del _OPENING[key]
    return value


def warm_up() -> None:
    """Import, at a web process's start, what its first window page needs.

    The page path imports the readers, the montages and the display filters lazily (with MNE's EDF reader,
    scipy.signal, and what those load: ~1,200 modules, ~0.7 s of CPU on one core, 1.5-2 s of wall time on
    a busy machine). Without this, the first pages every web process served after a start waited for that,
    and a burst of them queued behind it.
    """
    import mne.io.edf  # noqa: F401

    from .. import io, montages, preprocessing  # noqa: F401
    from . import schemas  # noqa: F401


def _minmax(data: np.ndarray, times: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    n = data.shape[1]
    n_buckets = max(max_points // 2, 1)
    size = int(np.ceil(n / n_buckets))
    n_buckets = int(np.ceil(n / size))
    pad = n_buckets * size - n
    padded = np.pad(data, ((0, 0), (0, pad)), mode="edge").reshape(data.shape[0], n_buckets, size)
    lo_i = padded.argmin(axis=2)
    hi_i = padded.argmax(axis=2)
    first = np.minimum(lo_i, hi_i)
    second = np.maximum(lo_i, hi_i)
    rows = np.arange(data.shape[0])[:, None]
    buckets = np.arange(n_buckets)[None, :]
    out = np.empty((data.shape[0], 2 * n_buckets))
    out[:, 0::2] = padded[rows, buckets, first]
    out[:, 1::2] = padded[rows, buckets, second]
    # One time axis for all channels: the bucket's start and middle.
    start = times[np.minimum(np.arange(n_buckets) * size, n - 1)]
    mid = times[np.minimum(np.arange(n_buckets) * size + size // 2, n - 1)]
    t = np.empty(2 * n_buckets)
    t[0::2], t[1::2] = start, mid
    return out, t


#: A user derivation: ``"Fp1-F7"`` (bipolar), ``"C3-AVG"`` (common average), ``"C3-LAP"`` (Laplacian) or ``"C3"`` (as recorded).
_DERIVATION = re.compile(r"^[A-Za-z0-9'_.]{1,16}(-[A-Za-z0-9'_.]{1,16})?$")
MAX_DERIVATIONS = 128
#: Smallest µV per count of the int16 transport.
MIN_SCALE_UV = 0.01


def _user_montage(raw, derivations: list[str]):
    """A :class:`~dbrain.montages.Montage` from the viewer's montage editor (names matched case-insensitively)."""
    from ..montages import Derivation, Montage
    from ..montages._montage import AVERAGE, LAPLACIAN

    if not derivations:
        raise ParameterError("a custom montage needs at least one derivation (e.g. derivation=Fp1-F7)")
    if len(derivations) > MAX_DERIVATIONS:
        raise ParameterError(f"a custom montage has at most {MAX_DERIVATIONS} derivations; got {len(derivations)}")
    names = {c.lower(): c for c in raw.ch_names}
    refs = {"avg": AVERAGE, "lap": LAPLACIAN}
    out = []
    for text in derivations:
        if not _DERIVATION.match(text):
            raise ParameterError(f"derivation {text!r} is not 'A-B', 'A-AVG', 'A-LAP' or 'A' (electrode names)")
        active, _, ref = text.partition("-")
        ref_name = refs.get(ref.lower()) or names.get(ref.lower(), ref)
        out.append(Derivation(names.get(active.lower(), active), ref_name))
    return Montage("custom", (tuple(out),))


def _ecg_channels(raw) -> list[str]:
    """ECG/EKG channels of the recording, shown as recorded below the EEG in every montage."""
    return [n for n, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "ecg"]


def _derived(raw, path, montage: str, derivations: list[str] | None):
    """``apply_montage(raw, …)`` for one montage of one open recording, built once and kept (call under its lock).

    The derived Raw is lazy (it reads through ``raw``), so a kept one gives the same samples as a new one;
    it is kept only while ``raw`` is the object :func:`_open` holds for the file.
    """
    from ..montages import Derivation, Montage, apply_montage, get_montage

    key = (str(path), montage, tuple(derivations or ()))
    with _LOCK:
        hit = _DERIVED.get(key)
        if hit is not None and hit[0] is raw:
            _DERIVED.move_to_end(key)
            return hit[1], hit[2]
    spec = _user_montage(raw, derivations or []) if montage == "custom" else get_montage(raw, montage)
    ecg = tuple(Derivation(c) for c in _ecg_channels(raw) if c not in {d.active for d in spec.derivations if not d.reference})
    if ecg:  # ECG below the EEG in every montage (the groups keep it apart)
        spec = Montage(spec.name, (*spec.groups, ecg))
    derived, result = apply_montage(raw, spec)
    if ecg and len(result.applied) == len(ecg):  # the ECG alone is no montage
        lacking = sorted({m for _, ms in result.skipped for m in ms})
        raise ParameterError(
            f"montage '{spec.name}' cannot be formed from this recording: missing {', '.join(lacking) or 'EEG channels'}"
        )
    with _LOCK:
        _DERIVED[key] = (raw, derived, result)
        while len(_DERIVED) > _DERIVED_SIZE:
            _DERIVED.popitem(last=False)
    return derived, result


def read_window(
    path: str | Path,
    *,
    start: float = 0.0,
    duration: float = 10.0,
    montage: str = "double-banana",
    derivations: list[str] | None = None,
    highpass: float | None = None,
    lowpass: float | None = None,
    notch: float | None = None,
    max_points: int = 2000,
    arrays: bool = False,
) -> dict:
    """Return one decimated, filtered window of a recording as JSON-ready data.

    Parameters
    ----------
    path : str | Path
        The stored recording (EDF/BDF).
    start : float
        Window start in seconds from the recording start.
    duration : float
        Window length in seconds (at most 3600).
    montage : str
        One of :data:`dbrain.montages.BUILTIN_MONTAGES`, or ``"custom"`` with ``derivations``.
        The recording's ECG channels are appended (as recorded, last group) to every montage.
    derivations : list of str | None
        The derivations of a custom montage (``"Fp1-F7"``, ``"C3-AVG"``, ``"C3-LAP"``, ``"C3"``).
    highpass, lowpass : float | None
        Filter corners in Hz (None: off; off at or above 90 % of Nyquist).
    notch : float | None
        Mains frequency in Hz (50 or 60), notched with its harmonics. The
        filters are :func:`dbrain.preprocessing.filter_display`, the same as
        the report's page (:func:`dbrain.report.plot_eeg_page`).
    max_points : int
        Most points per channel in the answer (100 to 20000).
    arrays : bool
        Give ``times`` and ``data`` as float64 arrays (for :func:`encode_int16`) instead of rounded lists.

    Returns
    -------
    window : dict
        ``start``, ``duration``, ``sfreq`` (of the recording), ``decimation``
        (``'none'`` or ``'minmax'``), ``times`` (s from recording start),
        ``channels`` (labels), ``groups``, ``data`` (µV, one list per
        channel), ``units``, ``montage``, ``skipped``, ``filters`` (those applied),
        ``recording_duration``.
    """
    from ..montages import BUILTIN_MONTAGES
    from ..preprocessing import display_padding, filter_display

    if montage not in BUILTIN_MONTAGES and montage != "custom":
        raise ParameterError(f"montage must be one of {', '.join(BUILTIN_MONTAGES)} or custom; got {montage!r}")
    if not (0 < duration <= 3600):
        raise ParameterError(f"duration must be in (0, 3600] seconds; got {duration}")
    if not (100 <= max_points <= 20000):
        raise ParameterError(f"max_points must be in [100, 20000]; got {max_points}")
    raw, info, lock = _open(Path(path))
    sf = float(raw.info["sfreq"])
    total = raw.n_times / sf
    if not (0 <= start < total):
        raise ParameterError(f"start must be in [0, {total:.3f}) seconds (the recording's length); got {start}")
    nyq = sf / 2
    for name, value in (("highpass", highpass), ("lowpass", lowpass), ("notch", notch)):
        if value is not None and not (0 < value < nyq):
            raise ParameterError(f"{name} must be between 0 and {nyq:g} Hz (half the sampling rate); got {value}")
    if highpass is not None and lowpass is not None and highpass >= lowpass:
        raise ParameterError(f"highpass ({highpass} Hz) must be below lowpass ({lowpass} Hz)")
    filtering = any(v is not None for v in (highpass, lowpass, notch))
    i0 = int(round(start * sf))
    i1 = min(raw.n_times, int(round((start + duration) * sf)))
    pad = display_padding(sf, highpass) if filtering else 0
    p0, p1 = max(0, i0 - pad), min(raw.n_times, i1 + pad)
    with lock:  # one lazy Raw per file: MNE readers are not thread-safe
        derived, result = _derived(raw, path, montage, derivations)
        data = derived.get_data(start=p0, stop=p1)
    if filtering:
        data, used = filter_display(data * 1e6, sf, highpass=highpass, lowpass=lowpass, notch=notch)
    else:  # what filter_display answers with every filter off, without its copy of the padded page
        data, used = data * 1e6, {"highpass": None, "lowpass": None, "notch": None}
    data = data[:, i0 - p0 : i1 - p0]
    times = (np.arange(i0, i1)) / sf
    decimation = "none"
    if data.shape[1] > max_points:
        data, times = _minmax(data, times, max_points)
        decimation = "minmax"
    return {
        "start": i0 / sf,
        "duration": (i1 - i0) / sf,
        "sfreq": sf,
        "recording_duration": total,
        "decimation": decimation,
        "montage": result.name,
        "channels": list(derived.ch_names),
        "groups": [list(g) for g in result.groups],
        "skipped": [name for name, _ in result.skipped],
        "units": "uV",
        "filters": used,
        "times": times if arrays else np.round(times, 6).tolist(),
        "data": data if arrays else np.round(data, 3).tolist(),
    }


def encode_int16(window: dict) -> bytes:
    """Pack a window from :func:`read_window` as int16 with a per-channel scale (the viewer's compact transport).

    Layout (little-endian): ``b"DBW1"``, uint32 header length, the header as UTF-8 JSON (every field of
    the window except ``times`` and ``data``, plus ``n_times``, ``scale`` — µV per count, one per channel —
    and ``t0``/``dt`` when the samples are evenly spaced, else ``has_times``), space padding to 4 bytes, then
    the times relative to ``start`` as float32 when ``has_times``, then per channel the int16 counts as
    first differences (modulo 2**16; the first against 0), stored as the n low bytes followed by the n high
    bytes. Differencing, byte planes and the 0.01 µV floor of the count cost nothing visible but let gzip
    shrink a 19 ch × 10 s × 256 Hz page from ~98 kB to ~74 kB (raw int16 noise barely compresses).
    Quantisation error is at most half a count: the larger of 1/65534 of the channel's peak amplitude in
    the window and 0.005 µV.

    Parameters
    ----------
    window : dict
        As returned by :func:`read_window`.

    Returns
    -------
    payload : bytes
    """
    data = np.asarray(window["data"], dtype=np.float64).reshape(len(window["channels"]), -1)
    times = np.asarray(window["times"], dtype=np.float64)
    peak = np.nanmax(np.abs(data), axis=1) if data.size else np.zeros(len(data))
    # The count never goes below 0.01 µV: finer than the least significant bit of nearly any EDF (a 16-bit
    # EDF over ±300 µV already has 0.009 µV), so nothing recorded is lost, while gzip gains about a sixth.
    scale = np.where(np.isfinite(peak) & (peak > 0), np.maximum(peak / 32767.0, MIN_SCALE_UV), 1.0)
    counts = np.round(np.nan_to_num(data / scale[:, None])).clip(-32767, 32767).astype("<i2")
    header = {k: v for k, v in window.items() if k not in ("times", "data")}
    header["n_times"] = int(times.size)
    header["scale"] = [float(x) for x in scale]
    even = window["decimation"] == "none"
    header["has_times"] = not even
    header["coding"] = "delta-int16-byteplanes"
    if even:
        header["t0"] = float(window["start"])
        header["dt"] = 1.0 / float(window["sfreq"])
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-(8 + len(blob)) % 4)
    parts = [b"DBW1", np.uint32(len(blob)).astype("<u4").tobytes(), blob]
    if not even:
        parts.append((times - float(window["start"])).astype("<f4").tobytes())
    deltas = np.diff(counts.astype(np.int32), axis=1, prepend=0).astype("<i2")  # wraps modulo 2**16
    planes = deltas.view(np.uint8).reshape(len(deltas), -1, 2)
    parts.append(np.ascontiguousarray(planes.transpose(0, 2, 1)).tobytes())  # per channel: low bytes, high bytes
    return b"".join(parts)


def recording_events(path: str | Path) -> list[dict]:
    """Return the annotations stored in a recording (onset, duration, text).

    Parameters
    ----------
    path : str | Path

    Returns
    -------
    events : list of dict
    """
    raw, _info, lock = _open(Path(path))
    with lock:
        ann = raw.annotations
        return [
            {"onset": float(o), "duration": float(d), "description": str(t), "source": "file"}
            for o, d, t in zip(ann.onset - (raw.first_samp / raw.info["sfreq"]), ann.duration, ann.description, strict=True)
            if t != "BAD_ACQ_SKIP"
        ]
