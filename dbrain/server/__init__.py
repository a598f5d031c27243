"""The dbrain data centre: a web service (FastAPI) with accounts, roles, audit, a job queue and workers.

``dbrain serve`` runs :func:`create_app`; ``dbrain worker`` runs
:func:`run_worker`. The service calls the analysis core (``dbrain.io``,
``dbrain.deid``, ``dbrain.analyze``, ``dbrain.montages``) and never
re-implements it; the core never imports this package. See ``docs/server.md``.
"""

from ..utils._extras import require_extra

require_extra("server")

from .app import create_app  # noqa: E402
from .settings import Settings, default_db_url  # noqa: E402
from .worker import Worker, run_worker  # noqa: E402

__all__ = ["Settings", "Worker", "create_app", "default_db_url", "run_worker"]
