"""``dbrain convert FILE OUT.edf``: EDF+ from any readable format."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ParameterError


def convert(
    file: Path = typer.Argument(..., help="Recording in any format dbrain reads."),
    out: Path = typer.Argument(..., help="Output EDF+ file (.edf)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
):
    """Convert a recording to EDF+ (16 bit, annotations included)."""
    from ..io import read_recording, write_edf
    from ._progress import progress_bar

    if out.suffix.lower() != ".edf":
        raise ParameterError(f"output must be an .edf file, got '{out.name}'")
    if out.exists() and not overwrite:
        raise ParameterError(f"'{out}' exists (use --overwrite to replace it)")
    if out.exists() and file.exists() and out.resolve() == file.resolve():
        raise ParameterError("output would overwrite the input")
    raw, info = read_recording(file)
    with progress_bar("converting") as update:
        write_edf(raw, out, overwrite=overwrite, on_progress=update)
    typer.echo(f"{out}: {info.n_channels} channels, {info.duration:.1f} s, {len(raw.annotations)} annotations")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)
