"""Waiting for SQLite's write lock (issue 15): short tries in a loop, one waiter per process, same 60 s bound."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from dbrain.server import db as dbmod


def _engine(tmp_path):
    engine = dbmod.make_engine(f"sqlite:///{tmp_path / 'lock.sqlite'}", pool_size=4)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    return engine


def _hold_the_lock(tmp_path, seconds: float, started: threading.Event):
    # Another process's writer, as far as SQLite is concerned: its own connection, outside the engine.
    con = sqlite3.connect(tmp_path / "lock.sqlite", isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO t VALUES (0)")
    started.set()
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()


def test_writers_wait_for_the_lock_then_write(tmp_path):
    engine = _engine(tmp_path)
    started = threading.Event()
    holder = threading.Thread(target=_hold_the_lock, args=(tmp_path, 0.5, started))
    holder.start()
    started.wait(5)
    errors, done = [], []

    def write(i):
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT count(*) FROM t")).scalar()  # a read snapshot first, then the write
                conn.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": i})
            done.append(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t0 = time.monotonic()
    writers = [threading.Thread(target=write, args=(i,)) for i in range(1, 6)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(30)
    holder.join(10)
    assert not errors and sorted(done) == [1, 2, 3, 4, 5]
    assert time.monotonic() - t0 >= 0.3  # they did wait for the holder
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 6
        # The connection's own busy timeout is back to 60 s after its tries.
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
    engine.dispose()


def test_a_writer_still_gives_up_after_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(dbmod, "WRITE_LOCK_TIMEOUT", 0.4)
    engine = _engine(tmp_path)
    started = threading.Event()
    holder = threading.Thread(target=_hold_the_lock, args=(tmp_path, 2.0, started))
    holder.start()
    started.wait(5)
    t0 = time.monotonic()
    with pytest.raises(sa.exc.OperationalError, match="locked"):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (7)"))
    assert 0.3 <= time.monotonic() - t0 < 1.9
    holder.join(10)
    with engine.begin() as conn:  # nothing left held: the next writer goes through
        conn.execute(sa.text("INSERT INTO t VALUES (8)"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
    engine.dispose()
