"""``dbrain analyze FILE --out DIR``: the main job."""

from __future__ import annotations

from pathlib import Path

import typer


def _names(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def analyze(
    file: Path = typer.Argument(..., help="Recording to analyse."),
    out: Path = typer.Option(..., "--out", "-o", help="Results folder (created; must not exist or be empty)."),
    only: list[str] = typer.Option(None, "--only", help="Run only these steps (comma-separated or repeated)."),
    skip: list[str] = typer.Option(None, "--skip", help="Leave out these steps."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing results folder."),
    no_ledger: bool = typer.Option(False, "--no-ledger", help="Do not record this analysis in the provenance ledger."),
):
    """Analyse a recording: summary.json, events.tsv, annotations.edf, report.html and report.pdf in DIR."""
    from ..analyze import analyze as run
    from ._progress import progress_bar

    with progress_bar("analysing") as update:
        output = run(file, out, only=_names(only), skip=_names(skip), overwrite=overwrite, on_progress=update, ledger=not no_ledger)
    typer.echo(
        f"{output.out_dir}: {output.summary['n_events']} events, {len(output.summary['steps'])} steps, "
        f"report {output.report_html.name} and {output.report_pdf.name}"
        + (f", ledger entry {output.ledger_entry.index}" if output.ledger_entry is not None else "")
    )


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
