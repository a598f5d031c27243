"""Shared pytest fixtures for dbrain's test suites."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

#: ../shared/data relative to the repository root (read-only real recordings).
SHARED_DATA = Path(os.environ.get("DBRAIN_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (set DBRAIN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _dbrain_home(tmp_path_factory, monkeypatch):
    """Keep every test's DBRAIN_HOME out of the user's real home."""
    monkeypatch.setenv("DBRAIN_HOME", str(tmp_path_factory.mktemp("dbrain_home")))


@pytest.fixture(autouse=True)
def _check_log_level():
    """Fail tests that leave the dbrain logger at another level."""
    logger = logging.getLogger("dbrain")
    before = logger.level
    yield
    assert logger.level == before, "test changed the dbrain log level"
