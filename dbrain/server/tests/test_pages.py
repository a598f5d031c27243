"""Rendered viewer pages: the per-process page cache, ETag / 304, and that access checks and audit still run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

import dbrain
from dbrain.server import pages
from dbrain.server.db import AuditEvent

from .conftest import upload

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"


@pytest.fixture
def sample_rec(sqlite_world):
    up = upload(sqlite_world, SAMPLE)
    assert up.status_code == 201, up.text
    return up.json()


def _audits(world, action: str) -> int:
    with world.app.state.sessionmaker() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_cached_page_is_the_rendered_page_and_304_is_audited(sqlite_world, sample_rec):
    w = sqlite_world
    url = f"/api/recordings/{sample_rec['id']}/window"
    params = {"start": 12, "duration": 10, "highpass": 0.5, "lowpass": 35}
    cache = pages.cache_of(w.app)
    cache.clear()
    first = w.client.get(url, params=params, headers=w.as_("clin"))
    assert first.status_code == 200 and cache.misses >= 1
    misses = cache.misses
    second = w.client.get(url, params=params, headers=w.as_("res"))
    assert second.status_code == 200 and cache.misses == misses and cache.hits >= 1  # not rendered again
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    # The cached JSON is exactly what read_window gives (rounded as the schema's lists), not a stale variant.
    from dbrain.server.window import read_window

    ref = read_window(w.app.state.store.named(sample_rec["sha256"], ".edf"), start=12, duration=10, highpass=0.5, lowpass=35)
    assert first.json()["data"] == ref["data"] and first.json()["channels"] == ref["channels"]
    assert "no-store" in first.headers["cache-control"]

    # Another parameter is another page.
    other = w.client.get(url, params={**params, "lowpass": 30}, headers=w.as_("clin"))
    assert other.status_code == 200 and other.headers["etag"] != first.headers["etag"]

    # A client holding the page revalidates: 304, no body, and the access is still audited.
    before = _audits(w, "recording.window")
    again = w.client.get(url, params=params, headers={**w.as_("clin"), "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert _audits(w, "recording.window") == before + 1
    stale = w.client.get(url, params=params, headers={**w.as_("clin"), "If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_cached_page_still_needs_access_and_an_intact_object(sqlite_world, sample_rec):
    w = sqlite_world
    url = f"/api/recordings/{sample_rec['id']}/window"
    ok = w.client.get(url, params={"start": 0, "format": "i16"}, headers=w.as_("clin"))
    assert ok.status_code == 200
    etag = ok.headers["etag"]
    # Another site's user gets 404 (not the cached page, not a 304 that would confirm the page exists).
    for extra in ({}, {"If-None-Match": etag}):
        assert w.client.get(url, params={"start": 0, "format": "i16"}, headers={**w.as_("clin_b"), **extra}).status_code == 404
    assert w.client.get(url, params={"start": 0, "format": "i16"}).status_code == 401
    # An altered stored object is refused even though its page is cached.
    path = w.app.state.store.path(sample_rec["sha256"])
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        assert w.client.get(url, params={"start": 0, "format": "i16"}, headers=w.as_("clin")).status_code == 409
    finally:
        path.write_bytes(original)
    assert w.client.get(url, params={"start": 0, "format": "i16"}, headers=w.as_("clin")).status_code == 200


def test_gzip_page_has_its_own_etag(sqlite_world, sample_rec):
    w = sqlite_world
    url = f"/api/recordings/{sample_rec['id']}/window"
    plain = w.client.get(url, params={"start": 5}, headers={**w.as_("clin"), "Accept-Encoding": "identity"})
    gz = w.client.get(url, params={"start": 5}, headers={**w.as_("clin"), "Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers and gz.headers["content-encoding"] == "gzip"
    assert gz.content == plain.content  # httpx decodes gzip: the same document
    assert gz.headers["etag"] != plain.headers["etag"] and gz.headers["vary"] == "Accept-Encoding"


def test_cache_is_bounded_and_renders_a_page_once():
    cache = pages.PageCache(max_bytes=1000)
    for i in range(10):
        cache.get(("k", i), lambda i=i: pages.make_page(bytes(300), "application/json"))
    assert cache.nbytes <= 1000 and len(cache) == 3
    assert ("k", 9) in cache._pages and ("k", 0) not in cache._pages
    cache.get(("big",), lambda: pages.make_page(bytes(5000), "application/json"))  # larger than the bound: not kept
    assert ("big",) not in cache._pages and cache.nbytes <= 1000

    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return pages.make_page(b"x" * 10, "application/json")

    threads = [threading.Thread(target=cache.get, args=(("same",), slow)) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1  # a prefetch and the flip that follows it render the page once

    def broken():
        raise ValueError("bad window")

    with pytest.raises(ValueError):
        cache.get(("bad",), broken)
    assert ("bad",) not in cache._pages and not cache._pending


def test_etag_matching():
    assert pages.etag_matches('"a", W/"b"', '"b"') and pages.etag_matches("*", '"x"')
    assert not pages.etag_matches(None, '"x"') and not pages.etag_matches('"xy"', '"x"')
