"""Rendered viewer pages, kept in a bounded per-process cache and served with an ETag.

A viewer page (one ``/window`` answer) is a pure function of the stored
object's bytes and the request's parameters (start, duration, montage and its
derivations, filters, ``max_points``, encoding). Objects are content-addressed
(named by their SHA-256) and never change under a name (a changed file is
refused by the integrity check before any page is looked up), so a cache keyed
by the object's hash and the parameters needs no invalidation: a new recording
is a new hash. The viewer asks for the next page before the reader turns to it
(prefetch) and often returns to pages it showed; both are served from here
without reading, filtering or encoding the signal again.

What is cached is the **encoded answer** (the JSON bytes or the int16
transport of :func:`dbrain.server.window.encode_int16`; its gzip form is a
page of its own, made once for the clients that accept gzip), and a strong ETag = SHA-256 of the bytes (so an ETag can
only match the very bytes it names, whatever the server version). Access
control and the audit row are not cached: the route checks and audits every
request, 304 answers included. The cache is per web process, bounded in bytes
(``DBRAIN_PAGE_CACHE_MB``, default 64; 0 turns it off), least recently used
first out.

This module wraps :func:`dbrain.server.window.read_window`; it does not
change how a window is read or filtered.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Bytes of rendered pages one web process keeps.
CACHE_BYTES = int(float(os.environ.get("DBRAIN_PAGE_CACHE_MB", "64")) * 1024**2)
#: Answers shorter than this are not gzipped (as the app's GZipMiddleware).
GZIP_MIN = 1024


@dataclass(frozen=True)
class Page:
    """One encoded window answer.

    Parameters
    ----------
    body : bytes
        The answer's bytes as sent.
    media_type : str
        ``application/json`` or ``application/octet-stream``.
    etag : str
        Quoted strong entity tag: the SHA-256 of the uncompressed answer (first 32 hex digits), with
        ``-gzip`` for its gzip form (a strong tag names one content coding).
    encoding : str | None
        ``"gzip"`` when ``body`` is compressed.
    """

    body: bytes
    media_type: str
    etag: str
    encoding: str | None = None

    @property
    def size(self) -> int:
        """Bytes held."""
        return len(self.body)

    def gzipped(self) -> Page:
        """This page gzipped (level 5, as the app's GZipMiddleware)."""
        body = gzip.compress(self.body, compresslevel=5, mtime=0)
        return Page(body=body, media_type=self.media_type, etag=self.etag[:-1] + '-gzip"', encoding="gzip")


def make_page(body: bytes, media_type: str) -> Page:
    """Wrap an encoded answer as a :class:`Page` with its ETag.

    Parameters
    ----------
    body : bytes
    media_type : str

    Returns
    -------
    page : Page
    """
    return Page(body=body, media_type=media_type, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class PageCache:
    """A thread-safe LRU of :class:`Page` bounded by the bytes it holds.

    Parameters
    ----------
    max_bytes : int
        Most bytes held; 0 keeps nothing.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = int(max_bytes)
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        #: Each key being rendered now, so concurrent requests for one page render it once.
        self._pending: dict[tuple, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def clear(self) -> None:
        """Drop every page."""
        with self._lock:
            self._pages.clear()
            self._bytes = 0

    def get(self, key: tuple, render: Callable[[], Page]) -> Page:
        """The page of ``key``, rendered by ``render()`` when not held.

        Parameters
        ----------
        key : tuple
            Hashable; must name everything the page depends on.
        render : callable
            Returns the :class:`Page`. Its exceptions propagate and nothing is kept.

        Returns
        -------
        page : Page
        """
        while True:
            with self._lock:
                page = self._pages.get(key)
                if page is not None:
                    self._pages.move_to_end(key)
                    self.hits += 1
                    return page
                waiting = self._pending.get(key)
                if waiting is None:
                    self._pending[key] = threading.Event()
                    self.misses += 1
                    break
            # The page is being rendered by another request (prefetch then flip): wait for it, then look again.
            waiting.wait(timeout=30)
        try:
            page = render()
            self.put(key, page)
            return page
        finally:
            with self._lock:
                self._pending.pop(key).set()

    def put(self, key: tuple, page: Page) -> None:
        """Keep ``page`` under ``key`` (unless it alone is larger than the bound)."""
        if page.size > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._pages[key] = page
            self._bytes += page.size
            while self._bytes > self.max_bytes and self._pages:
                _, gone = self._pages.popitem(last=False)
                self._bytes -= gone.size


def window_key(sha256: str, fmt: str, **params) -> tuple:
    """The cache key of a window page: the object's hash, the encoding and every parameter.

    Parameters
    ----------
    sha256 : str
        The stored object's SHA-256 (its name in the object store).
    fmt : str
        ``json`` or ``i16``.
    **params
        The keyword arguments given to :func:`dbrain.server.window.read_window`.

    Returns
    -------
    key : tuple
    """
    items = []
    for name, value in sorted(params.items()):
        if isinstance(value, list):
            value = tuple(value)
        items.append((name, value))
    return (sha256, fmt, *items)


def render_window(path, fmt: str, **params) -> Page:
    """Read one window (:func:`~dbrain.server.window.read_window`) and encode it as the route answers it.

    Parameters
    ----------
    path : path-like
        The stored recording.
    fmt : str
        ``json`` (the :class:`~dbrain.server.schemas.WindowOut` document) or
        ``i16`` (:func:`~dbrain.server.window.encode_int16`).
    **params
        Passed to ``read_window``.

    Returns
    -------
    page : Page
    """
    from .window import encode_int16, read_window

    if fmt == "i16":
        return make_page(encode_int16(read_window(path, arrays=True, **params)), "application/octet-stream")
    return make_page(window_json(read_window(path, arrays=True, **params)), "application/json")


def window_json(window: dict) -> bytes:
    """The :class:`~dbrain.server.schemas.WindowOut` document of a window read with ``arrays=True``, via orjson.

    orjson writes the page's ~40,000 numbers straight from the arrays, about 3x faster than lists through
    pydantic (whose per-float Python encoding cost ~40 ms of a 19 x 2000-point page).

    Every field but the two arrays is validated by the schema (as the pydantic path does); ``times`` and
    ``data`` are rounded as :func:`~dbrain.server.window.read_window` rounds its lists (6 and 3 decimals) and
    written from the arrays, NaN as ``null`` as pydantic writes it. The document equals the pydantic path's.

    Parameters
    ----------
    window : dict
        From ``read_window(..., arrays=True)``.

    Returns
    -------
    body : bytes
    """
    import numpy as np
    import orjson

    from .schemas import WindowOut

    doc = WindowOut(**{**window, "times": [], "data": []}).model_dump(mode="json")
    doc["times"] = np.ascontiguousarray(np.round(np.asarray(window["times"], dtype=np.float64), 6))
    doc["data"] = np.ascontiguousarray(np.round(np.asarray(window["data"], dtype=np.float64), 3))
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` included).

    Parameters
    ----------
    if_none_match : str | None
    etag : str

    Returns
    -------
    match : bool
    """
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


_APP_LOCK = threading.Lock()


def cache_of(app) -> PageCache:
    """The page cache of a FastAPI app (made on first use, one per app and process).

    Parameters
    ----------
    app : fastapi.FastAPI

    Returns
    -------
    cache : PageCache
    """
    cache = getattr(app.state, "page_cache", None)
    if cache is None:
        with _APP_LOCK:
            cache = getattr(app.state, "page_cache", None)
            if cache is None:
                cache = app.state.page_cache = PageCache()
    return cache


def answer(request, key: tuple, render: Callable[[], Page]):
    """The HTTP answer for a page: 304 when the client holds it, else the page (gzipped when accepted).

    Parameters
    ----------
    request : starlette.requests.Request
    key : tuple
        From :func:`window_key`.
    render : callable
        Makes the page on a cache miss.

    Returns
    -------
    response : starlette.responses.Response
    """
    from starlette.responses import Response

    cache = cache_of(request.app)
    page = cache.get(key, render)
    if "gzip" in request.headers.get("accept-encoding", "") and page.size >= GZIP_MIN:
        page = cache.get((*key, "gzip"), page.gzipped)
    # Patient data: never written to a browser's or proxy's disk cache; a client that keeps pages itself
    # revalidates with If-None-Match and gets 304.
    headers = {"ETag": page.etag, "Cache-Control": "private, no-store", "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    if page.encoding:
        headers["Content-Encoding"] = page.encoding
    return Response(page.body, media_type=page.media_type, headers=headers)
