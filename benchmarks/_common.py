"""What the benchmark scripts share: subprocess workers, peak memory, the work folder, tables.

Each benchmark runs every measured tool in a fresh subprocess of its own
script (``python SCRIPT --_worker ARGS`` printing one JSON line), so that
imports, caches and peak memory of one do not leak into another.
"""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss: kB on Linux, bytes on macOS)."""
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run_worker(script: str, args: list[str], env: dict | None = None) -> dict:
    """Run ``python script *args`` (in environment ``env``, default this one) and return the JSON object on its last line."""
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def simulate_edf(path: Path, duration: str, *, seed: int, seizures: int = 3, spikes: int = 50) -> None:
    """Write a simulated 19-channel EEG + EKG EDF+ (256 Hz, artifacts on) with ``dbrain simulate``, in its own process."""
    args = ["--duration", duration, "--seizures", str(seizures), "--spikes", str(spikes), "--artifacts"]
    cmd = [sys.executable, "-m", "dbrain", "simulate", *args, "--seed", str(seed), "--out", str(path), "--overwrite"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"dbrain simulate failed:\n{proc.stderr.strip()}")


@contextlib.contextmanager
def workdir(path: str | None) -> Iterator[Path]:
    """The folder that caches simulated recordings: ``path`` (created, kept) or a temporary one."""
    if path is None:
        with tempfile.TemporaryDirectory(prefix="dbrain-bench-") as tmp:
            yield Path(tmp)
    else:
        folder = Path(path).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


def markdown_table(rows: list[list], header: list[str]) -> str:
    """A padded Markdown table."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])
