"""Coverage-guided fuzzing of dbrain's input entry points (issue #25).

    python benchmarks/fuzz.py --target read_edf --inputs 100000 --seed 1
    python benchmarks/fuzz.py --target all --inputs 3000 --seed 1     # every target, one after the other
    python benchmarks/fuzz.py --list
    python benchmarks/fuzz.py --target read_cnt,read_egi --seed-cost 40   # CPU per seed input, no fuzzing

The engine is atheris (libFuzzer for Python, Apache-2.0; ``pip install
atheris``): dbrain, MNE's readers, edfio, pyxdf and mne-bids are instrumented
for coverage and libFuzzer mutates the seed files (real recordings under
``../shared/data/formats`` and tiny synthesised ones) towards new code paths.
Without atheris, ``--engine random`` runs the same targets with a plain
(not coverage-guided) mutator, for a quick check only.

Each target runs in its own process (``--target all`` starts one per target),
so a hang or a memory blow-up ends one target, not the campaign. The target
function (:mod:`dbrain.tests.fuzz_targets`) treats a
:class:`~dbrain.errors.DbrainError` as the correct answer to bad input; any
other exception, an input computing for more than ``--timeout`` seconds of
CPU (10; or waiting more than 6 times that: wall time alone is not an input's
cost on a loaded machine at ``nice -n 19``) or a process above ``--rss-mb`` MB
(baseline + 1024) is a finding. Inputs are written on the RAM disk
(``/dev/shm``) into one reused folder; real seeds are cropped to a few records. Every finding is
saved as ``dbrain/tests/fuzz_corpus/<target>/<kind>-<sha1>.bin`` with an
entry in that folder's ``index.json`` (exception, message, where), and the
normal test suite replays the corpus (``dbrain/tests/test_fuzz_corpus.py``).

The last line printed per target is machine-readable::

    FUZZ target=read_edf engine=atheris inputs=3000 seconds=412.3 new_findings=1 exit=0

(``inputs`` is libFuzzer's count of executed units; ``seconds`` includes the
start-up that instruments the modules.)

Timings depend on the machine; the counts are exact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "dbrain" / "tests" / "fuzz_corpus"
# Modules whose code the fuzzer sees (coverage feedback); the rest of the stack runs uninstrumented.
# atheris.instrument_imports only selects whole top-level packages (all of mne, all of scipy: ~30 s
# of start-up and slower inputs), so the functions of these modules are instrumented one by one
# after the warm-up has imported them (see _instrument).
INSTRUMENT = (
    "dbrain.io",
    "dbrain.deid",
    "dbrain.events",
    "dbrain.channels",
    "dbrain.cli.convert",
    "dbrain.server.ingest",
    "dbrain.server.storage",
    "mne.io",
    "mne.annotations",
    "mne._fiff",
    "mne_bids",
    "edfio",
    "pyxdf",
    "pymatreader",
    "mffpy",
    "curryreader",
    "scipy.io.matlab",
)


def _instrument(prefixes=INSTRUMENT) -> int:
    """Add atheris coverage instrumentation to every loaded function of the modules ``prefixes``."""
    import gc

    import atheris

    def wanted(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    n = 0
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and wanted(getattr(obj, "__module__", None) or ""):
            try:
                atheris.instrument_func(obj)
                n += 1
            except Exception:  # noqa: BLE001, S112 - a function atheris cannot patch stays uninstrumented
                continue
    return n


#: libFuzzer kills an input after this many times --timeout of wall time (see test_one).
WALL_FACTOR = 6


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost frame: one finding per distinct bug, not per input."""
    tb = traceback.extract_tb(exc.__traceback__)
    frame = tb[-1] if tb else None
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__}@{where}"


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb[-4:]))


class Recorder:
    """Saves findings into the regression corpus of one target (one file per signature)."""

    def __init__(self, target: str):
        self.folder = CORPUS / target
        self.index_path = self.folder / "index.json"
        self.index = json.loads(self.index_path.read_text()) if self.index_path.is_file() else {}
        self.found = 0
        self.new = 0

    def save(self, kind: str, data: bytes, signature: str, message: str, where: str) -> None:
        self.found += 1
        known = {v["signature"]: k for k, v in self.index.items()}
        name = f"{kind}-{hashlib.sha1(data).hexdigest()[:12]}.bin"
        if signature in known:
            old = known[signature]
            # keep the smallest input per signature
            if (self.folder / old).is_file() and (self.folder / old).stat().st_size <= len(data):
                return
            (self.folder / old).unlink(missing_ok=True)
            del self.index[old]
        else:
            self.new += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(data)
        self.index[name] = {"kind": kind, "signature": signature, "message": message[:300], "where": where, "fixed": False}
        self.index_path.write_text(json.dumps(self.index, indent=1, sort_keys=True) + "\n")
        print(f"FINDING {kind} {signature}: {message[:160]}", flush=True)


def _scratch_root() -> str:
    """A RAM disk when there is one (see ``dbrain.tests.fuzz_targets.scratch_root``)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _rss_mb() -> float:
    with open("/proc/self/statm") as fid:
        return int(fid.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _one_target(args) -> int:
    """Fuzz one target in this process."""
    import warnings

    warnings.simplefilter("ignore")
    engine = args.engine
    if engine == "atheris":
        try:
            import atheris
        except ImportError:
            print("atheris is not installed (pip install atheris); use --engine random", file=sys.stderr)
            return 2
    # The warm-up run of the seeds imports everything the target uses, including the readers MNE
    # loads lazily on first use; their functions are instrumented after it.
    from dbrain.tests import fuzz_targets

    target = fuzz_targets.TARGETS[args.target]
    if target.needs_shared_data() and not fuzz_targets.SHARED_DATA.is_dir():
        print(f"FUZZ target={target.name} skipped: ../shared/data not found", flush=True)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix=f"dbrain-fuzz-{target.name}-", dir=fuzz_targets.scratch_root()))
    seeds = target.seed_bytes(scratch)
    if not seeds:
        print(f"FUZZ target={target.name} skipped: no seed files", flush=True)
        return 0
    for data in seeds:
        work = Path(tempfile.mkdtemp(dir=scratch))
        try:
            target(data, work)
        except Exception as exc:  # noqa: BLE001 - a seed that crashes is a finding too
            print(f"seed raises {type(exc).__name__}: {exc}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    if engine == "atheris":
        print(f"instrumented {_instrument()} functions", flush=True)
    baseline = _rss_mb()
    rss_limit = args.rss_mb or int(baseline + 1024)
    recorder = Recorder(target.name)
    count = {"n": 0}
    started = time.time()

    # One work folder for every input: the siblings of a multi-file recording are copied once
    # and only the fuzzed file is rewritten; whatever an input adds beside them is removed after it.
    work = scratch / "work"
    work.mkdir()
    target.prepare(seeds[0], work)
    keep = {p.name for p in work.iterdir()}

    def test_one(data: bytes) -> None:
        count["n"] += 1
        t0, cpu0 = time.time(), time.process_time()
        try:
            target(data, work)
        except MemoryError as exc:
            recorder.save("memory", data, _signature(exc), "MemoryError", _where(exc))
        except RecursionError as exc:
            recorder.save("crash", data, _signature(exc), "RecursionError", _where(exc))
        except Exception as exc:  # noqa: BLE001 - every non-dbrain exception is a finding
            recorder.save("crash", data, _signature(exc), f"{type(exc).__name__}: {exc}", _where(exc))
        finally:
            for extra in os.scandir(work):
                if extra.name not in keep:
                    if extra.is_dir(follow_symlinks=False):
                        shutil.rmtree(extra.path, ignore_errors=True)
                    else:
                        os.unlink(extra.path)
        took, cpu = time.time() - t0, time.process_time() - cpu0
        # A hang is an input that computes for more than --timeout seconds, or waits for more than
        # WALL_FACTOR times that: at nice 19 on a loaded machine a 0.1-s input can take 10 s of wall time.
        if cpu > args.timeout or took > WALL_FACTOR * args.timeout:
            recorder.save("hang", data, f"slow@{target.name}", f"took {took:.1f} s ({cpu:.1f} s CPU; limit {args.timeout} s)", "")
        rss = _rss_mb()
        if rss > rss_limit:
            recorder.save("memory", data, f"rss@{target.name}", f"process at {rss:.0f} MB (> {rss_limit} MB)", "")
        if count["n"] % 500 == 0:
            print(f"  {target.name}: {count['n']} inputs, {time.time() - started:.0f} s, findings {recorder.found}", flush=True)

    if engine == "atheris":
        corpus_dir = scratch / "corpus"
        corpus_dir.mkdir()
        for i, data in enumerate(seeds):
            (corpus_dir / f"seed{i}").write_bytes(data)
        artifacts = CORPUS / target.name
        artifacts.mkdir(parents=True, exist_ok=True)
        max_len = max(len(d) for d in seeds)
        argv = [
            sys.argv[0],
            str(corpus_dir),
            f"-runs={args.inputs}",
            f"-seed={args.seed}",
            f"-max_len={max_len + 64}",
            f"-timeout={int(WALL_FACTOR * args.timeout)}",  # libFuzzer's clock is the wall clock
            f"-report_slow_units={int(WALL_FACTOR * args.timeout)}",
            f"-rss_limit_mb={rss_limit}",
            f"-artifact_prefix={artifacts}/libfuzzer-",
            "-print_final_stats=1",
        ]
        if args.max_seconds:
            argv.append(f"-max_total_time={int(args.max_seconds)}")
        # libFuzzer ends the process itself (exit() from C: no Python atexit); the parent
        # process reads its final stats and the corpus index for the result line.
        atheris.Setup(argv, test_one)
        atheris.Fuzz()
        return 0
    rng = random.Random(args.seed)
    deadline = time.time() + args.max_seconds if args.max_seconds else None
    for _ in range(args.inputs):
        if deadline and time.time() > deadline:
            break
        test_one(_mutate(rng, rng.choice(seeds), seeds))
    _print_result(target.name, engine, count["n"], time.time() - started, recorder)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _seed_cost(names, repeats: int) -> None:
    """Print the CPU time of one input per campaign seed of each target (no fuzzing, no instrumentation).

    The cost of a valid input (the deepest path the seeds take), the figure to
    compare harness versions by: this process's CPU, plus that of dbrain's MAT
    fork server (EEGLAB, BIDS) read from ``/proc``.
    """
    import warnings

    warnings.simplefilter("ignore")
    from dbrain.io import _matprobe
    from dbrain.tests import fuzz_targets

    def server_cpu() -> float:
        pid = _matprobe._PROBE.pid
        try:
            with open(f"/proc/{pid}/stat") as fid:
                fields = fid.read().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            return 0.0
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # its own and its forks' CPU

    for name in names:
        target = fuzz_targets.TARGETS[name]
        scratch = Path(tempfile.mkdtemp(prefix=f"dbrain-fuzz-{name}-", dir=fuzz_targets.scratch_root()))
        try:
            seeds = target.seed_bytes(scratch)
            work = scratch / "work"
            work.mkdir()
            out = []
            for data in seeds:
                target(data, work)  # warm-up: imports, the MAT server, the copied siblings
                cpu, server = time.process_time(), server_cpu()
                for _ in range(repeats):
                    target(data, work)
                here, there = (time.process_time() - cpu) / repeats * 1e3, (server_cpu() - server) / repeats * 1e3
                out.append(f"{len(data)} B: {here:.1f} ms" + (f" + {there:.1f} ms in the MAT server" if there else ""))
            print(f"SEEDCOST target={name} repeats={repeats} " + "; ".join(out or ["no seeds"]), flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _print_result(name, engine, n, seconds, recorder) -> None:
    print(
        f"FUZZ target={name} engine={engine} inputs={n} seconds={seconds:.1f} findings={recorder.found} new={recorder.new}",
        flush=True,
    )


_INTERESTING = [
    b"0",
    b"-1",
    b"1",
    b"255",
    b"256",
    b"65535",
    b"99999999",
    b"-99999",
    b"1e308",
    b"nan",
    b"inf",
    b" ",
    b"\x00",
    b"\xff",
]


def _mutate(rng: random.Random, data: bytes, seeds) -> bytes:
    """A few byte-level edits (flip, set, insert, delete, splice, numeric field) of a seed."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1) if buf else 0
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 2:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3 and buf:
            del buf[pos : pos + rng.randint(1, 64)]
        elif op == 4:
            other = rng.choice(seeds)
            a = rng.randrange(len(other) + 1)
            buf[pos:pos] = other[a : a + rng.randint(1, 256)]
        else:
            word = rng.choice(_INTERESTING)
            buf[pos : pos + len(word)] = word
    if rng.random() < 0.05:
        buf = buf[: rng.randrange(len(buf) + 1)]
    return bytes(buf)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", help="a target name, or 'all' (see --list)")
    parser.add_argument("--inputs", type=int, default=1000, help="inputs per target (libFuzzer -runs)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (libFuzzer -seed)")
    parser.add_argument("--engine", choices=["atheris", "random"], default="atheris")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--rss-mb", type=int, default=0, help="memory limit (MB); default: baseline + 1024")
    parser.add_argument("--max-seconds", type=float, default=0, help="stop a target after this long (0: no limit)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument(
        "--seed-cost", type=int, default=0, metavar="N", help="run each seed N times and print its CPU cost per input, then exit"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from dbrain.tests.fuzz_targets import TARGETS

    if args.list:
        for name, t in TARGETS.items():
            real = [p.name for p in t.seeds] + [p.name for _, p, _ in t.parts]
            print(
                f"{name:20s} {t.filename}  seeds: {', '.join(real) or '(synthesised)'}{' + synthesised' if real and t.synth else ''}"
            )
        return 0
    if args.seed_cost:
        chosen = list(TARGETS) if args.target == "all" else args.target.split(",")
        unknown = [n for n in chosen if n not in TARGETS]
        if unknown:
            parser.error(f"unknown target {unknown[0]!r}; targets are: {', '.join(TARGETS)}")
        _seed_cost(chosen, args.seed_cost)
        return 0
    if args.target != "all" and args.target in TARGETS and os.environ.get("DBRAIN_FUZZ_CHILD") == "1":
        return _one_target(args)
    names = list(TARGETS) if args.target == "all" else [args.target]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r}; targets are: {', '.join(TARGETS)}")
    status = 0
    results = []
    for name in names:
        # One process per target: libFuzzer exits the process on a hang or memory blow-up.
        cmd = [sys.executable, __file__, "--target", name, "--inputs", str(args.inputs), "--seed", str(args.seed)]
        cmd += [
            "--engine",
            args.engine,
            "--timeout",
            str(args.timeout),
            "--rss-mb",
            str(args.rss_mb),
            "--max-seconds",
            str(args.max_seconds),
        ]
        # libFuzzer ends the child with exit() (no Python clean-up): the parent removes its scratch folder.
        scratch = tempfile.mkdtemp(prefix=f"dbrain-fuzz-{name}-", dir=_scratch_root())
        env = {
            **os.environ,
            "DBRAIN_FUZZ_CHILD": "1",
            "DBRAIN_FUZZ_SCRATCH": scratch,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        }
        index = CORPUS / name / "index.json"
        before = json.loads(index.read_text()) if index.is_file() else {}
        files_before = set((CORPUS / name).glob("*")) if (CORPUS / name).is_dir() else set()
        t0 = time.time()
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        executed, line = None, ""
        for line in proc.stdout:
            sys.stdout.write(line)
            if line.startswith("stat::number_of_executed_units:"):
                executed = int(line.split(":")[-1])
            elif line.startswith("FUZZ target="):
                executed = (
                    executed if executed is not None else int(line.split("inputs=")[1].split()[0]) if "inputs=" in line else None
                )
        code = proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        after = json.loads(index.read_text()) if index.is_file() else {}
        artifacts = (
            [p.name for p in (set((CORPUS / name).glob("libfuzzer-*")) - files_before)] if (CORPUS / name).is_dir() else []
        )
        new = len(set(after) - set(before)) + len(artifacts)
        seconds = time.time() - t0
        result = f"FUZZ target={name} engine={args.engine} inputs={executed if executed is not None else '?'} seconds={seconds:.1f} new_findings={new} exit={code}"
        if artifacts:
            result += f" artifacts={','.join(sorted(artifacts))}"
        print(result, flush=True)
        results.append(result)
        status |= code != 0
    if len(results) > 1:
        print("\n".join(["", "SUMMARY", *results]))
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
