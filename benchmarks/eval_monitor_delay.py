"""Detection delay and false alarms of the live monitor (#21) on replayed recordings with known onsets.

Each recording is fed to a :class:`dbrain.monitor.Monitor` as a live stream would feed it (1 s
pieces, no length known in advance; the alarms are decided on the *provisional* seizure
probability), at full speed rather than through LSL (``--lsl-check`` shows once that an LSL replay
raises the same alarms). A seizure counts as detected by the first seizure alarm raised between its
onset and its end + 30 s; delay = raised - onset (stream seconds). An alarm matching no seizure is
a false alarm. Also reported: how many alarms the final (whole-stream, file-path) result confirms
(an event overlapping the alarm's episode).

Recordings:

* simulated: ``dbrain.simulate`` (19 ch + EKG, 256 Hz, artifacts), ``--sim`` recordings of ``--sim-minutes``
  with 2 seizures each;
* real, with onsets: ``seizure/bonn`` — ``--bonn`` splices of 5 interictal intracranial segments
  (sets N/F, 118 s) followed by one ictal segment (set S, 23.6 s; onset = the splice), single channel,
  173.61 Hz; ``seizure/kaggle-dog1-ieeg`` — for each of its 5 seizures, 180 interictal 1-s clips then the
  seizure's ictal clips in latency order (onset = latency 0), 16 intracranial channels, 399.61 Hz. Both
  are splices of real segments (the only real onsets under ``../shared/data/seizure``), and intracranial
  or single-channel where the model was trained on scalp EEG: read the figures as such;
* seizure-free, real, for false alarms per hour: ``dementia/ds004504`` (58 people, 5 min each, 19 ch,
  95 Hz, µV) and ``developmental/adhd-children`` (80 children, 1-6 min, 19 ch, 128 Hz; unknown unit:
  scaled per child to a median 1-40 Hz SD of 30 µV). Each person is a separate stream, so most of these
  hours are in a stream's first minutes (short-recording map, background still forming).

Usage::

    nice -n 10 python benchmarks/eval_monitor_delay.py [--sim 8] [--bonn 40] [--no-dog] [--free-limit N]
        [--jobs 2] [--lsl-check] [--confirm 3]

Prints one table per group and a JSON summary on the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _sim(seed: int, minutes: float):
    from dbrain.simulate import simulate_eeg

    raw, ev = simulate_eeg(minutes * 60, seizures=2, artifacts=True, seed=seed)
    sz = ev[ev["eventType"] == "sz"]
    return {
        "name": f"sim-{seed}",
        "data": raw.get_data(),
        "ch_names": raw.ch_names,
        "ch_types": raw.get_channel_types(),
        "sfreq": raw.info["sfreq"],
        "seizures": list(zip(sz["onset"], sz["duration"], strict=True)),
    }


def _bonn(i: int, rng_seed: int = 0):
    rng = np.random.default_rng(rng_seed + i)
    folder = DATA / "seizure" / "bonn"

    def read(path):
        return np.loadtxt(path)

    inter = sorted((folder / "N").iterdir()) + sorted((folder / "F").iterdir())
    ictal = sorted((folder / "S").iterdir())
    parts = [read(inter[k]) for k in rng.choice(len(inter), 5, replace=False)] + [read(ictal[i % len(ictal)])]
    x = np.concatenate(parts)[None, :] * 1e-6  # raw units taken as µV (Bonn amplitudes are µV-like)
    onset = sum(len(p) for p in parts[:-1]) / 173.61
    return {
        "name": f"bonn-{ictal[i % len(ictal)].stem}",
        "data": x,
        "ch_names": ["iEEG1"],
        "ch_types": ["eeg"],
        "sfreq": 173.61,
        "seizures": [(onset, len(parts[-1]) / 173.61)],
    }


def _dog(k: int):
    d = np.load(DATA / "seizure" / "kaggle-dog1-ieeg" / "dog1_clips.npz", allow_pickle=True)
    lat, ictal, data, sfreq = d["latency_s"], d["ictal"], d["data"], float(d["sfreq"])
    idx = np.flatnonzero(ictal == 1)
    starts = [j for j, i in enumerate(idx) if lat[i] == 0] + [len(idx)]
    seizure = idx[starts[k] : starts[k + 1]]
    seizure = seizure[np.argsort(lat[seizure], kind="stable")]
    inter = np.flatnonzero(ictal == 0)
    pick = np.random.default_rng(k).choice(inter, 180, replace=False)
    x = np.concatenate([*data[pick], *data[seizure]], axis=1).astype(np.float64) * 1e-6
    onset = 180 * data.shape[2] / sfreq
    return {
        "name": f"dog1-sz{k}",
        "data": x,
        "ch_names": [f"iEEG{c + 1}" for c in range(data.shape[1])],
        "ch_types": ["eeg"] * data.shape[1],
        "sfreq": sfreq,
        "seizures": [(onset, len(seizure) * data.shape[2] / sfreq)],
    }


def _free(cohort: str, i: int):
    from scipy.signal import butter, sosfiltfilt

    if cohort == "ds004504":
        d = np.load(DATA / "dementia" / "ds004504" / "ds004504_95hz_5min.npz", allow_pickle=True)
        subj = str(d["subject"][i])
        x = d[f"eeg_{subj}"].astype(np.float64) * float(d["unit_uV"]) * 1e-6
    else:
        d = np.load(DATA / "developmental" / "adhd-children" / "adhd_children_128hz.npz", allow_pickle=True)
        subj = str(d["subject"][i])
        x = d[f"eeg_{subj}"].astype(np.float64)
        sos = butter(4, [1, 40], btype="bandpass", fs=float(d["sfreq"]), output="sos")
        sd = np.median(sosfiltfilt(sos, x - x.mean(axis=1, keepdims=True), axis=1).std(axis=1))
        x = x / sd * 30e-6  # unknown unit: median 1-40 Hz SD scaled to 30 µV
    return {
        "name": f"{cohort}-{subj}",
        "data": x,
        "ch_names": [str(c) for c in d["channels"]],
        "ch_types": ["eeg"] * len(d["channels"]),
        "sfreq": float(d["sfreq"]),
        "seizures": [],
    }


def _n_free(cohort: str) -> int:
    path = (
        DATA / "dementia" / "ds004504" / "ds004504_95hz_5min.npz"
        if cohort == "ds004504"
        else DATA / "developmental" / "adhd-children" / "adhd_children_128hz.npz"
    )
    return len(np.load(path, allow_pickle=True)["subject"])


def monitor_recording(rec: dict, confirm: float = 3.0) -> dict:
    """Feed one recording to a Monitor in 1 s pieces; its alarms, the final events and the scores."""
    from dbrain.monitor import Monitor, stream_info

    info = stream_info(rec["ch_names"], rec["ch_types"], rec["sfreq"])
    mon = Monitor(info, None, name=rec["name"], confirm=confirm)
    x = rec["data"]
    step = int(round(rec["sfreq"]))
    t0 = time.perf_counter()
    for s in range(0, x.shape[1], step):
        mon.push(x[:, s : s + step])
    seconds_cpu = time.perf_counter() - t0
    alarms = [a for a in mon.book.history if a.type == "seizure"]
    results = mon.finish()
    final = results["seizures"].summary.get("seizures", []) if "seizures" in results else []
    delays, matched = [], set()
    for onset, duration in rec["seizures"]:
        hit = [k for k, a in enumerate(alarms) if onset <= a.raised <= onset + duration + 30]
        if hit:
            delays.append(alarms[hit[0]].raised - onset)
            matched.update(hit)
        else:
            delays.append(None)
    false = [k for k in range(len(alarms)) if k not in matched]

    def confirmed(a):
        end = a.cleared if a.cleared is not None else mon.seconds
        return any(e["onset"] <= end and a.onset <= e["onset"] + e["duration"] for e in final)

    return {
        "name": rec["name"],
        "hours": x.shape[1] / rec["sfreq"] / 3600,
        "n_seizures": len(rec["seizures"]),
        "delays": delays,
        "onset_errors": [alarms[k].onset - o for k, (o, _) in zip(sorted(matched), rec["seizures"], strict=False)],
        "n_alarms": len(alarms),
        "false_alarms": len(false),
        "alarms_confirmed_by_final": sum(confirmed(a) for a in alarms),
        "final_events": len(final),
        "realtime_factor": x.shape[1] / rec["sfreq"] / max(seconds_cpu, 1e-9),
    }


def _job(args):
    kind, i, confirm, minutes = args
    rec = {"sim": lambda: _sim(100 + i, minutes), "bonn": lambda: _bonn(i), "dog": lambda: _dog(i)}.get(kind)
    rec = rec() if rec else _free(kind, i)
    return kind, monitor_recording(rec, confirm)


def lsl_check(minutes: float = 5.0, speed: float = 20.0) -> bool:
    """One simulated recording through an LSL replay and through a direct push: the same alarms?"""
    import mne

    from dbrain.monitor import Monitor, stream_info
    from dbrain.monitor._lsl import LslSource, Replayer
    from dbrain.monitor._run import run_monitor

    rec = _sim(100, minutes)
    raw = mne.io.RawArray(rec["data"], mne.create_info(rec["ch_names"], rec["sfreq"], rec["ch_types"]), verbose="error")
    name = f"dbrain-eval-{time.time_ns()}"
    player = Replayer(raw, name, speed=speed).start()
    try:
        mon = run_monitor(LslSource(name, speed=speed, lost_after=2.0), None, name=name, speed=speed, until_end=True)
    finally:
        player.stop()
    direct = Monitor(stream_info(rec["ch_names"], rec["ch_types"], rec["sfreq"]), None)
    direct.push(rec["data"])
    a = [(x.type, x.raised, x.onset) for x in mon.book.history if x.type == "seizure"]
    b = [(x.type, x.raised, x.onset) for x in direct.book.history if x.type == "seizure"]
    print(f"LSL replay at {speed:g}x: {len(a)} seizure alarm(s) {a}; direct push: {b}; same: {a == b}")
    return a == b


def _summary(rows: list[dict]) -> dict:
    delays = [d for r in rows for d in r["delays"] if d is not None]
    n_sz = sum(r["n_seizures"] for r in rows)
    hours = sum(r["hours"] for r in rows)
    false = sum(r["false_alarms"] for r in rows)
    n_alarms = sum(r["n_alarms"] for r in rows)
    return {
        "recordings": len(rows),
        "hours": round(hours, 2),
        "seizures": n_sz,
        "detected": len(delays),
        "median_delay_s": None if not delays else round(float(np.median(delays)), 1),
        "p95_delay_s": None if not delays else round(float(np.percentile(delays, 95)), 1),
        "false_alarms": false,
        "false_alarms_per_hour": round(false / hours, 2) if hours else None,
        "alarms_confirmed_by_final": f"{sum(r['alarms_confirmed_by_final'] for r in rows)}/{n_alarms}",
        "min_realtime_factor": round(min(r["realtime_factor"] for r in rows), 1) if rows else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", type=int, default=8, help="simulated recordings (2 seizures each)")
    ap.add_argument("--sim-minutes", type=float, default=10.0)
    ap.add_argument("--bonn", type=int, default=40, help="Bonn splices (of 100 ictal segments)")
    ap.add_argument("--no-dog", action="store_true", help="leave out the Kaggle Dog 1 seizures")
    ap.add_argument("--free-limit", type=int, default=None, help="people per seizure-free cohort (default: all)")
    ap.add_argument("--confirm", type=float, default=3.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--lsl-check", action="store_true", help="also replay one simulated recording over LSL")
    args = ap.parse_args(argv)
    jobs = [("sim", i, args.confirm, args.sim_minutes) for i in range(args.sim)]
    have = (DATA / "seizure").is_dir()
    if have:
        jobs += [("bonn", i, args.confirm, 0) for i in range(args.bonn)]
        jobs += [] if args.no_dog else [("dog", k, args.confirm, 0) for k in range(5)]
        for cohort in ("ds004504", "adhd"):
            n = _n_free(cohort)
            jobs += [(cohort, i, args.confirm, 0) for i in range(min(n, args.free_limit or n))]
    else:
        print(f"shared data not found at {DATA}: simulated recordings only", file=sys.stderr)
    t0 = time.perf_counter()
    groups: dict[str, list] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for kind, row in pool.map(_job, jobs):
            groups.setdefault(kind, []).append(row)
    out = {"confirm_s": args.confirm, "groups": {k: _summary(v) for k, v in groups.items()}}
    free = [r for k in ("ds004504", "adhd") for r in groups.get(k, [])]
    if free:
        out["groups"]["seizure_free_all"] = _summary(free)
    onsets = [e for k in ("sim", "bonn", "dog") for r in groups.get(k, []) for e in r["onset_errors"]]
    if onsets:
        out["onset_error_median_s"] = round(float(np.median(onsets)), 1)
    print(
        f"{'group':18} {'rec':>4} {'hours':>6} {'sz':>4} {'det':>4} {'median':>7} {'p95':>6} {'FA':>4} {'FA/h':>6} {'confirmed':>10}"
    )
    for k, s in out["groups"].items():
        print(
            f"{k:18} {s['recordings']:>4} {s['hours']:>6} {s['seizures']:>4} {s['detected']:>4} "
            f"{s['median_delay_s'] if s['median_delay_s'] is not None else '-':>7} "
            f"{s['p95_delay_s'] if s['p95_delay_s'] is not None else '-':>6} {s['false_alarms']:>4} "
            f"{s['false_alarms_per_hour'] if s['false_alarms_per_hour'] is not None else '-':>6} {s['alarms_confirmed_by_final']:>10}"
        )
    if args.lsl_check:
        out["lsl_same_alarms"] = lsl_check()
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
