"""Ledger records: kinds, fields and their canonical JSON bytes.

A record is a JSON object; its leaf in the tree is ``SHA-256(0x00 || bytes)``
of its canonical encoding: keys sorted, no insignificant whitespace
(``","`` and ``":"`` separators), UTF-8, no floating-point numbers (so the
encoding is the same in every language; write measurements as strings).
Fields (schema version ``v`` 1):

=================  ===============================================================
``v``              record schema version (1)
``kind``           one of :data:`KINDS`
``content_hash``   SHA-256 (hex) of the file or result the record is about
``actor``          who did it (OS user name, or the data centre's user id)
``time``           UTC time, RFC 3339 with microseconds (``2026-11-22T10:00:00.000000Z``)
``dbrain_version`` the dbrain version that wrote the record
``model_versions`` ``{name: version}`` of the analysis steps / models involved
``parents``        leaf hashes (hex) of earlier entries this one derives from
``artifacts``      ``[{path, sha256, size, role}]`` files ``dbrain ledger verify`` re-hashes
``details``        free-form, kind-specific object
=================  ===============================================================
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .. import __version__
from ..utils._hash import sha256_path
from ._errors import LedgerError, LedgerParameterError

__all__ = [
    "KINDS",
    "RECORD_VERSION",
    "canonical_json",
    "make_record",
    "file_artifact",
    "parse_record",
    "validate_record",
    "sha256_file",
    "default_actor",
]

#: Record kinds and what their ``content_hash`` is the hash of.
KINDS: dict[str, str] = {
    "recording-ingested": "the recording file",
    "analysis-run": "the result manifest: canonical JSON of {output file name: sha256}",
    "annotation-changed": "the canonical JSON of the annotation set after the change",
    "report-signed": "the signed report file",
    "consent-recorded": "the consent document (or its canonical JSON)",
    "key-rotated": "the new Ed25519 public key (32 raw bytes)",
    "row-state": "the canonical JSON of the database row states it lists (details.rows)",
}

RECORD_VERSION = 1

_FIELDS = ("v", "kind", "content_hash", "actor", "time", "dbrain_version", "model_versions", "parents", "artifacts", "details")
_FIELDSET = frozenset(_FIELDS)
_is_map = lambda v: isinstance(v, dict) or isinstance(v, Mapping)  # noqa: E731 - dict first: the ABC check is slow
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_ARTIFACT_FIELDS = {"path", "sha256", "size", "role"}


def _check_json(value, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise LedgerParameterError(
            f"{where} is a floating-point number ({value!r}); ledger records hold no floats, write it as a string"
        )
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerParameterError(f"{where} has a non-string key {key!r}")
            _check_json(item, f"{where}.{key}")
        return
    raise LedgerParameterError(f"{where} is a {type(value).__name__}, which JSON cannot hold")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dumps(obj) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def canonical_json(obj) -> bytes:
    """Return the canonical JSON bytes of ``obj``.

    Parameters
    ----------
    obj : dict | list | str | int | bool | None
        JSON-able value without floating-point numbers.

    Returns
    -------
    data : bytes
        UTF-8 JSON with sorted keys and ``,``/``:`` separators.
    """
    _check_json(obj, "record")
    return _dumps(obj)


def sha256_file(path: str | os.PathLike) -> str:
    """Return the SHA-256 of a file's bytes (:func:`dbrain.utils._hash.sha256_path`, the one hasher).

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    digest : str
        64 lower-case hex digits.
    """
    return sha256_path(path)


def default_actor() -> str:
    """The OS user running dbrain."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_artifact(path: str | os.PathLike, role: str, *, sha256: str | None = None) -> dict:
    """Describe a file for a record: absolute path, SHA-256, size and role.

    Parameters
    ----------
    path : path-like
        An existing file.
    role : str
        What the file is to the record: ``input``, ``output``, ``report`` …
    sha256 : str | None
        The file's SHA-256 when already known (it is not re-read).

    Returns
    -------
    artifact : dict
        ``{"path", "sha256", "size", "role"}``; ``dbrain ledger verify`` re-hashes ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise LedgerParameterError(f"cannot record '{path}': not a file")
    if not isinstance(role, str) or not role:
        raise LedgerParameterError(f"artifact role must be a non-empty string, got {role!r}")
    digest = sha256 or sha256_file(path)
    return {"path": str(path.resolve()), "sha256": digest, "size": path.stat().st_size, "role": role}


def make_record(
    kind: str,
    *,
    content_hash: str | None = None,
    artifacts: Iterable[Mapping] = (),
    actor: str | None = None,
    time: str | None = None,
    dbrain_version: str | None = None,
    model_versions: Mapping[str, str] | None = None,
    parents: Iterable[str] = (),
    details: Mapping | None = None,
) -> dict:
    """Build and validate a record (see the module docstring for the fields).

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    content_hash : str | None
        SHA-256 (hex) of what the record is about; default: that of the only artifact.
    artifacts : iterable of dict
        Files from :func:`file_artifact`.
    actor : str | None
        Who did it; default: the OS user.
    time : str | None
        UTC time ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; default: now.
    dbrain_version : str | None
        Default: the running version.
    model_versions : dict | None
        ``{name: version}`` of the analysis steps or models involved.
    parents : iterable of str
        Leaf hashes (hex) of earlier entries this one derives from.
    details : dict | None
        Kind-specific fields (no floats).

    Returns
    -------
    record : dict
    """
    artifacts = [dict(a) for a in artifacts]
    if content_hash is None:
        if len(artifacts) != 1:
            raise LedgerParameterError("content_hash is required unless the record has exactly one artifact")
        content_hash = artifacts[0].get("sha256")
    record = {
        "v": RECORD_VERSION,
        "kind": kind,
        "content_hash": content_hash,
        "actor": default_actor() if actor is None else actor,
        "time": _now() if time is None else time,
        "dbrain_version": __version__ if dbrain_version is None else dbrain_version,
        "model_versions": dict(model_versions or {}),
        "parents": list(parents),
        "artifacts": artifacts,
        "details": dict(details or {}),
    }
    validate_record(record)
    return record


def check_kind(kind) -> str:
    """Raise :class:`LedgerParameterError` unless ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        from ..utils import _suggest

        raise LedgerParameterError(f"unknown record kind {kind!r}; kinds are {', '.join(KINDS)}.{_suggest(kind, KINDS)}")
    return kind


def validate_record(record: Mapping, *, _from_json: bool = False) -> None:
    """Raise :class:`LedgerParameterError` unless ``record`` is a valid version-1 record."""
    if not _is_map(record):
        raise LedgerParameterError(f"a record must be a dict, got {type(record).__name__}")
    if record.keys() != _FIELDSET:
        missing = [f for f in _FIELDS if f not in record]
        extra = sorted(set(record) - _FIELDSET)
        raise LedgerParameterError(f"record fields: missing {missing}, unknown {extra}")
    if record["v"] != RECORD_VERSION:
        raise LedgerParameterError(f"record version {record['v']!r} is not supported (this dbrain writes {RECORD_VERSION})")
    check_kind(record["kind"])
    if not isinstance(record["content_hash"], str) or not _HEX64.match(record["content_hash"]):
        raise LedgerParameterError(f"content_hash must be 64 lower-case hex digits (SHA-256), got {record['content_hash']!r}")
    for name in ("actor", "dbrain_version"):
        if not isinstance(record[name], str) or not record[name]:
            raise LedgerParameterError(f"{name} must be a non-empty string, got {record[name]!r}")
    if not isinstance(record["time"], str) or not _TIME.match(record["time"]):
        raise LedgerParameterError(f"time must be UTC like 2026-11-22T10:00:00.000000Z, got {record['time']!r}")
    mv = record["model_versions"]
    if not _is_map(mv) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mv.items()):
        raise LedgerParameterError("model_versions must map names to version strings")
    parents = record["parents"]
    if not isinstance(parents, list | tuple) or not all(isinstance(p, str) and _HEX64.match(p) for p in parents):
        raise LedgerParameterError("parents must be a list of leaf hashes (64 lower-case hex digits)")
    artifacts = record["artifacts"]
    if not isinstance(artifacts, list | tuple):
        raise LedgerParameterError("artifacts must be a list")
    for i, art in enumerate(artifacts):
        if not _is_map(art) or set(art) != _ARTIFACT_FIELDS:
            raise LedgerParameterError(f"artifacts[{i}] must have exactly the fields {sorted(_ARTIFACT_FIELDS)}")
        if not isinstance(art["sha256"], str) or not _HEX64.match(art["sha256"]):
            raise LedgerParameterError(f"artifacts[{i}].sha256 must be 64 lower-case hex digits")
        if not isinstance(art["path"], str) or not os.path.isabs(art["path"]):
            raise LedgerParameterError(f"artifacts[{i}].path must be an absolute path")
        if not isinstance(art["size"], int) or isinstance(art["size"], bool) or art["size"] < 0:
            raise LedgerParameterError(f"artifacts[{i}].size must be a non-negative integer")
        if not isinstance(art["role"], str) or not art["role"]:
            raise LedgerParameterError(f"artifacts[{i}].role must be a non-empty string")
    if not _is_map(record["details"]):
        raise LedgerParameterError("details must be an object")
    if not _from_json:
        _check_json(record, "record")


def _no_float(text):
    raise ValueError(f"floating-point number {text} in a record")


_DECODER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)


def parse_record(data: bytes) -> dict:
    """Parse and validate a record's canonical bytes; raise :class:`LedgerError` if they are not."""
    try:
        record = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LedgerError(f"not JSON ({exc})") from exc
    try:
        validate_record(record, _from_json=True)
    except LedgerParameterError as exc:
        raise LedgerError(str(exc)) from exc
    if _dumps(record) != data:
        raise LedgerError("not in canonical form")
    return record
