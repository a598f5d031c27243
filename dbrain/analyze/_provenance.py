"""Provenance of analysis jobs: the ledger entry of a finished results folder.

Glue between a job (``analyze``, ``batch``) and the ledger core, so it lives with the jobs: the ledger
package knows records and trees, not what an analysis is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..ledger import Entry, Ledger
from ..ledger.records import canonical_json, file_artifact, make_record
from ..utils import logger


def record_analysis_run(
    out_dir: str | os.PathLike,
    input_path: str | os.PathLike,
    input_sha256: str | None,
    steps: Iterable[Mapping],
    *,
    ledger: Ledger | None = None,
    actor: str | None = None,
) -> Entry:
    """Append one ``analysis-run`` entry for a finished ``dbrain analyze`` results folder.

    Parameters
    ----------
    out_dir : path-like
        The results folder; every file in it is hashed and listed as an output.
    input_path : path-like
        The analysed recording.
    input_sha256 : str | None
        Its SHA-256 (``summary["input"]["sha256"]``); None for a folder (BIDS, .mff).
    steps : iterable of dict
        The steps that ran, each with ``name`` and ``version``.
    ledger : Ledger | None
        Where to append; default: the default ledger, opened and closed here.
    actor : str | None
        Who ran it; default: the OS user.

    Returns
    -------
    entry : Entry

    Notes
    -----
    The record lists the input recording (path and SHA-256) and every file in
    ``out_dir`` with its SHA-256; ``model_versions`` holds each step's name and
    version; ``content_hash`` is the SHA-256 of the canonical JSON
    ``{relative output path: sha256}``. If the input was ingested before (a
    ``recording-ingested`` entry with its hash), that entry is the parent.
    """
    import hashlib

    out_dir = Path(out_dir).resolve()
    input_path = Path(input_path).resolve()
    outputs = []
    manifest = {}
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        art = file_artifact(path, "output")
        outputs.append(art)
        manifest[path.relative_to(out_dir).as_posix()] = art["sha256"]
    artifacts = []
    if input_sha256 and input_path.is_file():
        artifacts.append(file_artifact(input_path, "input", sha256=input_sha256))
    artifacts.extend(outputs)
    own = ledger is None
    ledger = Ledger() if own else ledger
    try:
        parents = []
        if input_sha256:
            ingested = ledger.find(kind="recording-ingested", content_hash=input_sha256)
            if ingested:
                parents.append(ingested[-1].leaf_hash.hex())
        rec = make_record(
            "analysis-run",
            content_hash=hashlib.sha256(canonical_json(manifest)).hexdigest(),
            artifacts=artifacts,
            actor=actor,
            parents=parents,
            model_versions={str(s["name"]): str(s["version"]) for s in steps},
            details={"input": str(input_path), "input_sha256": input_sha256, "out_dir": str(out_dir)},
        )
        entry = ledger.append(rec)
    finally:
        if own:
            ledger.close()
    logger.info("ledger: analysis of %s recorded as entry %d", input_path.name, entry.index)
    return entry
