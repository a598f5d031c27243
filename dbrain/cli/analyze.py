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
    no_report: bool = typer.Option(False, "--no-report", help="Write the tables and summary only: no figures, no report."),
    seizure_model: Path = typer.Option(
        None, "--seizure-model", help="Seizure model folder (from 'dbrain train seizures'); default: the shipped model."
    ),
    seizure_sensitivity: str = typer.Option(
        "medium", "--seizure-sensitivity", help="Seizure detection preset: low, medium or high."
    ),
    spike_sensitivity: str = typer.Option("medium", "--spike-sensitivity", help="Spike detection preset: low, medium or high."),
    norms: Path = typer.Option(
        None, "--norms", help="Normative values (from 'dbrain norms build'): adds z-scores to the report and zscores.parquet."
    ),
    age: float = typer.Option(
        None, "--age", help="Age in years for the age-binned norms and the diagnosis screens (default: from the header, if any)."
    ),
    store: Path = typer.Option(
        None, "--store", help="Feature store (from 'dbrain batch' with the diagnosis step): adds similar cases."
    ),
):
    """Analyse a recording: summary.json, events.tsv, annotations.edf, report.html and report.pdf in DIR."""
    from ..analyze import analyze as run
    from ..detect import PRESETS, load_model
    from ..detect.spikes import SENSITIVITY_PRESETS
    from ..utils import _check_option, _check_range
    from ._progress import progress_bar

    _check_option("--seizure-sensitivity", seizure_sensitivity, list(PRESETS))
    _check_option("--spike-sensitivity", spike_sensitivity, list(SENSITIVITY_PRESETS))
    seizures = {"sensitivity": seizure_sensitivity}
    if seizure_model is not None:
        load_model(seizure_model)  # a bad folder fails here, before any work
        seizures["model"] = str(seizure_model)
    # bad norms, age or store fail here, before any work
    params = {"seizures": seizures, "spikes": {"sensitivity": spike_sensitivity}}
    if norms is not None:
        from ..store import read_norms

        read_norms(norms)
        params["norms"] = {"norms": str(norms)}
    if age is not None:
        _check_range("--age", age, 0, 130)
        params.setdefault("norms", {})["age"] = age
        params.setdefault("diagnosis", {})["age"] = age
    if store is not None:
        from ..store import case_table

        if store.is_dir():
            case_table(store)
        params.setdefault("diagnosis", {})["store"] = str(store)
    with progress_bar("analysing") as update:
        output = run(
            file,
            out,
            only=_names(only),
            skip=_names(skip),
            overwrite=overwrite,
            on_progress=update,
            ledger=not no_ledger,
            step_params=params,
            report=not no_report,
        )
    typer.echo(
        f"{output.out_dir}: {output.summary['n_events']} events, {len(output.summary['steps'])} steps, "
        + (f"report {output.report_html.name} and {output.report_pdf.name}" if not no_report else "no report")
        + (f", ledger entry {output.ledger_entry.index}" if output.ledger_entry is not None else "")
    )


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
