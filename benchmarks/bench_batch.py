#!/usr/bin/env python
"""Batch benchmark: throughput of ``dbrain batch`` over many distinct 10-min recordings, this tree vs another.

Usage (one command prints every figure; on a shared machine, say so next to them)::

    python benchmarks/bench_batch.py --work ~/bench                          # 200 × 10 min, this tree, rendering off
    python benchmarks/bench_batch.py --work ~/bench --baseline /tmp/base     # + the same batch with an older tree (repeatable)
    python benchmarks/bench_batch.py --work ~/bench --report                 # + this tree with rendering on
    python benchmarks/bench_batch.py --work ~/bench --n 20 --baseline /tmp/base --interleave 4   # loaded machine
    python benchmarks/bench_batch.py --work ~/bench --steps recording,qeeg --workers 1,2         # scaling 1 → 2 workers

**Recordings.** N distinct 10-min recordings, 19 EEG + EKG at 256 Hz, cached in
``--work/batch-10min/``: first the consecutive 10-min pieces of the long
recordings ``bench_analyze.py`` caches in the same folder (``analyze-24h.edf``,
``analyze-6h.edf``, ``analyze-1h.edf``; ``--sources`` to name others), cut at
EDF record boundaries (bytes copied, the start time moved to the piece's
start, the time keeping restarted at 0), then as many simulated ones as are
still missing (``dbrain.simulate.write_simulated_edf``, seed 1000 + i). Every
file's SHA-256 is checked to be unique (a batch analyses identical contents
once).

**What runs.** Each variant is one :func:`dbrain.batch.run_batch` call — the
function behind ``dbrain batch``: its own local Dask cluster (``--workers``
processes, one thread each), hashing, one task per recording, the store —
in a fresh Python process that imports dbrain from the variant's source tree
(``PYTHONPATH``), over a manifest CSV of the recordings, into a fresh store
(deleted afterwards), ledger off. Variants: this tree with rendering off (the
batch default); with ``--report`` this tree with rendering on; with
``--baseline DIR`` the dbrain tree in ``DIR`` (e.g. ``git worktree add --detach
/tmp/base <commit>``) as it runs by default (a tree from before issue 19 always
renders each recording's figures and PDF). ``--interleave K`` splits the
recordings into K disjoint subsets (every K-th recording) and runs every
variant on each subset in turn (the order rotated per subset), so that a
changing load on a shared machine hits every variant alike; the figures are
the sums (K cluster starts per variant instead of one).

**Figures.** Per variant: recordings computed, errors, wall time (cluster start
to close), recordings per hour, per-recording analysis time (``seconds`` of the
``recordings`` rows: the task's ``analyze`` call, the store rows not included)
p50 and p95, peak RSS of the largest worker process (sampled every 0.2 s with
psutil over the process tree: a local cluster's workers are spawned children of
the process running the batch, which also holds the nannies and the scheduler)
and the peak of the sum over all processes, CPU user + system of all
processes, and the load average before and after. Then the throughput ratio of
each variant to the first.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, workdir  # noqa: E402

PIECE_SECONDS = 600
DEFAULT_SOURCES = ("analyze-24h.edf", "analyze-6h.edf", "analyze-1h.edf")


# --- the recordings ---------------------------------------------------------------------------------


def _edf_layout(head: bytes) -> dict:
    n_header, n_signals, n_records = int(head[184:192]), int(head[252:256]), int(head[236:244])
    at = 256 + 216 * n_signals  # samples per record: 8 characters per signal
    samples = [int(head[at + 8 * i : at + 8 * (i + 1)]) for i in range(n_signals)]
    labels = [head[256 + 16 * i : 256 + 16 * (i + 1)].strip() for i in range(n_signals)]
    return {
        "n_header": n_header,
        "n_records": n_records,
        "record_seconds": float(head[244:252]),
        "record_bytes": 2 * sum(samples),
        "tal_at": 2 * sum(samples[:-1]),
        "tal_width": 2 * samples[-1],
        "edfc": head[192:197] == b"EDF+C" and labels[-1] == b"EDF Annotations" and b"EDF Annotations" not in labels[:-1],
    }


def cut_edf(src: Path, dst: Path, first: int, n: int) -> None:
    """Write records ``first … first + n - 1`` of the EDF+C file ``src`` as a recording of its own.

    The bytes of the signals are copied; the header gets the record count and
    the start date and time of the piece; each record's time-keeping
    annotation is rewritten to count from 0. Only for files whose annotation
    signal holds nothing but the time keeping (the simulated ones): the piece
    would otherwise lose or misplace annotations, so anything else is refused.
    """
    with open(src, "rb") as f:
        head = f.read(256)
        head += f.read(int(head[184:192]) - 256)
        lay = _edf_layout(head)
        if not lay["edfc"]:
            raise ValueError(f"{src}: not an EDF+C file with one (last) annotation signal")
        if first + n > lay["n_records"]:
            raise ValueError(f"{src}: has {lay['n_records']} records, not {first + n}")
        f.seek(lay["n_header"] + first * lay["record_bytes"])
        data = bytearray(f.read(n * lay["record_bytes"]))
    a0, width, size = lay["tal_at"], lay["tal_width"], lay["record_bytes"]
    for i in range(n):
        at = i * size + a0
        expected = f"+{(first + i) * lay['record_seconds']:g}\x14\x14".encode()
        if bytes(data[at : at + len(expected)]) != expected or any(data[at + len(expected) : at + width]):
            raise ValueError(f"{src}: annotations other than the time keeping in record {first + i}; cannot cut it")
        tal = f"+{i * lay['record_seconds']:g}\x14\x14".encode()
        data[at : at + width] = tal + bytes(width - len(tal))
    header = bytearray(head)
    start = dt.datetime.strptime(head[168:184].decode("ascii"), "%d.%m.%y%H.%M.%S")
    start += dt.timedelta(seconds=first * lay["record_seconds"])
    header[168:184] = start.strftime("%d.%m.%y%H.%M.%S").encode("ascii")
    old = head[88:168].decode("ascii")
    if old.startswith("Startdate "):  # EDF+ recording identification: keep its date in step with the header's
        parts = old.split(" ")
        parts[1] = start.strftime("%d-%b-%Y").upper()
        header[88:168] = " ".join(parts)[:80].ljust(80).encode("ascii")
    header[236:244] = f"{n:<8d}".encode("ascii")
    tmp = dst.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(data)
    tmp.replace(dst)


def recordings(folder: Path, n: int, sources: list[Path], log=print) -> list[dict]:
    """The ``n`` distinct 10-min recordings (cached in ``folder/batch-10min``) and where each comes from."""
    data = folder / "batch-10min"
    data.mkdir(parents=True, exist_ok=True)
    plan = []
    for src in sources:
        if not src.is_file():
            log(f"# {src}: missing, not cut")
            continue
        with open(src, "rb") as f:
            head = f.read(256)
            head += f.read(int(head[184:192]) - 256)
        lay = _edf_layout(head)
        per = int(round(PIECE_SECONDS / lay["record_seconds"]))
        for k in range(lay["n_records"] // per):
            plan.append(
                {
                    "origin": f"{src.name} {k * PIECE_SECONDS // 60}-{(k + 1) * PIECE_SECONDS // 60} min",
                    "cut": (src, k * per, per),
                }
            )
    plan = plan[:n]
    for i in range(len(plan), n):
        plan.append({"origin": f"simulated, seed {1000 + i}", "seed": 1000 + i, "seizures": i % 2})
    made = 0
    for i, item in enumerate(plan):
        path = data / f"rec{i:04d}.edf"
        item["path"] = str(path)
        tag = data / f"rec{i:04d}.origin"  # what the cached file is, so that another plan rebuilds it
        if path.is_file() and tag.is_file() and tag.read_text() == item["origin"]:
            continue
        if "cut" in item:
            cut_edf(item["cut"][0], path, item["cut"][1], item["cut"][2])
        else:
            from dbrain.simulate import write_simulated_edf

            write_simulated_edf(path, "10min", seed=item["seed"], seizures=item["seizures"], spikes=5, artifacts=True)
            path.with_name(path.stem + "_events.tsv").unlink(missing_ok=True)  # ground truth is not an input
        tag.write_text(item["origin"])
        made += 1
    digests = {}
    for item in plan:
        h = hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest()
        if h in digests:
            raise SystemExit(f"{item['path']} and {digests[h]} are the same recording; the batch would analyse it once")
        digests[h] = item["path"]
    log(f"# {n} distinct recordings in {data} ({made} written now): {_origins(plan)}")
    return plan


def _origins(plan: list[dict]) -> str:
    counts: dict[str, int] = {}
    for item in plan:
        name = item["origin"].split(" ")[0].rstrip(",")
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{v} {'pieces of ' + k if k.endswith('.edf') else k}" for k, v in counts.items())


# --- one batch, in a process of its own --------------------------------------------------------------


class _TreeSampler(threading.Thread):
    """Peak RSS of each of this process's descendants (local workers: its spawned children) and of the whole tree."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.stop = threading.Event()
        self.peak_by_pid: dict[int, tuple[bool, float]] = {}  # pid → (a Dask worker?, peak MB)
        self.peak_tree = 0.0

    def _depths(self):
        out, todo = {}, [(self.me, 0)]
        while todo:
            proc, depth = todo.pop()
            try:
                kids = proc.children()
            except Exception:  # noqa: BLE001 - a process that ended meanwhile
                continue
            for kid in kids:
                out[kid] = depth + 1
                todo.append((kid, depth + 1))
        return out

    def run(self):
        while not self.stop.is_set():
            total = 0.0
            for proc, depth in self._depths().items():
                try:
                    rss = proc.memory_info().rss / 2**20
                except Exception:  # noqa: BLE001 - a process that ended meanwhile
                    continue
                total += rss
                if proc.pid not in self.peak_by_pid:
                    try:  # a local cluster's workers are this process's spawned children (the nannies live in it)
                        worker = depth == 1 and "spawn_main" in " ".join(proc.cmdline())
                    except Exception:  # noqa: BLE001 - a process that ended meanwhile
                        worker = False
                    self.peak_by_pid[proc.pid] = (worker, 0.0)
                kind, peak = self.peak_by_pid[proc.pid]
                self.peak_by_pid[proc.pid] = (kind, max(peak, rss))
            self.peak_tree = max(self.peak_tree, total)
            self.stop.wait(self.interval)

    def worker_peak(self) -> float:
        return max((rss for worker, rss in self.peak_by_pid.values() if worker), default=float("nan"))


def _run(manifest: str, store: str, report: bool, workers: int, steps: str) -> dict:
    import inspect
    import resource

    import dbrain
    from dbrain.batch import run_batch

    load_before = os.getloadavg()
    sampler = _TreeSampler()
    sampler.start()
    kwargs = {"report": True} if report else {}  # a tree from before issue 19 has no report= (it always renders)
    chosen = [s for s in steps.split(",") if s] or None
    # ``workers`` became ``n_jobs`` (the old name still works, with a warning)
    kwargs["n_jobs" if "n_jobs" in inspect.signature(run_batch).parameters else "workers"] = workers
    t0 = time.perf_counter()
    result = run_batch(manifest, store, steps=chosen, ledger=False, verbose="error", **kwargs)
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    rows = result.rows
    ok = rows[rows["action"] == "computed"]
    errors = rows[rows["status"] == "error"]
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "dbrain": str(Path(dbrain.__file__).parent.parent),
        "wall": wall,
        "computed": int(result.n_computed),
        "skipped": int(result.n_skipped),
        "errors": int(result.n_errors),
        "error_lines": [f"{p}: {e}" for p, e in zip(errors["path"], errors["error"], strict=True)][:5],
        "per_recording": [float(s) for s in ok["seconds"].dropna()],
        "worker_peak_mb": sampler.worker_peak(),
        "tree_peak_mb": sampler.peak_tree,
        "children_maxrss_mb": kids.ru_maxrss / 1024.0,
        "cpu": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def _describe(tree: str) -> str:
    """``tree`` and its git commit, and whether its batch can leave rendering off."""
    proc = subprocess.run(["git", "-C", tree, "log", "-1", "--format=%h %cs"], capture_output=True, text=True, check=False)
    commit = proc.stdout.strip() or "not a git tree"
    run = Path(tree) / "dbrain" / "batch" / "_run.py"
    renders = run.is_file() and "report: bool" not in run.read_text(encoding="utf-8")
    return f"{tree} ({commit}{'; renders every report: no report= yet' if renders else ''})"


def _tree_env(tree: str | None) -> dict:
    env = dict(os.environ)
    if tree is not None:
        paths = [str(Path(tree).resolve()), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _launch(tree: str | None, manifest: Path, store: Path, report: bool, workers: int, steps: str) -> dict:
    shutil.rmtree(store, ignore_errors=True)
    cmd = [sys.executable, __file__, "--_run", str(manifest), str(store), "1" if report else "0", str(workers), steps]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_tree_env(tree))
    shutil.rmtree(store, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"batch run failed ({' '.join(cmd)}):\n{proc.stderr.strip()[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the comparison ----------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _merge(parts: list[dict]) -> dict:
    per = [s for p in parts for s in p["per_recording"]]
    return {
        "dbrain": parts[0]["dbrain"],
        "wall": sum(p["wall"] for p in parts),
        "computed": sum(p["computed"] for p in parts),
        "skipped": sum(p["skipped"] for p in parts),
        "errors": sum(p["errors"] for p in parts),
        "error_lines": [e for p in parts for e in p["error_lines"]][:5],
        "per_recording": per,
        "worker_peak_mb": max(p["worker_peak_mb"] for p in parts),
        "tree_peak_mb": max(p["tree_peak_mb"] for p in parts),
        "children_maxrss_mb": max(p["children_maxrss_mb"] for p in parts),
        "cpu": sum(p["cpu"] for p in parts),
        "load_before": parts[0]["load_before"],
        "load_after": parts[-1]["load_after"],
        "loads": [p["load_before"][0] for p in parts] + [parts[-1]["load_after"][0]],
    }


def _rate(run: dict) -> float:
    return run["computed"] / (run["wall"] / 3600.0) if run["wall"] > 0 else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of 10-min recordings (default 200)")
    parser.add_argument("--work", default=None, help="folder caching the recordings (default: temporary)")
    parser.add_argument(
        "--sources",
        default=None,
        help="comma-separated EDF+C files to cut into 10-min pieces, in order "
        f"(default: {', '.join(DEFAULT_SOURCES)} in --work, those that exist); the rest is simulated",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        help="also run the batch with the dbrain source tree in this folder (repeatable)",
    )
    parser.add_argument("--report", action="store_true", help="also run this tree with rendering on (report=True)")
    parser.add_argument("--no-new", action="store_true", help="do not run this tree with rendering off (e.g. baseline only)")
    parser.add_argument("--steps", default="", help="analysis steps (default: every registered step)")
    parser.add_argument("--workers", default="2", help="local Dask workers; a list (1,2) runs each and prints the scaling")
    parser.add_argument("--interleave", type=int, default=1, help="split into K subsets, every variant on each in turn")
    parser.add_argument("--_run", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._run:
        manifest, store, report, workers, steps = args._run
        print(json.dumps(_run(manifest, store, report == "1", int(workers), steps)))
        return 0
    if args.n < 1 or args.interleave < 1 or args.interleave > args.n:
        parser.error("--n must be ≥ 1 and --interleave between 1 and --n")
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    os.environ.setdefault("DBRAIN_HOME", str(Path(tempfile.gettempdir()) / "dbrain-bench-home"))
    here = str(Path(__file__).resolve().parent.parent)
    variants = []  # (label, tree, report, workers)
    for w in counts:
        if not args.no_new:
            variants.append((f"this tree, rendering off, {w} worker(s)", here, False, w))
        if args.report:
            variants.append((f"this tree, rendering on, {w} worker(s)", here, True, w))
        for tree in args.baseline:
            variants.append((f"baseline {_describe(tree)}, {w} worker(s)", tree, False, w))
    if not variants:
        parser.error("nothing to run")
    print(f"# dbrain batch benchmark — {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"# started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"# steps: {args.steps or 'every registered step of each tree'}; interleave {args.interleave}")
    with workdir(args.work) as folder:
        sources = [Path(s) for s in args.sources.split(",")] if args.sources else [folder / s for s in DEFAULT_SOURCES]
        plan = recordings(folder, args.n, sources)
        parts: dict[int, list[dict]] = {i: [] for i in range(len(variants))}
        for k in range(args.interleave):
            subset = plan[k :: args.interleave]
            manifest = folder / f"bench-batch-manifest-{k}.csv"
            with open(manifest, "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["path", "subject"])
                out.writerows([item["path"], Path(item["path"]).stem] for item in subset)
            order = list(range(len(variants)))
            order = order[k % len(order) :] + order[: k % len(order)]
            for i in order:
                label, tree, report, w = variants[i]
                t = time.strftime("%H:%M:%S", time.gmtime())
                print(f"# {t} UTC subset {k + 1}/{args.interleave} ({len(subset)}): {label} …", file=sys.stderr, flush=True)
                run = _launch(tree, manifest, folder / f"bench-batch-store-{i}", report, w, args.steps)
                parts[i].append(run)
                print(
                    f"#   {run['computed']} computed, {run['errors']} errors, {run['wall']:.1f} s, load {run['load_before'][0]:.1f} → {run['load_after'][0]:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    runs = [_merge(parts[i]) for i in range(len(variants))]
    print(
        f"# finished {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    print(f"## {args.n} × 10 min, 19 EEG + EKG at 256 Hz ({_origins(plan)})\n")
    rows = []
    for (label, *_), run in zip(variants, runs, strict=True):
        rows.append(
            [
                label,
                run["computed"],
                run["errors"],
                f"{run['wall']:.1f}",
                f"{_rate(run):.0f}",
                f"{_percentile(run['per_recording'], 50):.1f}",
                f"{_percentile(run['per_recording'], 95):.1f}",
                f"{run['worker_peak_mb']:.0f}",
                f"{run['tree_peak_mb']:.0f}",
                f"{run['cpu']:.0f}",
                " → ".join(f"{x:.1f}" for x in run["loads"]),
            ]
        )
    header = [
        "",
        "computed",
        "errors",
        "wall (s)",
        "recordings/hour",
        "p50 s/recording",
        "p95 s/recording",
        "peak RSS, largest worker (MB)",
        "peak RSS, all processes (MB)",
        "CPU user+sys (s)",
        "load average (1 min) at each start",
    ]
    print(markdown_table(rows, header))
    print()
    for (label, *_), run in zip(variants, runs, strict=True):
        print(f"- {label}: dbrain imported from {run['dbrain']}")
        for line in run["error_lines"]:
            print(f"  - error: {line}")
    if len(runs) > 1:
        print()
        first = variants[0][0]
        for (label, *_), run in zip(variants[1:], runs[1:], strict=True):
            print(f"throughput, {first} / {label}: × {_rate(runs[0]) / _rate(run):.2f}")
    rates = {w: _rate(run) for (_, tree, report, w), run in zip(variants, runs, strict=True) if tree == here and not report}
    if 1 in rates and 2 in rates:
        print(f"scaling efficiency 1 → 2 workers (this tree, rendering off): {rates[2] / (2 * rates[1]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
