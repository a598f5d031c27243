"""A content-addressed object store on the local file system.

Objects live at ``ROOT/objects/ab/cdef…`` named by the SHA-256 of their
bytes. Writes stream into ``ROOT/tmp`` in 1 MB blocks while hashing and end
with an atomic rename, so an object is either whole or absent, and storing
the same bytes twice keeps one copy. Web and worker processes must see the
same ``ROOT`` (one machine, or a shared file system).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterable, Iterable
from pathlib import Path

from ..errors import DbrainError
from ..ledger.records import sha256_file

CHUNK = 1 << 20
log = logging.getLogger("dbrain.server")
#: Objects up to this size are re-hashed before they are served (after any change of
#: their file); larger ones are vouched for by the scheduled ``dbrain ledger verify --objects``.
VERIFY_MAX_BYTES = 256 * 1024**2


class TooLarge(Exception):
    """The upload exceeded the size limit."""


class ObjectCorrupt(DbrainError):
    """A stored object's bytes no longer match its SHA-256 name (or it is missing)."""


class ObjectStore:
    """Content-addressed files under ``root``.

    Parameters
    ----------
    root : path-like
        The folder holding ``objects/`` and ``tmp/``.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self.quarantine = self.root / "quarantine"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        #: ``{sha256: stat key}`` of objects this process re-hashed and found whole.
        self._verified: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def path(self, sha256: str) -> Path:
        """Return the path of object ``sha256`` (which may not exist).

        Parameters
        ----------
        sha256 : str
            64 hexadecimal digits.

        Returns
        -------
        path : Path
        """
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.objects / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        """Whether object ``sha256`` is stored.

        Parameters
        ----------
        sha256 : str

        Returns
        -------
        exists : bool
        """
        return self.path(sha256).is_file()

    def scratch(self) -> Path:
        """Return a new empty folder under ``tmp/`` (the caller removes it).

        Returns
        -------
        folder : Path
        """
        return Path(tempfile.mkdtemp(dir=self.tmp))

    def put_file(self, path: str | os.PathLike, *, move: bool = False) -> tuple[str, int]:
        """Store a file's bytes; return ``(sha256, size)``.

        Parameters
        ----------
        path : path-like
            The file to store.
        move : bool
            Move the file into the store instead of copying it (same file system).

        Returns
        -------
        sha256 : str
        size : int
        """
        path = Path(path)
        sha = sha256_file(path)
        size = path.stat().st_size
        target = self.path(sha)
        if target.is_file():
            if move:
                path.unlink()
            return sha, size
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = self.tmp / f"{uuid.uuid4().hex}.part"
        if move:
            os.replace(path, staging)
        else:
            shutil.copyfile(path, staging)
        os.chmod(staging, 0o440)
        os.replace(staging, target)
        with self._lock:  # hashed just now: the first read need not hash it again
            self._verified[sha] = self._stat_key(target.stat())
        return sha, size

    def named(self, sha256: str, suffix: str) -> Path:
        """Return a path ending in ``suffix`` that points at object ``sha256`` (a symbolic link).

        The core's readers choose by extension; objects have none.

        Parameters
        ----------
        sha256 : str
        suffix : str
            E.g. ``'.edf'``.

        Returns
        -------
        path : Path
        """
        link = self.root / "named" / f"{sha256}{suffix}"
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            staging = link.with_name(f".{uuid.uuid4().hex}{suffix}")
            os.symlink(self.path(sha256), staging)
            os.replace(staging, link)
        return link

    @staticmethod
    def _stat_key(st: os.stat_result) -> tuple:
        # ctime changes on every write and cannot be set back by a user (only by the clock),
        # so a file whose key is unchanged has not been written since it was hashed.
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def verified_path(self, sha256: str, *, max_bytes: int = VERIFY_MAX_BYTES) -> tuple[Path, str]:
        """Return the path of object ``sha256`` once its bytes are known to match its name.

        An object up to ``max_bytes`` is re-hashed whenever its file changed
        since this process last hashed it (size, times or inode differ), and
        refused if the digest differs. A larger one is served on the strength of
        the scheduled check (``dbrain ledger verify --objects``), which
        quarantines a mismatching object: a quarantined object is refused
        whatever its size.

        Parameters
        ----------
        sha256 : str
        max_bytes : int
            Largest object re-hashed on the spot.

        Returns
        -------
        path : Path
        state : str
            ``'verified'`` (hashed now or unchanged since hashed) or ``'scheduled'``
            (too large to hash per request; vouched for by the last scheduled check).

        Raises
        ------
        ObjectCorrupt
            The object is missing, quarantined or its bytes do not match.
        """
        path = self.path(sha256)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectCorrupt(f"stored object {sha256[:12]}… is missing from the object store") from None
        mark = self.quarantine / sha256
        if mark.exists():
            raise ObjectCorrupt(f"stored object {sha256[:12]}… is quarantined: {mark.read_text(encoding='utf-8').strip()[:200]}")
        key = self._stat_key(st)
        with self._lock:
            if self._verified.get(sha256) == key:
                return path, "verified"
        if st.st_size > max_bytes:
            return path, "scheduled"
        if sha256_file(path) != sha256:
            with self._lock:
                self._verified.pop(sha256, None)
            log.error("refused to serve object %s: its bytes no longer match its SHA-256", sha256)
            raise ObjectCorrupt(f"stored object {sha256[:12]}… was altered: its bytes no longer match its SHA-256; refused")
        with self._lock:
            self._verified[sha256] = key
        return path, "verified"

    def check(self, sha256: str) -> str | None:
        """Re-hash object ``sha256`` now; quarantine it if it does not match (the scheduled check).

        Parameters
        ----------
        sha256 : str

        Returns
        -------
        problem : str | None
            None when the object is whole, else what is wrong.
        """
        path = self.path(sha256)
        if not path.is_file():
            return "missing from the object store"
        st = path.stat()
        got = sha256_file(path)
        if got != sha256:
            self.quarantine.mkdir(parents=True, exist_ok=True)
            (self.quarantine / sha256).write_text(f"bytes hash to {got}, not to the object's name\n", encoding="utf-8")
            return f"altered: the bytes hash to {got[:16]}…"
        (self.quarantine / sha256).unlink(missing_ok=True)
        with self._lock:
            self._verified[sha256] = self._stat_key(st)
        return None

    def delete(self, sha256: str) -> None:
        """Remove object ``sha256`` if it is stored.

        Parameters
        ----------
        sha256 : str
        """
        self.path(sha256).unlink(missing_ok=True)


class _HashingWriter:
    """Buffers chunks into ~1 MB writes while hashing and counting them (the sync and async uploads share it)."""

    def __init__(self, fid, limit: int | None):
        self.fid, self.limit = fid, limit
        self.digest, self.size, self.buf = hashlib.sha256(), 0, bytearray()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise TooLarge(self.size)
        self.digest.update(chunk)
        self.buf += chunk
        if len(self.buf) >= CHUNK:
            self.fid.write(self.buf)  # memory stays near 1 MB whatever the upload size
            self.buf.clear()

    def close(self) -> tuple[str, int]:
        self.fid.write(self.buf)
        return self.digest.hexdigest(), self.size


def stream_to_file(chunks: Iterable[bytes], path: Path, *, limit: int | None = None) -> tuple[str, int]:
    """Write ``chunks`` to ``path`` in 1 MB blocks, hashing; return ``(sha256, size)``.

    Parameters
    ----------
    chunks : iterable of bytes
    path : Path
    limit : int | None
        Raise :class:`TooLarge` beyond this many bytes.

    Returns
    -------
    sha256 : str
    size : int
    """
    with open(path, "wb") as fid:
        sink = _HashingWriter(fid, limit)
        for chunk in chunks:
            sink.write(chunk)
        return sink.close()


async def astream_to_file(chunks: AsyncIterable[bytes], path: Path, *, limit: int | None = None) -> tuple[str, int]:
    """Asynchronous :func:`stream_to_file` for a request body.

    Parameters
    ----------
    chunks : async iterable of bytes
    path : Path
    limit : int | None
        Raise :class:`TooLarge` beyond this many bytes.

    Returns
    -------
    sha256 : str
    size : int
    """
    with open(path, "wb") as fid:
        sink = _HashingWriter(fid, limit)
        async for chunk in chunks:
            sink.write(chunk)
        return sink.close()
