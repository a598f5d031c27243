"""Availability under load: a real server (uvicorn) and 50 concurrent clients, no 5xx (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_server.py"


def _bench():
    if not BENCH.is_file():
        pytest.skip(f"{BENCH} not found")
    spec = importlib.util.spec_from_file_location("bench_server", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_50_concurrent_clients_no_server_errors(backend, real_edf, tmp_path, request):
    bench = _bench()
    db_url = f"sqlite:///{tmp_path / 'dc.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    home = tmp_path / "home"
    home.mkdir()
    out = bench.run_backend(db_url, home, real_edf, real_edf, clients=50, requests=3)
    assert out["server_errors"] == 0 and out["transport_errors"] == 0, out
    assert out["server_log_errors"] == 0, (home / "serve.log").read_text()[-3000:]
    statuses = {code for k in out["by_kind"].values() for code in k["status"]}
    assert statuses <= {"200", "201"}, out  # every request answered as it should, none refused or timed out
    assert out["requests"] == 50 * 3 + 1
    assert out["ledger_verify_exit"] == 0, out["ledger_verify"]
