"""``dbrain admin create-user``: the instance administrator and the password policy on the shell."""

from __future__ import annotations

import pytest

from dbrain.cli import main


def _run(argv, capsys, monkeypatch, password="violet tram under a quiet harbour"):
    monkeypatch.setenv("DBRAIN_ADMIN_PASSWORD", password)
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_instance_admin_and_password_policy(tmp_path, capsys, monkeypatch):
    from sqlalchemy import select

    from dbrain.server.db import User, make_engine, make_sessionmaker

    db = f"sqlite:///{tmp_path / 'dc.sqlite'}"
    code, out, err = _run(
        ["admin", "create-user", "--username", "root", "--role", "instance_admin", "--db", db], capsys, monkeypatch
    )
    assert code == 0, err
    assert "created instance_admin 'root'" in out and "no site" in out
    code, _, err = _run(
        ["admin", "create-user", "--username", "r2", "--role", "instance_admin", "--site", "X", "--db", db], capsys, monkeypatch
    )
    assert code == 2 and "leave out --site" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["admin", "create-user", "--username", "a", "--role", "admin", "--db", db], capsys, monkeypatch)
    assert code == 2 and "--site" in err
    for weak in ("aaaaaaaaaa", "password12"):
        code, _, err = _run(
            ["admin", "create-user", "--username", "w", "--site", "S", "--db", db], capsys, monkeypatch, password=weak
        )
        assert code == 2 and "password" in err and len(err.strip().splitlines()) == 1, err
    engine = make_engine(db)
    try:
        with make_sessionmaker(engine)() as s:
            root = s.scalar(select(User).where(User.username == "root"))
            assert root.role == "instance_admin" and root.site_id is None
            assert s.scalar(select(User).where(User.username == "w")) is None
    finally:
        engine.dispose()
