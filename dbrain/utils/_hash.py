"""The one file hasher: SHA-256 of a recording file or folder recording, streamed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_path(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, or of a folder recording (``.mff``), read in 1 MiB blocks.

    Parameters
    ----------
    path : path-like
        A file, or a folder: then the hash covers every file's relative name and content,
        in sorted order, so renaming a file inside the folder changes it.

    Returns
    -------
    sha256 : str
        64 lower-case hex digits.
    """
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as fid:
            for block in iter(lambda fid=fid: fid.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
