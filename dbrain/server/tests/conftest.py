"""Fixtures for the data-centre tests: an app on SQLite or a throw-away PostgreSQL, users, tokens, a real EDF."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# The throw-away PostgreSQL cluster (initdb) of the ledger tests, reused.
from dbrain.ledger.tests.conftest import postgres_server, postgres_url  # noqa: F401

PASSWORD = "correct horse battery staple"
_HASH: list[str] = []


def password_hash() -> str:
    """One Argon2 hash for every test user (hashing is deliberately slow)."""
    if not _HASH:
        from dbrain.server.auth import hash_password

        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


@pytest.fixture
def real_edf(shared_data, tmp_path) -> Path:
    """A real plain-EDF recording with a patient field (EEGLAB's test.edf: 16 ch, 256 Hz, 60 s), copied."""
    src = shared_data / "formats" / "eeglab-sample-data" / "sample_data" / "test_data" / "test.edf"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    dst = tmp_path / "upload" / "Patient_JB_1997.edf"
    dst.parent.mkdir()
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Database URL: a SQLite file, or a fresh database on the throw-away PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dc.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'dc.sqlite'}"


class World:
    """An app with two sites and one user of each role at site A (plus a clinician, a technologist and an
    admin at B, and the instance administrator ``root``), with API tokens."""

    def __init__(self, app, client):
        self.app = app
        self.client = client
        self.headers: dict[str, dict] = {}
        self.users: dict[str, int] = {}

    def session(self):
        return self.app.state.sessionmaker()

    def as_(self, who: str) -> dict:
        return self.headers[who]


def _make_world(db_url: str, home: Path, **settings):
    from fastapi.testclient import TestClient

    from dbrain.server import Settings, create_app
    from dbrain.server.auth import new_token, token_hash
    from dbrain.server.db import ApiToken, Site, User

    app = create_app(Settings(db_url=db_url, home=home, **settings))
    client = TestClient(app, base_url="https://testserver")
    world = World(app, client)
    with app.state.sessionmaker() as db:
        a, b = Site(name="Site A"), Site(name="Site B")
        db.add_all([a, b])
        db.flush()
        people = {
            "admin": ("admin", a),
            "clin": ("clinician", a),
            "tech": ("technologist", a),
            "res": ("researcher", a),
            "clin_b": ("clinician", b),
            "tech_b": ("technologist", b),
            "admin_b": ("admin", b),
            "res_b": ("researcher", b),
            "root": ("instance_admin", None),
        }
        for name, (role, site) in people.items():
            user = User(username=name, password_hash=password_hash(), role=role, site_id=site.id if site is not None else None)
            db.add(user)
            db.flush()
            token = new_token("dbr_")
            db.add(ApiToken(user_id=user.id, name="test", token_hash=token_hash(token)))
            world.headers[name] = {"Authorization": f"Bearer {token}"}
            world.users[name] = user.id
        db.commit()
    return world


@pytest.fixture
def world(db_url, tmp_path):
    """A :class:`World` on SQLite and on PostgreSQL."""
    w = _make_world(db_url, tmp_path / "home")
    with w.client:
        yield w
    w.app.state.engine.dispose()


@pytest.fixture
def sqlite_world(sqlite_url, tmp_path):
    """A :class:`World` on SQLite only."""
    w = _make_world(sqlite_url, tmp_path / "home", lease_seconds=60, heartbeat_seconds=30)
    with w.client:
        yield w
    w.app.state.engine.dispose()


def upload(world: World, path: Path, who: str = "tech", name: str | None = None):
    with open(path, "rb") as fid:
        return world.client.post(
            "/api/recordings",
            params={"filename": name or path.name},
            content=fid,
            headers={**world.as_(who), "Content-Type": "application/octet-stream"},
        )
