"""Atomic outputs: a failed run leaves nothing behind, a good run appears whole."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import OutputError


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, *, overwrite: bool = False):
    """Yield a temporary directory that is renamed to ``final`` on success.

    The temporary directory sits beside ``final`` so that the rename is atomic
    on one file system. On any exception it is removed and ``final`` is left
    as it was.
    """
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise OutputError(f"output '{final}' exists and is not a directory")
    if final.is_dir() and any(final.iterdir()) and not overwrite:
        raise OutputError(f"output directory '{final}' is not empty (use --overwrite to replace it)")
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write to '{parent}': {exc.strerror or exc}") from exc
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


@contextlib.contextmanager
def atomic_file(final: str | os.PathLike, *, overwrite: bool = True):
    """Yield a temporary path beside ``final``; move it into place on success."""
    final = Path(final)
    if final.is_dir():
        raise OutputError(f"output '{final}' is a directory")
    if final.exists() and not overwrite:
        raise OutputError(f"output '{final}' exists")
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write to '{parent}': {exc.strerror or exc}") from exc
    os.close(fd)
    # mkstemp creates 0600; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
