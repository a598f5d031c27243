"""The dbrain home folder, where state and configuration live."""

from __future__ import annotations

import os
from pathlib import Path


def dbrain_home() -> Path:
    """Return ``$DBRAIN_HOME`` (default ``~/.dbrain``), created on first use."""
    home = Path(os.environ.get("DBRAIN_HOME") or Path.home() / ".dbrain").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
