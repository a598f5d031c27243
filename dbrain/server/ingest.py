"""Ingest: validate an uploaded recording with the core, de-identify it, store it.

Only EDF/EDF+/BDF/BDF+ are accepted. The core validates the upload
(:func:`dbrain.io.read_recording`, whose one-line errors the API returns as
422) and de-identifies it (:func:`dbrain.deid.deidentify`); the stored object
is the de-identified copy, and the original upload is deleted. What the
header said about the patient (code, name, birth date, sex) goes into
``patient_identities``, which only clinicians of the same site can read;
everyone else sees the patient's random pseudonym. Recordings of the same
site with the same patient code join the same pseudonymous patient.

Other formats are refused with a clear message: converting them here
(``dbrain convert``) would change the samples (16-bit EDF) and their headers
hold identity in format-specific places that :mod:`dbrain.deid` does not
scrub yet, so conversion stays a deliberate step of the uploader.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import UnsupportedFormatError
from .auth import Principal, audit
from .db import Patient, PatientIdentity, Recording, write_lock
from .settings import Settings
from .storage import ObjectStore

ACCEPTED = (".edf", ".bdf", ".rec")


def safe_filename(name: str) -> str:
    """Return a file name safe to create in a scratch folder, keeping the extension.

    Parameters
    ----------
    name : str
        The client's file name.

    Returns
    -------
    name : str
    """
    base = Path(name.replace("\\", "/")).name or "upload"
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120]
    return base if base.strip(".") else "upload"


def check_extension(filename: str) -> None:
    """Refuse file names that are not EDF/BDF.

    Parameters
    ----------
    filename : str

    Raises
    ------
    dbrain.errors.UnsupportedFormatError
    """
    ext = Path(filename).suffix.lower()
    if ext not in ACCEPTED:
        raise UnsupportedFormatError(
            f"cannot ingest '{safe_filename(filename)}': the data centre stores de-identified EDF/BDF only; "
            "convert the recording to EDF first with 'dbrain convert FILE OUT.edf'"
        )


def _identity(patient_field: str, plus: bool) -> dict:
    """Split an EDF+ patient field (``code sex birthdate name …``) into its subfields."""
    field = patient_field.strip()
    out = {"header_patient": field[:200] or None, "patient_code": None, "sex": None, "birthdate": None, "name": None}
    parts = field.split()
    if plus and len(parts) >= 4:

        def val(v):
            return None if v.upper() == "X" else v.replace("_", " ")

        out.update(patient_code=val(parts[0]), sex=val(parts[1]), birthdate=val(parts[2]), name=val(" ".join(parts[3:])))
    elif field and field.upper() not in ("X", "X X X X"):
        out["patient_code"] = field  # plain EDF: the free-text field as a whole identifies the patient
    return out


def ingest_file(
    db: Session, store: ObjectStore, settings: Settings, who: Principal, upload: Path, original_sha256: str, filename: str
) -> Recording:
    """Validate, de-identify and store one uploaded EDF/BDF file (the caller commits).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    store : ObjectStore
    settings : Settings
    who : Principal
        The uploader; the recording belongs to its site.
    upload : Path
        The uploaded bytes, in a scratch folder, named like the client's file.
    original_sha256 : str
        SHA-256 of the upload, computed while it streamed in.
    filename : str
        The client's file name (identity-restricted: it may name the patient).

    Returns
    -------
    recording : Recording

    Raises
    ------
    dbrain.errors.RecordingError
        The core's error for a damaged or unsupported file; nothing is stored.
    """
    from ..deid import deidentify
    from ..io import read_edf_header, read_recording

    check_extension(filename)
    header = read_edf_header(upload)
    read_recording(upload)  # the core's full validation: header, both ends of the data, annotations
    deid = upload.with_name(f"deidentified{'.bdf' if header.bdf else '.edf'}")
    deidentify(upload, deid, remove_date=settings.deid_remove_date)
    raw, info = read_recording(deid)
    channels = [{"name": r.name, "type": r.type, "sfreq": float(r.sfreq)} for r in info.channels.itertuples(index=False)]
    identity = _identity(header.patient, header.plus)
    write_lock(db)  # the database part starts only now, after the slow file work

    patient = None
    if identity["patient_code"]:
        row = db.scalar(
            select(PatientIdentity).where(
                PatientIdentity.site_id == who.site_id, PatientIdentity.patient_code == identity["patient_code"]
            )
        )
        patient = db.get(Patient, row.patient_id) if row is not None else None
    if patient is None:
        patient = Patient(site_id=who.site_id, pseudonym=f"P-{secrets.token_hex(5).upper()}")
        db.add(patient)
        db.flush()
        db.add(PatientIdentity(patient_id=patient.id, site_id=who.site_id, **identity))

    sha, size = store.put_file(deid, move=True)
    upload.unlink(missing_ok=True)
    rec = Recording(
        site_id=who.site_id,
        patient_id=patient.id,
        uploaded_by=who.user.id,
        original_filename=filename[:500],
        header_recording=header.recording.strip()[:200] or None,
        original_sha256=original_sha256,
        sha256=sha,
        size=size,
        format=info.format,
        n_channels=int(len(info.channels)),
        sfreq=float(info.sfreq),
        duration=float(info.duration),
        start_time=info.start_time.isoformat() if info.start_time else None,
        channels=channels,
    )
    db.add(rec)
    db.flush()
    audit(
        db,
        who,
        "recording.upload",
        object_type="recording",
        object_id=rec.id,
        patient_id=patient.id,
        detail={"sha256": sha, "size": size},
    )
    return rec


def ledger_ingest(settings: Settings, store: ObjectStore, sha: str, who: Principal, rec_id: int) -> int | None:
    """Append a ``recording-ingested`` entry for a committed recording (outside any transaction).

    Parameters
    ----------
    settings : Settings
    store : ObjectStore
    sha : str
        The stored (de-identified) object.
    who : Principal
        The uploader.
    rec_id : int
        The recording's id.

    Returns
    -------
    index : int | None
        The ledger entry, or None when the append failed (logged).
    """
    import logging

    from ..ledger import Ledger

    try:
        with Ledger(settings.db_url, keys=settings.home / "keys" / "ledger") as ledger:
            entry = ledger.record(
                "recording-ingested",
                [store.path(sha)],
                actor=f"user:{who.user.id}",
                details={"recording_id": rec_id, "deidentified": True},
            )
            return entry.index
    except Exception as exc:  # noqa: BLE001 - provenance failure is logged, not fatal to the upload
        logging.getLogger("dbrain.server").error("ledger append failed for recording %d: %s", rec_id, exc)
        return None


def discard(folder: Path) -> None:
    """Remove a scratch folder and everything in it.

    Parameters
    ----------
    folder : Path
    """
    shutil.rmtree(folder, ignore_errors=True)
