"""What a batch runs over: a BIDS dataset, a folder of recordings or a manifest CSV."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import ParameterError, RecordingError
from ..io import list_recordings

#: Manifest columns with a meaning of their own; any other column is kept as metadata.
MANIFEST_COLUMNS = ("path", "subject", "dataset")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _partition_value(value) -> str:
    """A dataset or subject name usable as a Hive partition folder (``dataset=<value>``)."""
    text = _SAFE.sub("_", str(value).strip()).strip("._")
    return text or "unknown"


@dataclass
class BatchInput:
    """One recording of a batch.

    Attributes
    ----------
    path : str
        The recording (a file, or a ``.mff`` folder).
    dataset : str
        Dataset name (a partition of the feature store).
    subject : str
        Subject name (a partition of the feature store).
    meta : dict
        Further manifest or ``participants.tsv`` columns (``age``, ``sex``, ``group`` …).
    """

    path: str
    dataset: str
    subject: str
    meta: dict = field(default_factory=dict)


def _bids_subject(path: Path, root: Path) -> str | None:
    for part in path.relative_to(root).parts:
        if part.startswith("sub-"):
            return part[4:]
    return None


def _participants(root: Path) -> dict[str, dict]:
    tsv = root / "participants.tsv"
    if not tsv.is_file():
        return {}
    table = pd.read_csv(tsv, sep="\t", dtype=str, na_values=["n/a"], keep_default_na=False)
    if "participant_id" not in table:
        return {}
    out = {}
    for row in table.to_dict("records"):
        pid = str(row.pop("participant_id"))
        out[pid.removeprefix("sub-")] = {k: v for k, v in row.items() if isinstance(v, str) and v != ""}
    return out


def _from_manifest(csv: Path) -> list[BatchInput]:
    try:
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read manifest '{csv}': {exc}") from exc
    if "path" not in table.columns:
        raise ParameterError(f"manifest '{csv}' has no 'path' column (columns: {', '.join(table.columns) or 'none'})")
    inputs = []
    for row in table.to_dict("records"):
        raw_path = row.pop("path").strip()
        if not raw_path:
            continue
        path = Path(raw_path).expanduser()
        if not path.is_absolute():
            path = csv.parent / path
        subject = row.pop("subject", "") or Path(raw_path).stem
        dataset = row.pop("dataset", "") or csv.stem
        meta = {k: v for k, v in row.items() if v != ""}
        inputs.append(BatchInput(str(path.resolve()), _partition_value(dataset), _partition_value(subject), meta))
    return inputs


def collect_inputs(data: str | os.PathLike) -> list[BatchInput]:
    """List the recordings of a batch.

    Parameters
    ----------
    data : path-like
        A BIDS dataset (a folder with ``dataset_description.json``; subject
        from ``sub-<label>``, metadata from ``participants.tsv``), any folder
        (searched recursively; dataset = folder name, subject = file stem),
        or a manifest ``.csv`` with a ``path`` column and optional
        ``subject``, ``dataset`` and further columns (``age``, ``group`` …)
        kept as metadata. Relative manifest paths are relative to the CSV.

    Returns
    -------
    inputs : list of BatchInput
        In a stable order, without duplicate paths.
    """
    data = Path(data).expanduser()
    if data.is_file() and data.suffix.lower() == ".csv":
        inputs = _from_manifest(data)
    elif data.is_dir():
        root = data.resolve()
        bids = (root / "dataset_description.json").is_file()
        participants = _participants(root) if bids else {}
        inputs = []
        for path in list_recordings(root):
            subject = (_bids_subject(path, root) if bids else None) or path.name.split(".")[0]
            meta = dict(participants.get(subject, {}))
            inputs.append(BatchInput(str(path.resolve()), _partition_value(root.name), _partition_value(subject), meta))
    elif data.exists():
        raise ParameterError(f"batch input '{data}' must be a folder, a BIDS dataset or a manifest .csv")
    else:
        raise RecordingError(f"batch input '{data}' does not exist")
    seen = set()
    unique = []
    for item in inputs:
        if item.path not in seen:
            seen.add(item.path)
            unique.append(item)
    if not unique:
        raise RecordingError(f"no recordings found in '{data}'")
    return unique
