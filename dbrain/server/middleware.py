"""The web process's outer guard: security headers and request limits (an ASGI middleware).

Every response carries:

* ``Content-Security-Policy``: scripts, styles, images and connections from
  the data centre itself only; no inline script, no plug-ins, no framing
  (``frame-ancestors 'none'``), no ``<base>``; an HTML result file (a report)
  is additionally sandboxed, so nothing in it can run or reach the API;
* ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy: same-origin``;
* ``Cache-Control: no-store`` on API answers (they hold patient data);
* ``Strict-Transport-Security`` when served over HTTPS.

Every request is held to:

* a request target (path and query) of at most ``Settings.max_url_bytes``
  (longer: 414);
* a body of at most ``Settings.max_body_bytes`` (larger: 413), except the
  upload, which the upload route streams to disk up to
  ``Settings.max_upload_bytes`` (a ``Content-Length`` over it answers 413 at
  once);
* JSON without ``NaN``, ``Infinity`` or ``-Infinity`` (not JSON, though
  Python's parser accepts them): 422.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from starlette.datastructures import Headers, MutableHeaders

from .settings import Settings

#: The policy of the viewer and the API.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: HTML served from the API (an analysis's HTML report): an opaque origin, no script at all.
CSP_SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'"
#: The upload route: its body is streamed to disk by the route, with its own limit.
UPLOAD = ("POST", "/api/recordings")


class _BadConstant(ValueError):
    pass


def _refuse_constant(name: str):
    raise _BadConstant(name)


def docs_csp(html: str) -> str:
    """The policy of FastAPI's ``/docs`` page: its CDN scripts and its one inline script by hash (no 'unsafe-inline').

    Parameters
    ----------
    html : str
        The page FastAPI serves.

    Returns
    -------
    csp : str
    """
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    ]
    return (
        f"default-src 'self'; script-src 'self' https://cdn.jsdelivr.net {' '.join(hashes)}; "
        "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityMiddleware:
    """Add the security headers to every response and enforce the request limits.

    Parameters
    ----------
    app : ASGI application
    settings : Settings
    page_csp : dict
        ``{path: function(scope) -> policy}`` for pages that need their own policy (``/docs``).
    """

    def __init__(self, app, settings: Settings, page_csp: dict | None = None):
        self.app = app
        self.settings = settings
        self.page_csp = page_csp or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        https = scope.get("scheme") == "https"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                if path in self.page_csp:
                    csp = self.page_csp[path](scope)
                elif html and path.startswith("/api/"):
                    csp = CSP_SANDBOX
                else:
                    csp = CSP
                headers["Content-Security-Policy"] = csp
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if path.startswith("/api/") and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        async def answer(status: int, detail: str):
            body = json.dumps({"detail": detail}).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})

        s = self.settings
        target = len(scope.get("raw_path") or path.encode()) + len(scope.get("query_string") or b"")
        if target > s.max_url_bytes:
            await answer(414, f"the request target is longer than {s.max_url_bytes} bytes")
            return
        headers = Headers(scope=scope)
        upload = (scope["method"], path.rstrip("/")) == UPLOAD
        limit = s.max_upload_bytes if upload else s.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await answer(413, f"the request body is larger than {limit} bytes")
            return
        if upload or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send_with_headers)
            return

        # A small body: read it whole (bounded), check it, and hand it on.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await answer(413, f"the request body is larger than {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body[:1] in (b"{", b"[") or "json" in headers.get("content-type", ""):
            try:
                json.loads(body, parse_constant=_refuse_constant)
            except _BadConstant as exc:
                await answer(422, f"the JSON body contains {exc}, which is not a number in JSON; send a finite number")
                return
            except ValueError:
                pass  # malformed JSON: FastAPI answers 422 with the position

        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)
