"""The data-centre web application: :func:`create_app`.

The app only wires things together: settings, the database (migrated to the
newest Alembic revision at start-up), the object store, one exception
handler turning the core's :class:`~dbrain.errors.DbrainError` into a JSON
``{"detail": "<the core's one-line message>"}``, the login guard
(:mod:`.throttle`), the security headers and request limits
(:mod:`.middleware`), and the routers of
:mod:`dbrain.server.routes`, and the browser viewer's static files at
``/viewer/`` (``/`` redirects there). Analyses run in ``dbrain worker`` processes,
never in the web process.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import DbrainError, UnsupportedFormatError
from .db import make_engine, make_sessionmaker, migrate
from .limits import InFlightLimit, LiveNeedsOneProcess
from .middleware import SecurityMiddleware, docs_csp
from .settings import Settings
from .storage import ObjectCorrupt, ObjectStore
from .throttle import LoginGuard

#: The browser viewer's static files (index.html, viewer.js, viewer.css).
STATIC = Path(__file__).parent / "static"


def _status(exc: DbrainError) -> int:
    if isinstance(exc, UnsupportedFormatError):
        return 415
    if isinstance(exc, ObjectCorrupt):
        return 409  # the stored file failed its integrity check: refused, not served
    return 422


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the FastAPI application of the data centre.

    Parameters
    ----------
    settings : Settings | None
        Default: :class:`Settings` from the environment (``DBRAIN_HOME``,
        ``DBRAIN_DATABASE_URL``).

    Returns
    -------
    app : fastapi.FastAPI
    """
    from .nfb_service import Runner
    from .routes import admin, analyses, auth, ledger, nfb, recordings, ward

    settings = settings or Settings()
    engine = make_engine(settings.db_url)
    migrate(engine)
    app = FastAPI(
        # One documentation page (/docs, under its own CSP); no OAuth redirect page, no ReDoc.
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        title="dbrain data centre",
        version=__version__,
        description=(
            "Recordings (uploaded, validated and de-identified on ingest), analyses run by workers, "
            "decimated EEG windows for the viewer, annotations, reports and the audit log. "
            "Decision support only: every finding must be confirmed by a qualified clinician."
        ),
    )
    # Compressed answers (the viewer's pages, trend tables, event lists) for clients that accept gzip.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine, settings)
    app.state.store = ObjectStore(settings.home)
    app.state.login_guard = LoginGuard(settings)
    app.state.nfb = Runner(app)  # neurofeedback sessions run in threads of this process
    from .ward import WardHub

    app.state.ward_hub = WardHub()  # the live ward's rings and open pages (memory of this web process)
    app.add_middleware(InFlightLimit)
    if settings.web_processes > 1:
        app.add_middleware(LiveNeedsOneProcess)

    @app.exception_handler(DbrainError)
    async def _dbrain_error(request: Request, exc: DbrainError):
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=_status(exc))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        # A dbrain bug: log the traceback, answer one line (no locals, no internals).
        logging.getLogger("uvicorn.error").error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: the process answers and the database is reachable."""
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "version": __version__}

    for module in (auth, admin, recordings, analyses, ledger, nfb, ward):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """The browser viewer."""
        return RedirectResponse("/viewer/")

    @app.get("/ward", include_in_schema=False)
    def ward_page() -> RedirectResponse:
        """The live ward page (docs/ward.md): static files beside the viewer's, reusing its time.js."""
        return RedirectResponse("/viewer/ward.html")

    # The browser EEG viewer: static files (no build step), talking only to the API above.
    app.mount("/viewer", StaticFiles(directory=STATIC, html=True), name="viewer")

    from fastapi.openapi.docs import get_swagger_ui_html

    @functools.cache
    def swagger_csp(root_path: str) -> str:
        # The same page FastAPI serves at /docs: its inline script is allowed by hash.
        page = get_swagger_ui_html(openapi_url=root_path + app.openapi_url, title=f"{app.title} - Swagger UI")
        return docs_csp(page.body.decode())

    app.add_middleware(
        SecurityMiddleware,
        settings=settings,
        page_csp={app.docs_url: lambda scope: swagger_csp(scope.get("root_path", "").rstrip("/"))},
    )
    return app
