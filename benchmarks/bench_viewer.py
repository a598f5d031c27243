#!/usr/bin/env python
"""Viewer benchmark: page flip (keypress to drawn) in Chromium at hour 36 of a 48 h recording, and page payload.

Usage::

    python benchmarks/bench_viewer.py --workdir ~/.cache/dbrain-bench     # keeps the 48 h EDF between runs
    python benchmarks/bench_viewer.py --duration 2h --at-hour 1 --flips 10   # quick run

What it does:

1. Simulates (once per work directory) a 48 h 19-channel 10-20 EEG + EKG at 256 Hz with ``dbrain simulate``
   (about 1.8 GB), and starts a real ``dbrain serve`` (no worker) with a fresh data-centre home.
2. Uploads the recording (validated and de-identified like any upload), then opens the viewer in
   Debian's headless chromium (``/usr/bin/chromium``, Python playwright), signs in, and opens the
   recording at ``--at-hour``.
3. Page flips: presses → ``--flips`` times. The viewer stamps the keydown event's time
   (``event.timeStamp``, the ``performance.now()`` clock) and, when the page's traces are drawn
   (its draw-complete signal, ``dbrain:drawn``), records ``performance.now() - timeStamp`` in
   ``S.flipTimes``. Two modes:

   * ``reading`` — ``--dwell`` seconds between flips, as a reader does: the next page is prefetched;
   * ``cold`` — the page cache is emptied before each flip, so every flip waits for the server.

4. Payload of one 19 ch × 10 s × 256 Hz page (double banana + ECG, every sample) at ``--at-hour``:
   the int16 transport and the JSON one, each as sent (gzip) and decoded.

Prints a Markdown table and one JSON line. Timings depend on the machine; say whether it was loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import markdown_table, simulate_edf, workdir  # noqa: E402

PASSWORD = "a long benchmark password"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _anonymous_patient(path: Path) -> None:
    """Blank the simulator's EDF+ patient field ("Simulated_EEG"): de-identification would scrub "EEG" from the labels."""
    with open(path, "r+b") as fid:
        fid.seek(8)
        fid.write(b"X X X X".ljust(80))


def _percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


@contextlib.contextmanager
def _server(home: Path):
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    cmd = [sys.executable, "-m", "dbrain"]
    made = subprocess.run(
        [*cmd, "admin", "create-user", "--username", "bench", "--site", "Bench", "--role", "clinician", "--db", db],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        raise RuntimeError(made.stderr)
    port = _free_port()
    log = open(home / "serve.log", "w")
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0", "--db", db],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    import httpx2 as httpx

    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise RuntimeError((home / "serve.log").read_text())
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _upload(base: str, edf: Path) -> tuple[int, dict]:
    import httpx2 as httpx

    login = httpx.post(f"{base}/api/auth/login", json={"username": "bench", "password": PASSWORD}, timeout=60)
    login.raise_for_status()
    session = {"Cookie": f"dbrain_session={login.cookies['dbrain_session']}", "X-CSRF-Token": login.json()["csrf_token"]}
    token = httpx.post(f"{base}/api/tokens", json={"name": "bench"}, headers=session, timeout=60).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}

    def chunks():
        with open(edf, "rb") as fid:
            while block := fid.read(1 << 20):
                yield block

    up = httpx.post(
        f"{base}/api/recordings",
        params={"filename": edf.name},
        content=chunks(),
        headers={**auth, "Content-Type": "application/octet-stream"},
        timeout=3600,
    )
    if up.status_code != 201:
        raise RuntimeError(f"upload failed: {up.status_code} {up.text}")
    return up.json()["id"], auth


def _payload(base: str, auth: dict, rec_id: int, start: float) -> list[list]:
    """Sizes of one 19-trace 10 s page with every sample (256 Hz: 2560 per trace)."""
    import httpx2 as httpx

    rows = []
    params = {"start": start, "duration": 10, "montage": "double-banana", "highpass": 0.5, "lowpass": 70, "max_points": 2562}
    for fmt in ("i16", "json"):
        with httpx.stream(
            "GET",
            f"{base}/api/recordings/{rec_id}/window",
            params={**params, "format": fmt},
            headers={**auth, "Accept-Encoding": "gzip"},
            timeout=120,
        ) as r:
            r.raise_for_status()
            wire = b"".join(r.iter_raw())
        body = gzip.decompress(wire) if r.headers.get("content-encoding") == "gzip" else wire
        if fmt == "json":
            w = json.loads(body)
            traces, samples = len(w["channels"]), len(w["times"])
        else:
            n = int.from_bytes(body[4:8], "little")
            head = json.loads(body[8 : 8 + n])
            traces, samples = len(head["channels"]), head["n_times"]
        rows.append(
            [
                fmt,
                traces,
                samples,
                f"{len(wire) / 1000:.1f}",
                f"{len(body) / 1000:.1f}",
                r.headers.get("content-encoding", "none"),
            ]
        )
    return rows


def _flips(base: str, rec_id: int, start: float, n: int, dwell: float, cold: bool) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{base}/viewer/#rec={rec_id}&t={start}&page=10")
            page.fill("#login-username", "bench")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_function(f"() => S.window && S.window.recId === {rec_id} && S.drawCount > 0", timeout=120_000)
            page.evaluate("S.flipTimes = []")
            time.sleep(dwell)
            for i in range(n):
                if cold:
                    page.evaluate("clearPages()")
                page.keyboard.press("ArrowRight")
                page.wait_for_function(f"() => S.flipTimes.length >= {i + 1}", timeout=120_000)
                time.sleep(dwell)
            assert page.evaluate("S.window.decimation") == "none"
            return page.evaluate("S.flipTimes")
        finally:
            browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="48h", help="Simulated recording length (default 48h).")
    ap.add_argument("--at-hour", type=float, default=36.0, help="Where to page (hours from the start).")
    ap.add_argument("--flips", type=int, default=40, help="Page flips per mode.")
    ap.add_argument("--dwell", type=float, default=0.6, help="Seconds between flips in reading mode.")
    ap.add_argument("--workdir", default=None, help="Keep the simulated EDF here between runs.")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found (apt-get install chromium)")
    with workdir(args.workdir) as folder:
        edf = folder / f"viewer_{args.duration}.edf"
        if not edf.exists():
            print(f"simulating {args.duration} → {edf} …", file=sys.stderr)
            simulate_edf(edf, args.duration, seed=16, seizures=3, spikes=50)
            _anonymous_patient(edf)
        with tempfile.TemporaryDirectory(prefix="dbrain-bench-viewer-") as tmp, _server(Path(tmp)) as base:
            t0 = time.perf_counter()
            rec_id, auth = _upload(base, edf)
            upload_s = time.perf_counter() - t0
            start = args.at_hour * 3600
            sizes = _payload(base, auth, rec_id, start)
            reading = _flips(base, rec_id, start, args.flips, args.dwell, cold=False)
            cold = _flips(base, rec_id, start + args.flips * 20, args.flips, 1.0, cold=True)
    rows = []
    for name, t in (("reading (prefetched)", reading), ("cold (cache emptied)", cold)):
        rows.append([name, len(t), f"{_percentile(t, 0.5):.1f}", f"{_percentile(t, 0.95):.1f}", f"{max(t):.1f}"])
    print(
        f"\nPage flip at hour {args.at_hour:g} of a {args.duration} recording, 19 traces × 10 s, Chromium headless "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}); upload took {upload_s:.0f} s\n"
    )
    print(markdown_table(rows, ["mode", "flips", "p50 ms", "p95 ms", "max ms"]))
    print("\nPage payload (one page, every sample)\n")
    print(markdown_table(sizes, ["format", "traces", "samples/trace", "sent kB", "decoded kB", "encoding"]))
    print(json.dumps({"reading_ms": reading, "cold_ms": cold, "payload": sizes, "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
