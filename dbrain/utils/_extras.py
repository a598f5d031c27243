"""Optional parts of dbrain (pip extras) and the one message when one is missing."""

from __future__ import annotations

import importlib.util

from ..errors import DbrainError

#: What each extra adds, by the modules it needs (import names).
EXTRAS = {
    "server": ("fastapi", "uvicorn", "alembic", "argon2", "pg8000", "zxcvbn", "limits"),
    "batch": ("distributed", "dask", "duckdb"),
    "devices": ("brainflow",),
}


class MissingExtraError(DbrainError, ImportError):
    """A feature needs an optional part of dbrain that is not installed."""


def require_extra(extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` naming ``pip install 'dbrain[extra]'`` unless ``modules`` import.

    Parameters
    ----------
    extra : str
        A key of :data:`EXTRAS`.
    *modules : str
        The modules needed here (default: all of the extra's).
    """
    missing = [m for m in (modules or EXTRAS[extra]) if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(
            f"this needs dbrain's '{extra}' extra ({', '.join(missing)} not installed): pip install 'dbrain[{extra}]'"
        )
