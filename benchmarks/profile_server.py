"""CPU per request of the data centre's hot endpoints, in one process, without HTTP or concurrency.

The app of ``dbrain serve`` (:func:`dbrain.server.create_app`) is called
directly through ASGI, one request at a time, on SQLite (or ``--db`` a
PostgreSQL URL), so the figure is the server's own work per request
(middleware, authentication, site check, audit row, the route, the encoding)
with no socket, no client and no queueing. This is the number that decides the
throughput two cores can give: requests/s ≤ cores × 1000 / (CPU ms per request).

    python benchmarks/profile_server.py                 # CPU ms per request, per endpoint kind
    python benchmarks/profile_server.py --yappi window  # plus the top functions of one kind (needs yappi)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


async def call(app, method: str, path: str, token: str, body: bytes = b"", query: str = "") -> tuple[int, bytes]:
    """One request through the ASGI app; return (status, body)."""
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    out = {"status": 0, "body": b""}

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["body"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="Requests per kind.")
    parser.add_argument("--db", default=None, help="Database URL (default: a new SQLite file).")
    parser.add_argument("--yappi", default=None, help="Profile one kind with yappi (CPU clock, all threads).")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="Blocks of -n requests per kind; the fastest is kept.")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import bench_server as bench
    from _common import simulate_edf

    from dbrain.cli.serve import _one_blas_thread
    from dbrain.server import Settings, create_app

    tmp = Path(tempfile.mkdtemp(prefix="dbrain-profile-server-"))
    edf = tmp / "load.edf"
    simulate_edf(edf, "10min", seed=1, seizures=1, spikes=10)
    bench.patient_field(edf, "BENCH-1 X X Bench_Patient")
    url = args.db or f"sqlite:///{tmp / 'dbrain.sqlite'}"
    tokens = bench.prepare(url, tmp)
    _one_blas_thread()
    app = create_app(Settings(db_url=url, home=tmp))
    rng = random.Random(0)
    results = {}

    async def run():
        status, data = await call(app, "POST", "/api/recordings", tokens["tech"], edf.read_bytes(), "filename=load.edf")
        if status != 201:
            raise SystemExit(f"upload failed: {status} {data[:200]!r}")
        rec = json.loads(data)
        rid, duration = rec["id"], rec["duration"]
        status, data = await call(
            app, "POST", f"/api/recordings/{rid}/annotations", tokens["tech"], b'{"onset": 1.0, "description": "x"}'
        )
        ann = json.loads(data)["id"]

        def requests(kind):
            if kind == "list":
                return "GET", "/api/recordings", b"", ""
            if kind == "read":
                return "GET", f"/api/recordings/{rid}", b"", ""
            if kind == "annotations":
                return "GET", f"/api/recordings/{rid}/annotations", b"", ""
            if kind == "window":
                start = rng.uniform(0, duration - 10)
                return "GET", f"/api/recordings/{rid}/window", b"", f"start={start:.2f}&duration=10&montage=referential"
            if kind == "window-cached":
                return "GET", f"/api/recordings/{rid}/window", b"", "start=20&duration=10&montage=referential"
            if kind == "write":
                return (
                    "POST",
                    f"/api/recordings/{rid}/annotations",
                    json.dumps({"onset": rng.uniform(0, 500), "description": "mark"}).encode(),
                    "",
                )
            if kind == "patch":
                return "PATCH", f"/api/annotations/{ann}", json.dumps({"description": f"x{rng.random()}"}).encode(), ""
            raise ValueError(kind)

        kinds = ("list", "read", "annotations", "window", "window-cached", "write", "patch")
        for kind in kinds:
            for _ in range(10):  # warm
                method, path, body, query = requests(kind)
                await call(app, method, path, tokens["tech"], body, query)
            if args.yappi == kind:
                import yappi

                yappi.set_clock_type(os.environ.get("YAPPI_CLOCK", "cpu"))
                yappi.start()
            best = None
            codes = {}
            for _ in range(1 if args.yappi == kind else args.repeat):
                # The fastest of several blocks: other processes on a loaded machine only ever add time.
                cpu0, t0 = time.process_time(), time.perf_counter()
                for _ in range(args.n):
                    method, path, body, query = requests(kind)
                    status, _ = await call(app, method, path, tokens["tech"], body, query)
                    codes[status] = codes.get(status, 0) + 1
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
                if best is None or cpu < best[0]:
                    best = (cpu, wall)
            cpu, wall = best
            results[kind] = {"cpu_ms": round(1000 * cpu / args.n, 2), "wall_ms": round(1000 * wall / args.n, 2), "status": codes}
            if args.yappi == kind:
                yappi.stop()
                stats = yappi.get_func_stats()
                stats.sort("ttot")
                print(f"--- yappi, {kind}: top {args.top} by inclusive CPU (ms per request)")
                for s in list(stats)[: args.top]:
                    print(
                        f"{1000 * s.ttot / args.n:8.3f} incl {1000 * s.tsub / args.n:8.3f} self  {s.ncall / args.n:6.1f}x  {s.module.split('site-packages/')[-1]}:{s.lineno} {s.name}"
                    )
                yappi.clear_stats()

    asyncio.run(run())
    print(f"CPU per request, fastest of {args.repeat} blocks of {args.n} (load average {os.getloadavg()[0]:.1f})")
    print(f"{'kind':<14} {'CPU ms/req':>10} {'wall ms/req':>11}  status")
    for kind, r in results.items():
        print(f"{kind:<14} {r['cpu_ms']:>10} {r['wall_ms']:>11}  {r['status']}")
    return results


if __name__ == "__main__":
    main()
