"""``dbrain admin create-user`` and the argument checks of ``dbrain worker`` (exit codes, one-line errors)."""

from __future__ import annotations

import pytest

from dbrain.cli import main


def _run(argv, capsys, monkeypatch, password="a long enough password"):
    monkeypatch.setenv("DBRAIN_ADMIN_PASSWORD", password)
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_admin_create_user(tmp_path, capsys, monkeypatch):
    from sqlalchemy import select

    from dbrain.server.auth import verify_password
    from dbrain.server.db import Site, User, make_engine, make_sessionmaker

    db = f"sqlite:///{tmp_path / 'dc.sqlite'}"
    code, out, err = _run(["admin", "create-user", "--username", "root", "--site", "North", "--db", db], capsys, monkeypatch)
    assert code == 0, err
    assert "created admin 'root'" in out
    code, _, err = _run(["admin", "create-user", "--username", "root", "--site", "North", "--db", db], capsys, monkeypatch)
    assert code == 2 and err.strip() == "dbrain: user 'root' exists"
    code, _, err = _run(
        ["admin", "create-user", "--username", "x", "--site", "North", "--role", "boss", "--db", db], capsys, monkeypatch
    )
    assert code == 2 and "--role" in err and "researcher" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(
        ["admin", "create-user", "--username", "y", "--site", "North", "--db", db], capsys, monkeypatch, password="short"
    )
    assert code == 2 and "at least 10 characters" in err
    engine = make_engine(db)
    try:
        with make_sessionmaker(engine)() as s:
            user = s.scalar(select(User).where(User.username == "root"))
            assert user.role == "admin" and s.get(Site, user.site_id).name == "North"
            assert user.password_hash.startswith("$argon2id$") and verify_password(user.password_hash, "a long enough password")
    finally:
        engine.dispose()


def test_worker_rejects_a_heartbeat_slower_than_its_lease(capsys, monkeypatch):
    code, _, err = _run(["worker", "--lease", "2", "--heartbeat", "5"], capsys, monkeypatch)
    assert code == 2 and "--heartbeat" in err
