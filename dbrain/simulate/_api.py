"""Public entry points of dbrain.simulate."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..errors import OutputError, ParameterError
from ..events import write_events
from ..utils import _validate_type, logger, verbose
from ..utils._atomic import atomic_file
from ._edf import EdfWriter, to_digital
from ._engine import DIGITAL_RANGE, MEAS_DATE, PHYSICAL_RANGE, Simulation

_UNITS = {
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)")


def parse_duration(value) -> float:
    """Parse a duration into seconds.

    Parameters
    ----------
    value : str | float | int
        A number of seconds, or text such as ``"90"``, ``"90s"``, ``"10min"``,
        ``"1h"``, ``"24h"``, ``"1h30m"``, ``"1.5 h"``, ``"2d"``.

    Returns
    -------
    seconds : float

    Raises
    ------
    dbrain.errors.ParameterError
        If the text is not a duration or the duration is not positive.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            rebuilt = "".join(f"{n}{u}" for n, u in parts)
            if not parts or rebuilt != re.sub(r"\s+", "", text) or any(u not in _UNITS for _, u in parts):
                raise ParameterError(
                    f"cannot read duration {value!r}: use seconds or a number with a unit, "
                    "e.g. '90', '90s', '10min', '1h', '1h30m' (units: d, h, m/min, s)."
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        _validate_type(value, (int, float, np.integer, np.floating), "duration", "number or str")
        seconds = float(value)
    if not np.isfinite(seconds) or seconds <= 0:
        raise ParameterError(f"duration must be positive, got {value!r}.")
    return seconds


def events_path_for(edf_path: str | os.PathLike) -> Path:
    """Return the ground-truth TSV path beside an EDF: ``rec.edf`` -> ``rec_events.tsv``.

    Parameters
    ----------
    edf_path : path-like
        The simulated EDF.

    Returns
    -------
    path : pathlib.Path
    """
    edf_path = Path(edf_path)
    return edf_path.with_name(f"{edf_path.stem}_events.tsv")


@verbose
def simulate_eeg(
    duration,
    *,
    sfreq: float = 256.0,
    seizures: int = 0,
    spikes: int = 0,
    artifacts: bool = False,
    line_freq: float = 50.0,
    ekg: bool = True,
    seed: int = 0,
    on_progress: Callable[[float], None] | None = None,
    verbose=None,
) -> tuple[mne.io.RawArray, pd.DataFrame]:
    """Simulate a 10-20 EEG recording in memory, with its exact ground truth.

    The background is a linearised stochastic Jansen–Rit neural mass per
    electrode (posterior-dominant alpha at 9.5–10.5 Hz over a broadband
    low-activity rhythm, spatially correlated); seizures come from a Wendling
    neural mass driven from background through low-voltage fast activity to
    rhythmic discharges that slow down and grow, starting at a focus and
    recruiting neighbouring electrodes with delays; spikes are sharp
    surface-negative transients (35–65 ms) with an after-going slow wave and
    a spatial field. With ``artifacts``: eye blinks (Fp1/Fp2), muscle bursts
    (temporal), electrode pops (one electrode) and line noise.

    Parameters
    ----------
    duration : float | str
        Seconds, or text such as ``"10min"`` (see :func:`parse_duration`);
        10 s to 7 days. Keep in-memory recordings short: an hour of 20
        channels at 256 Hz is 150 MB; use :func:`write_simulated_edf` for long ones.
    sfreq : float
        Sampling rate in Hz, a whole number from 128 to 1024.
    seizures : int
        Number of seizures (30–90 s each, 10 s clear of other events either side).
    spikes : int
        Number of interictal spikes; 80 % arise from one temporal focus per recording.
    artifacts : bool
        Add eye blinks (120/h), muscle bursts (20/h), electrode pops (4/h) —
        at least one of each — and continuous line noise. Line noise is not
        listed in the events table.
    line_freq : 50 | 60
        Mains frequency in Hz.
    ekg : bool
        Add an ECG channel (named ``ECG``, type ``ecg``).
    seed : int
        Seed (>= 0). The same parameters and seed give the same samples, bit
        for bit, however the recording is chunked.
    on_progress : callable | None
        Called with the fraction done (0–1) as the recording is generated.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    raw : mne.io.RawArray
        The recording in volts, with normalised channel names (``Fp1`` …,
        ``T7``/``T8``/``P7``/``P8``, ``ECG``) and ``meas_date`` 2020-01-01
        00:00:00 UTC. Samples are clipped to ±3276.8 µV, the EDF range.
    events : pandas.DataFrame
        The ground truth as a :mod:`dbrain.events` table (``sz``, ``spike``,
        ``eyeblink``, ``muscle``, ``electrode_pop``), onsets exact to the
        sample. A spike's negative peak is at sample
        ``onset * sfreq + round(SPIKE_PEAK_LATENCY * sfreq)`` on its first channel.
        (The TSV written by :func:`write_simulated_edf` keeps 4 decimals;
        ``round(onset * sfreq)`` still gives the exact sample.)

    Raises
    ------
    dbrain.errors.ParameterError
        For invalid parameters, or more events than fit into ``duration``.
    """
    sim = Simulation(
        parse_duration(duration),
        sfreq=sfreq,
        seizures=seizures,
        spikes=spikes,
        artifacts=artifacts,
        line_freq=line_freq,
        ekg=ekg,
        seed=seed,
    )
    data = np.empty((sim.n_channels, sim.n_times))
    chunk = int(60 * sim.sfreq)
    for start, block in sim.chunks(chunk, on_progress):
        data[:, start : start + block.shape[1]] = block
    data *= 1e-6
    info = mne.create_info(sim.ch_names, sim.sfreq, sim.ch_types)
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_meas_date(MEAS_DATE)
    logger.info("Simulated %.0f s of EEG with %d event(s)", sim.duration, len(sim.events))
    return raw, sim.events_table()


@verbose
def write_simulated_edf(
    path: str | os.PathLike,
    duration,
    *,
    sfreq: float = 256.0,
    seizures: int = 0,
    spikes: int = 0,
    artifacts: bool = False,
    line_freq: float = 50.0,
    ekg: bool = True,
    seed: int = 0,
    chunk_duration: float = 60.0,
    overwrite: bool = True,
    on_progress: Callable[[float], None] | None = None,
    verbose=None,
) -> tuple[Path, Path]:
    """Simulate a recording straight to an EDF+ file, with its ground truth beside it.

    Same signal as :func:`simulate_eeg` for the same parameters (up to the
    0.1 µV quantisation of EDF), generated and written chunk by chunk with
    bounded memory: 24 h of 19 channels at 256 Hz takes well under a minute.

    Parameters
    ----------
    path : path-like
        The ``.edf`` file to write; the events go to ``<stem>_events.tsv``
        beside it (see :func:`events_path_for`). Existing files are replaced;
        both files appear only when complete.
    duration : float | str
        Seconds or text such as ``"24h"``; a whole number of seconds.
    sfreq, seizures, spikes, artifacts, line_freq, ekg, seed
        As in :func:`simulate_eeg`.
    chunk_duration : float
        Seconds generated per step (rounded to whole seconds); sets the
        memory used, not the signal.
    overwrite : bool
        Replace existing files; if False, an existing EDF or events TSV is an error.
    on_progress : callable | None
        Called with the fraction done (0–1) after each chunk.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    edf_path, events_path : pathlib.Path
        The EDF+C file (labels such as ``EEG Fp1-REF``, ``EEG T3-REF``,
        ``EKG``; µV; ±3276.8 µV on 16 bits) and the events TSV.

    Raises
    ------
    dbrain.errors.ParameterError
        For invalid parameters or a path not ending in ``.edf``.
    dbrain.errors.OutputError
        If the location cannot be written, or a file exists and ``overwrite`` is False.
    """
    _validate_type(path, (str, os.PathLike), "path", "path-like")
    path = Path(path)
    if path.suffix.lower() != ".edf":
        raise ParameterError(f"the output must be an .edf file, got '{path}'.")
    events_path = events_path_for(path)
    _validate_type(overwrite, bool, "overwrite")
    if not overwrite:
        for existing in (path, events_path):
            if existing.exists():
                raise OutputError(f"output '{existing}' exists")
    seconds = parse_duration(duration)
    if seconds != int(seconds):
        raise ParameterError(f"duration must be a whole number of seconds for EDF (one-second records), got {seconds:g} s.")
    _validate_type(chunk_duration, (int, float, np.integer, np.floating), "chunk_duration", "number")
    if not chunk_duration >= 1:
        raise ParameterError(f"chunk_duration must be at least 1 s, got {chunk_duration!r}.")
    sim = Simulation(
        seconds, sfreq=sfreq, seizures=seizures, spikes=spikes, artifacts=artifacts, line_freq=line_freq, ekg=ekg, seed=seed
    )
    sfreq_int = int(sim.sfreq)
    chunk = int(round(chunk_duration)) * sfreq_int
    events = sim.events_table()
    t0 = time.perf_counter()
    with atomic_file(path, overwrite=overwrite) as tmp, open(tmp, "wb") as fid:
        writer = EdfWriter(
            fid,
            sim.edf_labels,
            sfreq_int,
            sim.n_times // sfreq_int,
            MEAS_DATE,
            physical=PHYSICAL_RANGE,
            digital=DIGITAL_RANGE,
            unit="uV",
            patient="X X X Simulated_EEG",
            recording_extra=f"X X dbrain.simulate_seed{sim.seed}",
            transducers=["AgAgCl electrode"] * (sim.n_channels - int(sim.ekg)) + ["ECG electrode"] * int(sim.ekg),
        )
        for _, block in sim.chunks(chunk, on_progress):
            writer.write(to_digital(block, PHYSICAL_RANGE, DIGITAL_RANGE))
        writer.close()
    write_events(events, events_path)
    logger.info("Wrote %s (%.0f s, %d event(s)) in %.1f s", path, sim.duration, len(events), time.perf_counter() - t0)
    return path, events_path
