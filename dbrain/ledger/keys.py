"""Ed25519 signing keys for tree heads, kept under ``DBRAIN_HOME``.

Layout of the key folder (default ``$DBRAIN_HOME/keys/ledger``, mode 0700)::

    <key id>.key   the private key, PKCS#8 PEM, mode 0600
    <key id>.pub   the public key, standard base64 of its 32 raw bytes
    current        the id of the key that signs new tree heads

A key id is the first 16 hex digits of SHA-256 of the raw public key. The
first key is created on first use. :meth:`KeyStore.rotate` makes a new current
key and keeps the old public key (and, unless asked otherwise, the old private
key) so heads signed before the rotation still verify.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..utils import dbrain_home, logger
from ._errors import LedgerError

__all__ = ["KeyStore", "SigningKey", "key_id_for", "default_key_dir"]


def key_id_for(public_key: bytes) -> str:
    """The id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def default_key_dir() -> Path:
    """``$DBRAIN_HOME/keys/ledger``."""
    return dbrain_home() / "keys" / "ledger"


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and its id."""

    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def _write_new(path: Path, data: bytes, mode: int) -> bool:
    """Create ``path`` with ``data`` and ``mode``; False if it already exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    try:
        os.link(tmp, path)  # atomic, and fails if another process was first
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


class KeyStore:
    """The signing keys of the ledger in one folder.

    Parameters
    ----------
    directory : path-like | None
        Key folder; default ``$DBRAIN_HOME/keys/ledger``.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_key_dir()
        self._cache: dict[str, SigningKey] = {}

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r})"

    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise LedgerError(f"cannot create the ledger key folder '{self.directory}': {exc.strerror or exc}") from exc

    def _create(self) -> SigningKey:
        self._ensure_dir()
        private = Ed25519PrivateKey.generate()
        key = SigningKey(key_id_for(private.public_key().public_bytes_raw()), private)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        _write_new(self.directory / f"{key.key_id}.key", pem, 0o600)
        _write_new(self.directory / f"{key.key_id}.pub", base64.b64encode(key.public_bytes) + b"\n", 0o644)
        logger.info("created ledger signing key %s in %s", key.key_id, self.directory)
        return key

    def current_id(self) -> str | None:
        """Id of the current signing key, or None if there is none yet."""
        try:
            return (self.directory / "current").read_text().strip() or None
        except FileNotFoundError:
            return None

    def current(self, *, create: bool = True) -> SigningKey | None:
        """The current signing key; created on first use when ``create``."""
        key_id = self.current_id()
        if key_id is None:
            if not create:
                return None
            key = self._create()
            if not _write_new(self.directory / "current", key.key_id.encode() + b"\n", 0o644):
                # another process created the first key at the same time: use theirs
                (self.directory / f"{key.key_id}.key").unlink(missing_ok=True)
                (self.directory / f"{key.key_id}.pub").unlink(missing_ok=True)
                key_id = self.current_id()
            else:
                self._cache[key.key_id] = key
                return key
        return self.load(key_id)

    def load(self, key_id: str) -> SigningKey:
        """Load the private key ``key_id``; refuse a key file others can read."""
        if key_id in self._cache:
            return self._cache[key_id]
        path = self.directory / f"{key_id}.key"
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise LedgerError(
                    f"ledger key file '{path}' is accessible by other users (mode {stat.S_IMODE(mode):04o}); run chmod 600 on it"
                )
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError as exc:
            raise LedgerError(f"ledger signing key {key_id} not found in '{self.directory}'") from exc
        except ValueError as exc:
            raise LedgerError(f"ledger key file '{path}' is not a valid private key: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise LedgerError(f"ledger key file '{path}' is not an Ed25519 key")
        key = SigningKey(key_id, private)
        if key_id_for(key.public_bytes) != key_id:
            raise LedgerError(f"ledger key file '{path}' holds a key whose id is not {key_id}")
        self._cache[key_id] = key
        return key

    def public_keys(self) -> dict[str, bytes]:
        """``{key id: raw public key}`` of every ``.pub`` file in the folder."""
        out = {}
        if not self.directory.is_dir():
            return out
        for path in sorted(self.directory.glob("*.pub")):
            try:
                raw = base64.b64decode(path.read_text().strip(), validate=True)
            except ValueError as exc:
                raise LedgerError(f"ledger public key file '{path}' is not base64: {exc}") from exc
            out[path.stem] = raw
        return out

    def rotate(self, *, destroy_old: bool = False) -> tuple[SigningKey | None, SigningKey]:
        """Make a new current key; return ``(old, new)``.

        The old public key stays in the folder; with ``destroy_old`` the old
        private key file is deleted (after the caller has used it, e.g. to
        endorse the new key).
        """
        old = self.current(create=False)
        new = self._create()
        tmp = self.directory / f".current.{os.getpid()}.tmp"
        tmp.write_text(new.key_id + "\n")
        os.replace(tmp, self.directory / "current")
        self._cache[new.key_id] = new
        if destroy_old and old is not None:
            self.destroy_private(old.key_id)
        return old, new

    def destroy_private(self, key_id: str) -> None:
        """Delete a retired private key file (its public key stays)."""
        if key_id == self.current_id():
            raise LedgerError(f"key {key_id} is the current signing key; rotate first")
        (self.directory / f"{key_id}.key").unlink(missing_ok=True)
        self._cache.pop(key_id, None)
