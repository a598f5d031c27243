#!/usr/bin/env python
"""Network benchmark: all bands × all measures on a 20 min, 19-channel resting recording.

Usage::

    python benchmarks/bench_network.py                 # 20 min (the README figures)
    python benchmarks/bench_network.py --duration 300  # quick run

The script simulates a resting 10-20 EEG (``dbrain.simulate.simulate_eeg``,
19 channels, 256 Hz, no events) and times, in one process, one after the other:

* ``dbrain`` — :func:`dbrain.network.clean_epochs` over the whole recording
  (artifact strength, 4 s epochs) and :func:`dbrain.network.compute_connectivity`
  for the five bands × coh, imcoh, plv, wpli, aec (common average reference);
  then the same with PDC added, and with 19 phase-randomised surrogates for the
  four spectral measures; :func:`dbrain.network.graph_measures` of the five
  wPLI matrices; :func:`dbrain.network.resting_state_features`;
* ``mne-connectivity`` — the same epochs through plain mne-connectivity calls
  with default settings: ``spectral_connectivity_epochs(method=[coh, imcoh,
  plv, wpli], fmin/fmax = bands, faverage=True)`` (default multitaper mode) and,
  per band, ``mne.filter.filter_data`` + ``envelope_correlation(orthogonalize=
  "pairwise")`` of the Hilbert analytic signal;
* ``mne-connectivity (fourier)`` — the same call with ``mode="fourier"``, which
  is dbrain's definition (the tests check the values are equal).

It prints a markdown table of wall times and the ratio of the peer's time to
dbrain's (above 1: dbrain is faster). The machine is shared: run it twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1200.0, help="seconds of simulated EEG (default 1200 = 20 min)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import mne
    import mne_connectivity as mc
    from scipy.signal import hilbert

    from dbrain.network import (
        BANDS,
        MEASURES,
        clean_epochs,
        compute_connectivity,
        connectivity_matrix,
        graph_measures,
        resting_state_features,
    )
    from dbrain.simulate import simulate_eeg

    raw, _ = simulate_eeg(args.duration, sfreq=256.0, ekg=False, seed=args.seed, verbose="error")
    sfreq = raw.info["sfreq"]

    def timed(func):
        t0 = time.perf_counter()
        func()
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    epochs, _starts, names = clean_epochs(raw, max_duration=args.duration)
    t_clean = time.perf_counter() - t0
    epochs = epochs - epochs.mean(axis=1, keepdims=True)
    spectral = ("coh", "imcoh", "plv", "wpli")
    t_spec = timed(lambda: compute_connectivity(epochs, sfreq, names, measures=spectral))
    t_aec = timed(lambda: compute_connectivity(epochs, sfreq, names, measures=("aec",)))
    t_pdc = timed(lambda: compute_connectivity(epochs, sfreq, names, measures=("pdc",)))
    t0 = time.perf_counter()
    table = compute_connectivity(epochs, sfreq, names, measures=MEASURES)
    t_conn = time.perf_counter() - t0
    t0 = time.perf_counter()
    for band in BANDS:
        graph_measures(connectivity_matrix(table, band, "wpli", names)[0], names, density=0.3, n_random=10)
    resting_state_features(epochs, sfreq, names, table=table)
    t_graph = time.perf_counter() - t0
    t_surr = timed(lambda: compute_connectivity(epochs, sfreq, names, measures=spectral, n_surrogates=19))

    fmin = tuple(lo for lo, _ in BANDS.values())
    fmax = tuple(hi for _, hi in BANDS.values())

    def mne_spectral(mode):
        mc.spectral_connectivity_epochs(
            epochs, method=list(spectral), sfreq=sfreq, mode=mode, fmin=fmin, fmax=fmax, faverage=True, verbose=False
        )

    def mne_aec():
        for lo, hi in BANDS.values():
            filt = mne.filter.filter_data(epochs, sfreq, lo, hi, verbose=False)
            mc.envelope_correlation(hilbert(filt, axis=-1), orthogonalize="pairwise").combine()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_mt = timed(lambda: mne_spectral("multitaper"))
        p_fourier = timed(lambda: mne_spectral("fourier"))
        p_aec = timed(mne_aec)

    def ratio(peer, ours):
        return f"{peer / ours:.2f}x" if peer else "—"

    rows = [
        ("clean epochs (artifact strength, whole recording)", t_clean, None, ""),
        ("coh, imcoh, plv, wpli × 5 bands — vs mne-connectivity `fourier` (same definition)", t_spec, p_fourier, ""),
        ("coh, imcoh, plv, wpli × 5 bands — vs mne-connectivity default (`multitaper`)", t_spec, p_mt, ""),
        ("orthogonalised AEC × 5 bands — vs filter_data + Hilbert + envelope_correlation", t_aec, p_aec, ""),
        ("PDC × 5 bands (VAR order 5; no mne-connectivity PDC)", t_pdc, None, ""),
        ("all 5 undirected measures × 5 bands, one call", t_conn, p_mt + p_aec, "peer: multitaper + AEC"),
        ("graph measures of the 5 wPLI graphs + resting features", t_graph, None, ""),
        ("coh, imcoh, plv, wpli × 5 bands + 19 phase-randomised surrogates", t_surr, None, ""),
        ("**end to end: clean epochs → 5 measures × 5 bands → graphs**", t_clean + t_conn + t_graph, None, ""),
    ]
    print(
        f"\n{args.duration / 60:g} min, {len(names)} channels, {sfreq:g} Hz; {len(epochs)} clean 4-s epochs; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {dt.date.today().isoformat()}\n"
    )
    print("| task | dbrain (s) | mne-connectivity (s) | peer time / dbrain time |")
    print("|---|---|---|---|")
    for what, ours, peer, note in rows:
        print(f"| {what} | {ours:.2f} | {f'{peer:.2f}' if peer else '—'} | {ratio(peer, ours)}{f' ({note})' if note else ''} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
