"""``dbrain ledger …``: append to, show, prove and verify the provenance ledger.

Exit codes: 0 success; 2 bad input (one ``dbrain: …`` line on stderr); 3 for
``verify`` when the ledger, a file it names, a data-centre row it vouches for
or (``--objects``) a stored object was found altered (each problem on stdout,
one summary line on stderr); 1 an internal error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

#: Exit code of ``dbrain ledger verify`` when it found tampering.
EXIT_TAMPERED = 3

ledger_app = typer.Typer(
    name="ledger",
    help="The provenance ledger: a signed, verifiable append-only log of what dbrain and its users did.",
    add_completion=False,
)


@ledger_app.callback(invoke_without_command=True)
def _ledger(ctx: typer.Context):
    """The provenance ledger: a signed, verifiable append-only log of what dbrain and its users did."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)


_DB_HELP = "Ledger database URL or SQLite path (default: $DBRAIN_DATABASE_URL, else $DBRAIN_HOME/dbrain.sqlite)."


def _open(db: str | None):
    from ..ledger import Ledger

    return Ledger(db)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    from ..ledger import LedgerParameterError

    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise LedgerParameterError(f"{option} takes NAME=VALUE, got {value!r}")
        out[key] = val
    return out


@ledger_app.command("append")
def append(
    kind: str = typer.Argument(
        ..., help="Record kind: recording-ingested, analysis-run, annotation-changed, report-signed, consent-recorded."
    ),
    files: list[Path] = typer.Argument(
        None, help="Files the record is about; their SHA-256 is recorded and re-checked by verify."
    ),
    role: str = typer.Option("input", "--role", help="Role of FILES in the record (input, output, report …)."),
    content_hash: str = typer.Option(
        None, "--content-hash", help="SHA-256 (hex) of what the record is about; default: the hash of the only file."
    ),
    actor: str = typer.Option(None, "--actor", help="Who did it (default: the OS user)."),
    parent: list[str] = typer.Option(None, "--parent", help="Leaf hash of an earlier entry this one derives from (repeatable)."),
    model: list[str] = typer.Option(None, "--model", help="NAME=VERSION of a model or analysis step (repeatable)."),
    detail: list[str] = typer.Option(None, "--detail", help="KEY=VALUE stored in the record's details (repeatable)."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """Append one record and sign a new tree head."""
    with _open(db) as ledger:
        entry = ledger.record(
            kind,
            files or [],
            role=role,
            content_hash=content_hash.lower() if content_hash else None,
            actor=actor,
            parents=[p.lower() for p in parent or []],
            model_versions=_pairs(model, "--model"),
            details=_pairs(detail, "--detail"),
        )
        size = ledger.head().tree_size
    state = "appended as" if entry.appended else "already in the ledger as"
    typer.echo(f"{state} entry {entry.index} (leaf {entry.leaf_hash.hex()}), tree size {size}")


@ledger_app.command("show")
def show(
    index: int = typer.Argument(None, help="Show this entry in full (default: list the latest entries)."),
    last: int = typer.Option(20, "--last", "-n", min=0, help="How many of the latest entries to list."),
    kind: str = typer.Option(None, "--kind", help="List only entries of this kind."),
    content_hash: str = typer.Option(None, "--content-hash", help="List only entries about this SHA-256."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """List entries, or show one entry with its record and leaf hash."""
    with _open(db) as ledger:
        if index is not None:
            entry = ledger.entry(index)
            typer.echo(
                json.dumps(
                    entry.to_dict() if as_json else {"index": entry.index, "leaf_hash": entry.leaf_hash.hex(), **entry.record},
                    indent=2,
                )
            )
            return
        n = len(ledger)
        if kind or content_hash:
            entries = ledger.find(kind=kind, content_hash=content_hash.lower() if content_hash else None)[-last:] if last else []
        else:
            entries = ledger.entries(max(0, n - last), n) if last else []
        head = ledger.head() if n else None
        if as_json:
            out = {
                "url": ledger.url,
                "origin": ledger.origin,
                "size": n,
                "head": head.to_dict() if head else None,
                "entries": [{"index": e.index, "leaf_hash": e.leaf_hash.hex(), **e.record} for e in entries],
            }
            typer.echo(json.dumps(out, indent=2))
            return
        typer.echo(f"{ledger.origin}  {n} entries  ({ledger.url})")
        if head:
            typer.echo(f"latest signed head: size {head.tree_size}, root {head.root_hash.hex()}, key {head.key_id}")
        for e in entries:
            rec = e.record
            typer.echo(
                f"{e.index:>7}  {rec['time'][:19]}Z  {rec['kind']:<19}  {rec['actor']:<12}  {rec['content_hash'][:16]}  {len(rec['artifacts'])} files"
            )


@ledger_app.command("prove")
def prove(
    index: int = typer.Argument(None, help="Entry to prove: prints a receipt (entry, inclusion proof, signed checkpoint, keys)."),
    consistency: int = typer.Option(
        None, "--consistency", help="Instead, prove the head of this size is a prefix of the later head."
    ),
    size: int = typer.Option(None, "--size", help="Tree size of the signed head to prove against (default: the latest)."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """Print an inclusion proof (receipt) or a consistency proof as JSON."""
    from ..ledger import LedgerParameterError

    if (index is None) == (consistency is None):
        raise LedgerParameterError("give either an entry INDEX or --consistency OLD_SIZE")
    with _open(db) as ledger:
        if index is not None:
            out = ledger.receipt(index, size)
        else:
            proof = ledger.consistency_proof(consistency, size)
            out = {"consistency_proof": proof.to_dict(), "checkpoint": ledger.checkpoint(proof.new_size)}
    typer.echo(json.dumps(out, indent=2))


@ledger_app.command("verify")
def verify(
    no_files: bool = typer.Option(False, "--no-files", help="Check only the log, do not re-hash the files it names."),
    checkpoint: list[Path] = typer.Option(
        None, "--checkpoint", help="A checkpoint saved earlier (e.g. by a witness): the log must still contain it (repeatable)."
    ),
    trusted_key: list[str] = typer.Option(
        None, "--trusted-key", help="Verifier key (NAME+HASH+KEY); every head must be signed by one of these (repeatable)."
    ),
    no_rows: bool = typer.Option(False, "--no-rows", help="Do not check the data centre's database rows against the ledger."),
    objects: bool = typer.Option(
        False,
        "--objects",
        help="Also re-hash every object of the data centre's object store (the scheduled check; quarantines altered objects).",
    ),
    home: Path = typer.Option(
        None, "--home", help="The data centre's folder holding objects/ (default: $DBRAIN_HOME); for --objects."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """Re-hash every entry, node and artifact; check every head, signature and key; check the data centre's rows. Exit 3 if anything was altered."""
    from ..ledger import LedgerParameterError

    points = []
    for path in checkpoint or []:
        try:
            points.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerParameterError(f"cannot read checkpoint '{path}': {getattr(exc, 'strerror', None) or exc}") from exc
    with _open(db) as ledger:
        report = ledger.verify(check_files=not no_files, checkpoints=points, trusted_keys=trusted_key or None)
        extra = _check_data_centre(ledger, rows=not no_rows, objects=objects, home=home)
    report.problems.extend(extra.pop("problems"))
    if as_json:
        typer.echo(json.dumps(report.to_dict() | extra, indent=2))
    else:
        for problem in report.problems:
            typer.echo(f"ALTERED {problem}")
        if report.ok:
            typer.echo(report.summary())
        if extra:
            typer.echo("data centre: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in extra.items()))
    if not report.ok:
        sys.stderr.write(f"dbrain: {report.summary()}\n")
        raise typer.Exit(EXIT_TAMPERED)


def _check_data_centre(ledger, *, rows: bool, objects: bool, home: Path | None) -> dict:
    """Rows (and objects) of the data centre sharing the ledger's database, checked against it."""
    out: dict = {"problems": []}
    if not rows and not objects:
        return out
    import sqlalchemy as sa

    from ..ledger import Problem

    url = ledger.url
    if "://" not in url or url.startswith("memory://"):
        return out
    from ..server.db import make_engine

    engine = make_engine(url, pool_size=2)
    try:
        if "recordings" not in sa.inspect(engine).get_table_names():
            return out  # a ledger of its own, no data centre beside it
        if rows:
            from ..server.provenance import verify_rows

            check = verify_rows(ledger, engine)
            out["problems"].extend(check.problems)
            out |= {"rows_checked": check.n_rows, "rows_vouched": check.n_vouched, "audit_rows_not_yet_sealed": check.n_pending}
        if objects:
            from ..server.db import Analysis, Recording
            from ..server.settings import Settings
            from ..server.storage import ObjectStore

            store = ObjectStore(Settings(db_url=url, home=home).home)
            wanted: dict[str, str] = {}
            with engine.connect() as conn:
                for rid, sha in conn.execute(sa.select(Recording.id, Recording.sha256)):
                    wanted.setdefault(sha, f"recording {rid}")
                for aid, results in conn.execute(sa.select(Analysis.id, Analysis.results)):
                    for name, entry in (results or {}).items():
                        wanted.setdefault(entry["sha256"], f"analysis {aid} file {name}")
            for sha, owner in sorted(wanted.items(), key=lambda kv: kv[1]):
                problem = store.check(sha)
                if problem:
                    out["problems"].append(Problem(f"object {sha[:16]} ({owner})", problem))
            out["objects_rehashed"] = len(wanted)
    finally:
        engine.dispose()
    return out


@ledger_app.command("seal")
def seal(
    baseline: bool = typer.Option(
        False,
        "--baseline",
        help="Also vouch for every row the ledger does not know yet (once, after upgrading a data centre from before row sealing).",
    ),
    actor: str = typer.Option(None, "--actor", help="Who sealed (default: the OS user)."),
    home: Path = typer.Option(
        None, "--home", help="The data centre's folder (its keys/ledger signing keys; default: $DBRAIN_HOME)."
    ),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """Seal the data centre's audit rows written since the last seal (the server does this as it runs)."""
    from ..ledger.records import default_actor
    from ..server import provenance
    from ..server.db import make_engine
    from ..server.settings import Settings

    settings = Settings(db_url=db, home=home)
    engine = make_engine(settings.db_url, pool_size=2)
    try:
        n_audit = provenance.seal_audit(settings, engine, settle=0.0)
        n_base = provenance.seal_baseline(settings, engine, actor=actor or default_actor()) if baseline else 0
    finally:
        engine.dispose()
        provenance.close_ledgers()
    typer.echo(f"sealed {n_audit} audit rows" + (f"; vouched for {n_base} rows the ledger did not know" if baseline else ""))


@ledger_app.command("export-checkpoint")
def export_checkpoint(
    out: Path = typer.Option(None, "--out", "-o", help="Write the signed checkpoint here (default: stdout)."),
    size: int = typer.Option(None, "--size", help="Tree size of the head to export (default: the latest)."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """Export a signed checkpoint (C2SP signed note) for an outside witness."""
    from ..utils._atomic import atomic_file

    with _open(db) as ledger:
        note = ledger.checkpoint(size)
    if out is None:
        typer.echo(note, nl=False)
        return
    with atomic_file(out) as tmp:
        tmp.write_text(note, encoding="utf-8")
    typer.echo(f"{out}: checkpoint of size {note.splitlines()[1]}")


@ledger_app.command("keys")
def keys(db: str = typer.Option(None, "--db", help=_DB_HELP)):
    """List the signing keys as verifier keys (give these to witnesses)."""
    with _open(db) as ledger:
        current = ledger.keys.current_id()
        with ledger.storage.read() as r:
            rows = r.keys()
        from ..ledger import VerifierKey

        for row in rows:
            state = "current" if row.key_id == current else (f"retired {row.retired}" if row.retired else "not current")
            typer.echo(f"{row.key_id}  {state:<28}  {VerifierKey(ledger.origin, row.public_key)}")


@ledger_app.command("rotate-key")
def rotate_key(
    destroy_old: bool = typer.Option(
        False, "--destroy-old", help="Delete the old private key file after it endorsed the new key."
    ),
    actor: str = typer.Option(None, "--actor", help="Who rotated the key (default: the OS user)."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
):
    """Make a new signing key; the old key endorses it in a key-rotated entry."""
    with _open(db) as ledger:
        entry = ledger.rotate_key(destroy_old=destroy_old, actor=actor)
    det = entry.record["details"]
    typer.echo(f"new signing key {det['new_key_id']} (entry {entry.index}); old key {det.get('old_key_id', 'none')} retired")


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
