#!/usr/bin/env python
"""Ward benchmark: N beds posting once a second to a real ``dbrain serve``, M ward pages on the push stream.

Usage::

    python benchmarks/bench_ward.py                       # 32 beds, 4 pages, 30 s
    python benchmarks/bench_ward.py --beds 64 --pages 8 --seconds 60

What it does:

1. Starts a real ``dbrain serve`` (no worker) with a fresh data-centre home, makes an admin, a clinician
   and a technologist with ``dbrain admin create-user``, and adds ``--beds`` beds.
2. Opens ``--pages`` push streams (``GET /api/ward/stream``) as the clinician, as ward pages do.
3. Every bed posts one frame a second for ``--seconds`` (as ``dbrain monitor --post`` does), each frame
   computed from the bundled seizure recording (``dbrain/server/tests/ward_feed.py``: seizure probability,
   left/right DSA of 20 frequencies, 1 s of 4 channels at 50 Hz), with ``wall`` = the moment it is sent.
   Posters and pages run in this one process (asyncio, httpx2), on the same machine as the server.
4. Measures the post's round trip, the push latency (a frame's arrival on each page minus its ``wall``),
   frames lost, and the web process's CPU (share of one core) and resident memory.

Prints a Markdown table and one JSON line. Client and server share the machine: say whether it was loaded.
"""

from __future__ import annotations

import argparse
import asyncio
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

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _common import markdown_table  # noqa: E402

PASSWORD = "a long benchmark password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, resident MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return cpu, rss / 1024


async def _run(base: str, tokens: dict, beds: list[str], n_pages: int, seconds: float, frames: list[dict]):
    import httpx2 as httpx

    push: list[float] = []
    posts: list[float] = []
    failed = 0
    received = [0] * n_pages
    ready = [asyncio.Event() for _ in range(n_pages)]
    stop = asyncio.Event()

    async def page(i: int):
        async with httpx.AsyncClient(base_url=base, timeout=None) as c:
            async with c.stream("GET", "/api/ward/stream", params={"max_seconds": seconds + 60}, headers=tokens["clin"]) as r:
                event = None
                async for line in r.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "hello":
                        ready[i].set()
                    elif line.startswith("data:") and event == "frames":
                        now = time.time()
                        for f in json.loads(line[5:])["frames"]:
                            push.append(now - f["wall"])
                            received[i] += 1
                    if stop.is_set():
                        return

    async def bed(name: str, offset: float):
        nonlocal failed
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=tokens["mon"]) as c:
            await asyncio.sleep(offset)  # beds spread over the second, as independent monitors are
            t0 = time.monotonic()
            for k in range(int(seconds)):
                await asyncio.sleep(max(0.0, t0 + k - time.monotonic()))
                frame = {**frames[k % len(frames)], "t": float(k), "wall": time.time()}
                sent = time.perf_counter()
                r = await c.post(
                    f"/api/ward/beds/{name}/updates", json={"stream": f"{name}-bench", "frames": [frame], "alarms": []}
                )
                posts.append(time.perf_counter() - sent)
                if r.status_code != 202:
                    failed += 1

    pages = [asyncio.create_task(page(i)) for i in range(n_pages)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 60)
    await asyncio.gather(*(bed(b, i / len(beds)) for i, b in enumerate(beds)))
    await asyncio.sleep(2.0)  # the last frames' way to the pages
    stop.set()
    for t in pages:
        t.cancel()
    await asyncio.gather(*pages, return_exceptions=True)
    return push, posts, failed, received


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beds", type=int, default=32)
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args(argv)
    if not (1 <= args.beds <= 1000 and 1 <= args.pages <= 64 and 2 <= args.seconds <= 3600):
        print("bench_ward: --beds 1-1000, --pages 1-64, --seconds 2-3600", file=sys.stderr)
        return 2
    import httpx2 as httpx

    from dbrain.server.tests import ward_feed

    frames = ward_feed.replay()[0]
    with tempfile.TemporaryDirectory(prefix="dbrain-bench-ward-") as tmp:
        home = Path(tmp) / "home"
        db = f"sqlite:///{home / 'dbrain.sqlite'}"
        env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
        cmd = [sys.executable, "-m", "dbrain"]
        for user, role in (("boss", "admin"), ("clin", "clinician"), ("mon", "technologist")):
            subprocess.run(
                [*cmd, "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
                env=env,
                check=True,
                capture_output=True,
            )
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "serve.log", "w")
        server = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0", "--db", db, "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            tokens = {}
            with httpx.Client(base_url=base, timeout=30) as c:
                for user in ("boss", "clin", "mon"):
                    login = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
                    session = {
                        "Cookie": f"dbrain_session={login.cookies['dbrain_session']}",
                        "X-CSRF-Token": login.json()["csrf_token"],
                    }
                    tokens[user] = {
                        "Authorization": f"Bearer {c.post('/api/tokens', json={'name': 'bench'}, headers=session).json()['token']}"
                    }
                beds = [f"BED-{i:03d}" for i in range(args.beds)]
                for b in beds:
                    assert c.post("/api/ward/beds", json={"name": b}, headers=tokens["boss"]).status_code == 201
            cpu0, rss0 = _proc(server.pid)
            wall0 = time.monotonic()
            push, posts, failed, received = asyncio.run(_run(base, tokens, beds, args.pages, args.seconds, frames))
            elapsed = time.monotonic() - wall0
            cpu1, rss1 = _proc(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            log.close()
    sent = len(posts)
    expected = sent * args.pages
    push_ms, post_ms = np.asarray(push) * 1e3, np.asarray(posts) * 1e3
    frame_bytes = len(json.dumps(frames[len(frames) // 2]))
    result = {
        "beds": args.beds, "pages": args.pages, "seconds": args.seconds, "frame_bytes": frame_bytes,
        "posts": sent, "posts_failed": failed, "frames_expected_on_pages": expected, "frames_received_on_pages": int(sum(received)),
        "post_ms_p50": round(float(np.percentile(post_ms, 50)), 1), "post_ms_p95": round(float(np.percentile(post_ms, 95)), 1),
        "push_ms_p50": round(float(np.percentile(push_ms, 50)), 1), "push_ms_p95": round(float(np.percentile(push_ms, 95)), 1),
        "push_ms_max": round(float(push_ms.max()), 1),
        "server_cpu_share": round((cpu1 - cpu0) / elapsed, 3), "server_rss_mb_before": round(rss0, 1), "server_rss_mb_after": round(rss1, 1),
        "cpus": os.cpu_count(), "python": platform.python_version(),
    }  # fmt: skip
    rows = [
        ("beds × pages", f"{args.beds} × {args.pages}"),
        ("posts (failed)", f"{sent} ({failed})"),
        ("frames on pages / expected", f"{result['frames_received_on_pages']} / {expected}"),
        ("post round trip p50 / p95", f"{result['post_ms_p50']} / {result['post_ms_p95']} ms"),
        ("push latency p50 / p95 / max", f"{result['push_ms_p50']} / {result['push_ms_p95']} / {result['push_ms_max']} ms"),
        ("web process CPU", f"{result['server_cpu_share'] * 100:.0f} % of one core"),
        ("web process memory", f"{result['server_rss_mb_before']} → {result['server_rss_mb_after']} MB"),
        ("frame size", f"{frame_bytes} bytes of JSON"),
    ]
    print(markdown_table([list(r) for r in rows], ["measure", "value"]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
