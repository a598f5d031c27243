#!/usr/bin/env python
"""Whole-analysis benchmark: ``dbrain analyze`` of a long recording beside MNE's plain read of the same file.

Usage (one command prints every table; on a shared machine, say so next to the figures)::

    python benchmarks/bench_analyze.py                                    # 24 h (the issue's figure)
    python benchmarks/bench_analyze.py --durations 1h,6h,24h,72h --work ~/bench-cache   # cost growth
    python benchmarks/bench_analyze.py --durations 1h --batch 200         # + batch throughput, 200 × 10 min
    python benchmarks/bench_analyze.py --durations 1h --no-report

For each duration the script simulates a 19-channel 10-20 EEG + EKG at 256 Hz
with artifacts, seizures and spikes (``dbrain simulate``, cached in
``--work``), then runs, each in a fresh process of its own:

* ``mne``: MNE's plain read of the same file, the floor of any analysis:
  ``mne.io.read_raw_edf(path).get_data(start, stop)`` chunk by chunk as the
  engine reads it (300 s), and ``read_raw_edf(path, preload=True)`` up to
  ``--preload-max`` (a 72 h preload needs 10 GB);
* ``analyze``: :func:`dbrain.analyze.analyze` with all default steps and the
  report (``--no-report``: without), ledger off.

It prints wall time and peak RSS of each (for ``analyze`` also the peak RSS and PSS summed over its
whole process tree — the qEEG step's forked pool, the process drawing the report's figures —
sampled every 0.1 s from outside), the time of each step and of the
engine's shared products and of the report (from ``summary.json``), and for
several durations the growth of wall time and memory (with the issue's check
72 h ≤ 3 × 24 h + 10 s). ``--batch N`` adds the throughput of
:func:`dbrain.batch.run_batch` (2 local workers, all default steps) over N
simulated 10 min recordings with rendering off (the batch default) and on
(``report=True``, what every batch task did before the engine), and the time
200 recordings would take at each rate. ``--baseline DIR`` runs the same
analyses and batches with the dbrain source tree in ``DIR`` too (e.g. ``git
worktree add /tmp/old <commit>``), in the same run, and prints both side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, peak_rss_mb, run_worker, simulate_edf, workdir  # noqa: E402


def _worker(kind: str, path: str, report: bool) -> dict:
    if kind in ("mne", "mne-chunks"):
        import mne

        t0 = time.perf_counter()
        if kind == "mne":
            raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        else:
            raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
            step = int(round(300 * raw.info["sfreq"]))
            for start in range(0, raw.n_times, step):
                raw.get_data(start=start, stop=min(start + step, raw.n_times))
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "n_times": int(raw.n_times), "cpu_seconds": _cpu_seconds()}
    from dbrain.analyze import analyze

    with tempfile.TemporaryDirectory(prefix="dbrain-bench-analyze-") as tmp:
        t0 = time.perf_counter()
        out = analyze(path, Path(tmp) / "out", ledger=False, report=report, verbose="error")
        seconds = time.perf_counter() - t0
        summary = json.loads((out.out_dir / "summary.json").read_text())
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "steps": {s["name"]: [s["seconds"], s.get("streaming", False)] for s in summary["steps"]},
        "engine": summary["engine"],
        "report_seconds": summary.get("report_seconds"),
        "cpu_seconds": _cpu_seconds(),
    }


def _cpu_seconds() -> float:
    """User + system CPU time of this worker and its finished children (CPU ÷ wall: how many cores were busy)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _batch(folder: Path, n: int, report: bool) -> dict:
    """``run_batch`` over ``n`` simulated 10 min recordings, 2 workers, all default steps."""
    import shutil

    from dbrain.batch import run_batch
    from dbrain.simulate import write_simulated_edf

    data = folder / f"batch-{n}x10min"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = data / f"sim{i:04d}.edf"
        if not path.is_file():
            write_simulated_edf(path, "10min", seed=i, seizures=i % 2, spikes=5, artifacts=bool(i % 2))
    for side in data.glob("*_events.tsv"):  # ground truth is not an input
        side.unlink()
    store = folder / f"batch-store-{'report' if report else 'numbers'}"
    shutil.rmtree(store, ignore_errors=True)
    result = run_batch(data, store, workers=2, ledger=False, report=report)
    shutil.rmtree(store, ignore_errors=True)
    return {"seconds": result.seconds, "computed": int(result.n_computed), "errors": int(result.n_errors)}


def repeat_edf(src: Path, dst: Path, times: int) -> None:
    """Write ``src`` (EDF+C) ``times`` times over into ``dst``: a long recording without simulating it.

    The header is copied with the record count multiplied; the data records are written ``times``
    times, each record's time-keeping annotation rewritten to its new onset. The recording then
    repeats itself (its seizures and spikes too). Only for files whose annotation signal holds nothing
    but the time keeping (the simulated ones); anything else is refused.
    """
    import numpy as np

    raw = src.read_bytes()
    n_header, n_signals, n_records = int(raw[184:192]), int(raw[252:256]), int(raw[236:244])
    record_seconds = float(raw[244:252])
    at = 256 + 216 * n_signals  # samples per record, 8 characters per signal
    samples = [int(raw[at + 8 * i : at + 8 * (i + 1)]) for i in range(n_signals)]
    labels = [raw[256 + 16 * i : 256 + 16 * (i + 1)].strip() for i in range(n_signals)]
    if labels[-1] != b"EDF Annotations" or b"EDF Annotations" in labels[:-1] or raw[192:197] != b"EDF+C":
        raise ValueError(f"{src}: not an EDF+C file with one (last) annotation signal")
    data = np.frombuffer(raw, np.uint8, offset=n_header).reshape(n_records, 2 * sum(samples))
    a0, width = 2 * sum(samples[:-1]), 2 * samples[-1]

    def time_keeping(first: int) -> np.ndarray:
        out = np.zeros((n_records, width), np.uint8)
        for i in range(n_records):
            tal = f"+{(first + i) * record_seconds:g}\x14\x14".encode()
            out[i, : len(tal)] = np.frombuffer(tal, np.uint8)
        return out

    if not np.array_equal(data[:, a0 : a0 + width], time_keeping(0)):
        raise ValueError(f"{src}: annotations other than the time keeping; cannot repeat it")
    header = bytearray(raw[:n_header])
    header[236:244] = f"{times * n_records:<8d}".encode()
    tmp = dst.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(header)
        for k in range(times):
            block = data.copy()
            block[:, a0 : a0 + width] = time_keeping(k * n_records)
            f.write(block.tobytes())
    tmp.replace(dst)


def _tree_memory(pid: int) -> tuple[float, float]:
    """Resident and proportional set size (MB) of process ``pid`` and all its descendants, now (Linux)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:  # exited meanwhile
            pass
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def run_sampled(args: list[str], env: dict | None = None, every: float = 0.1) -> dict:
    """:func:`run_worker` of this script, with the memory of the worker's whole process tree sampled from outside.

    An analysis runs processes of its own (the qEEG step's pool, the process drawing the report's
    figures): ``peak_rss_mb`` is the worker's own peak (``ru_maxrss``); ``tree_rss_mb`` and
    ``tree_pss_mb`` are the peaks of the sums over the worker and its descendants, sampled every
    ``every`` s from this process (no thread in the measured one). PSS shares the pages processes
    share (libraries) between them, so it is the honest sum; RSS counts them once per process.
    """
    if not sys.platform.startswith("linux"):
        return run_worker(__file__, args, env=env)
    import subprocess

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, *args], stdout=out, stderr=err, text=True, env=env)
        peak_rss = peak_pss = 0.0
        while proc.poll() is None:
            rss, pss = _tree_memory(proc.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(every)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"worker {' '.join(args)} failed:\n{err.read().strip()}")
        result = json.loads(out.read().strip().splitlines()[-1])
    return {**result, "tree_rss_mb": peak_rss, "tree_pss_mb": peak_pss}


def _parse_hours(text: str) -> float:
    from dbrain.simulate import parse_duration

    return parse_duration(text) / 3600.0


def _cpu(run: dict | None) -> str:
    return "" if run is None or "cpu_seconds" not in run else f"{run['cpu_seconds']:.1f}"


def _tree(run: dict | None) -> str:
    if run is None or "tree_pss_mb" not in run:
        return ""
    return f"{run['tree_rss_mb']:.0f} / {run['tree_pss_mb']:.0f}"


def _fmt(run: dict | None, key: str, spec: str) -> str:
    return "skipped" if run is None else format(run[key], spec)


def _tree_env(tree: str | None) -> dict | None:
    """The environment of a worker importing dbrain from the source tree ``tree`` (None: this environment)."""
    if tree is None:
        return None
    paths = [str(Path(tree).resolve()), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _print_duration(duration: str, mne_chunks: dict, mne_preload: dict | None, ana: dict, base: dict | None = None) -> None:
    print(f"## {duration}\n")
    rows = [
        [
            "mne read_raw_edf + get_data, 300 s chunks",
            f"{mne_chunks['seconds']:.1f}",
            f"{mne_chunks['peak_rss_mb']:.0f}",
            _cpu(mne_chunks),
        ],
        [
            "mne read_raw_edf(preload=True)",
            _fmt(mne_preload, "seconds", ".1f"),
            _fmt(mne_preload, "peak_rss_mb", ".0f"),
            _cpu(mne_preload),
        ],
        ["dbrain analyze", f"{ana['seconds']:.1f}", f"{ana['peak_rss_mb']:.0f}", _cpu(ana), _tree(ana)],
    ]
    if base is not None:
        rows.append(
            [
                "dbrain analyze, baseline tree (--baseline)",
                f"{base['seconds']:.1f}",
                f"{base['peak_rss_mb']:.0f}",
                _cpu(base),
                _tree(base),
            ]
        )
    rows[0].append("")
    rows[1].append("")
    header = ["", "wall (s)", "peak RSS (MB)", "CPU user+sys (s)", "process tree peak RSS / PSS (MB, sampled)"]
    print(markdown_table(rows, header))
    print()
    threads = ana["engine"].get("thread_seconds", {})
    rows = [
        [name, "single pass" if streaming else "whole recording", f"{sec:.1f}", f"{threads[name]:.1f}" if name in threads else ""]
        for name, (sec, streaming) in ana["steps"].items()
    ]
    if ana.get("report_seconds") is not None:
        rows.append(
            ["(report: drawing every figure, HTML, PDF)", "after each step / at the end", f"{ana['report_seconds']:.1f}", ""]
        )
    print(markdown_table(rows, ["step", "runs as", "seconds (engine thread)", "seconds (own thread, overlapping)"]))
    print()
    engine = ana["engine"]
    rows = [[f"(reading the file, chunks of {engine['chunk_duration']:g} s)", f"{engine['read_seconds']:.1f}"]]
    if "pass_seconds" in engine:  # wall time of the whole single pass (a baseline tree may not report it)
        rows.insert(
            0, ["(the single pass, wall: every chunk read and pushed, qEEG thread joined)", f"{engine['pass_seconds']:.1f}"]
        )
    rows += [[name, f"{sec:.1f}"] for name, sec in engine["products"].items()]
    print(markdown_table(rows, ["single-pass product", "seconds"]))
    print()


def _print_growth(runs) -> None:
    print("## growth\n")
    hours = {d: _parse_hours(d) for d, *_ in runs}
    rows = []
    for duration, mne_chunks, _, ana in runs:
        rows.append(
            [
                duration,
                f"{ana['seconds']:.1f}",
                f"{ana['seconds'] / hours[duration]:.2f}",
                f"{ana['peak_rss_mb']:.0f}",
                _tree(ana),
                f"{mne_chunks['seconds']:.1f}",
            ]
        )
    header = ["duration", "analyze wall (s)", "wall per hour (s)", "analyze peak RSS (MB)", "process tree RSS / PSS (MB)"]
    print(markdown_table(rows, [*header, "mne chunked read (s)"]))
    by_hours = {round(hours[d]): ana for d, _, _, ana in runs}
    print()
    if 24 in by_hours and 72 in by_hours:
        w24, w72 = by_hours[24]["seconds"], by_hours[72]["seconds"]
        verdict = "met" if w72 <= 3 * w24 + 10 else "NOT met"
        print(f"72 h ≤ 3 × 24 h + 10 s: {w72:.1f} s vs {3 * w24 + 10:.1f} s — {verdict}")
    peaks = [ana["peak_rss_mb"] for *_, ana in runs]
    print(f"peak RSS from the shortest to the longest: {peaks[0]:.0f} → {peaks[-1]:.0f} MB (× {peaks[-1] / peaks[0]:.2f})")
    if all("tree_pss_mb" in ana for *_, ana in runs):
        trees = [ana["tree_pss_mb"] for *_, ana in runs]
        print(f"process tree peak PSS (sampled): {trees[0]:.0f} → {trees[-1]:.0f} MB (× {trees[-1] / trees[0]:.2f})")
    print()


def _print_batch(n: int, numbers: dict, rendered: dict, base: dict | None = None) -> None:
    print(f"## batch: {n} × 10 min, 2 local workers, all default steps\n")
    rows = []
    runs = [("rendering off (the default)", numbers), ("rendering on (report=True, the path before #19)", rendered)]
    if base is not None:
        runs.append(("rendering off, baseline tree (--baseline)", base))
    for label, run in runs:
        rate = run["computed"] / (run["seconds"] / 60.0)
        rows.append([label, run["computed"], run["errors"], f"{run['seconds']:.1f}", f"{rate:.1f}", f"{200 / rate:.1f}"])
    print(markdown_table(rows, ["", "computed", "errors", "wall (s)", "recordings/min", "200 recordings (min, at this rate)"]))
    print(
        f"\nthroughput, rendering off / on: × {rendered['seconds'] / numbers['seconds'] * numbers['computed'] / max(rendered['computed'], 1):.2f}"
    )
    if base is not None:
        print(
            f"throughput, this tree / baseline tree (rendering off): × {base['seconds'] / numbers['seconds'] * numbers['computed'] / max(base['computed'], 1):.2f}"
        )
    print()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", default="24h", help="comma-separated recording lengths (default 24h; '' for none)")
    parser.add_argument("--no-report", action="store_true", help="analyse without figures and report")
    parser.add_argument("--preload-max", default="24h", help="longest recording MNE also reads with preload=True (default 24h)")
    parser.add_argument("--batch", type=int, default=0, help="also time run_batch over this many 10 min recordings (e.g. 200)")
    parser.add_argument("--work", default=None, help="folder to cache the simulated recordings in (default: temporary)")
    parser.add_argument(
        "--baseline", default=None, help="also run analyze (and --batch) with the dbrain source tree in this folder"
    )
    parser.add_argument(
        "--repeat",
        default=None,
        help="build a missing duration that is a whole multiple of this one (e.g. 24h for 72h) by writing its "
        "cached recording's data records several times, instead of simulating it (hours for 72 h)",
    )
    parser.add_argument("--_worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--_batch", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        kind, path, report = args._worker
        print(json.dumps(_worker(kind, path, report == "1")))
        return 0
    if args._batch:
        folder, n, report = args._batch
        print(json.dumps(_batch(Path(folder), int(n), report == "1")))
        return 0
    os.environ.setdefault("DBRAIN_HOME", str(Path(tempfile.gettempdir()) / "dbrain-bench-home"))
    durations = [d.strip() for d in args.durations.split(",") if d.strip()]
    report = "0" if args.no_report else "1"
    print(f"# dbrain analyze benchmark — {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"# 19 EEG + EKG at 256 Hz, simulated; all default steps, report {'off' if args.no_report else 'on'}")
    if args.baseline:
        print(f"# baseline tree: {Path(args.baseline).resolve()}")
    print(
        f"# load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (figures on a shared machine are not the issue's)\n"
    )
    runs = []
    with workdir(args.work) as folder:
        for duration in durations:
            path = folder / f"analyze-{duration}.edf"
            source = folder / f"analyze-{args.repeat}.edf" if args.repeat else None
            times = _parse_hours(duration) / _parse_hours(args.repeat) if args.repeat else 0
            if not path.is_file() and source is not None and source.is_file() and times > 1 and times == int(times):
                print(f"# {duration}: the {args.repeat} recording written {int(times)} times over (--repeat), not simulated\n")
                repeat_edf(source, path, int(times))
            if not path.is_file():
                simulate_edf(path, duration, seed=0, seizures=max(1, int(_parse_hours(duration))), spikes=200)
            mne_chunks = run_worker(__file__, ["--_worker", "mne-chunks", str(path), report])
            mne_preload = None
            if _parse_hours(duration) <= _parse_hours(args.preload_max):
                mne_preload = run_worker(__file__, ["--_worker", "mne", str(path), report])
            ana = run_sampled(["--_worker", "analyze", str(path), report])
            base = None
            if args.baseline:
                base = run_sampled(["--_worker", "analyze", str(path), report], env=_tree_env(args.baseline))
            runs.append((duration, mne_chunks, mne_preload, ana))
            _print_duration(duration, mne_chunks, mne_preload, ana, base)
        if len(runs) > 1:
            _print_growth(runs)
        if args.batch:
            numbers = run_worker(__file__, ["--_batch", str(folder), str(args.batch), "0"])
            rendered = run_worker(__file__, ["--_batch", str(folder), str(args.batch), "1"])
            base = None
            if args.baseline:
                base = run_worker(__file__, ["--_batch", str(folder), str(args.batch), "0"], env=_tree_env(args.baseline))
            _print_batch(args.batch, numbers, rendered, base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
