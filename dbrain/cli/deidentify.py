"""``dbrain deidentify FILE OUT``: an EDF/BDF copy without patient identifiers."""

from __future__ import annotations

from pathlib import Path

import typer


def deidentify(
    file: Path = typer.Argument(..., help="EDF, EDF+, BDF or BDF+ recording (other formats: 'dbrain convert' first)."),
    out: Path = typer.Argument(..., help="De-identified copy (.edf for EDF input, .bdf for BDF input)."),
    date_shift: int | None = typer.Option(
        None, "--date-shift", metavar="DAYS", help="Shift the start date by DAYS days (may be negative)."
    ),
    remove_date: bool = typer.Option(False, "--remove-date", help="Replace the start date by 01.01.85 (EDF+ 'unknown')."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
):
    """Remove patient and recording identifiers and names in annotations; signals are copied unchanged."""
    from ..deid import deidentify as run
    from ._progress import progress_bar

    options = {"date_shift_days": date_shift, "remove_date": remove_date, "overwrite": overwrite}
    with progress_bar("de-identifying") as update:
        report = run(file, out, on_progress=update, **options)
    typer.echo(report.summary())


def register(app: typer.Typer) -> None:
    app.command("deidentify")(deidentify)
