"""``dbrain batch DATA --out STORE``: analyse many recordings on Dask into a Parquet feature store."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer


def _names(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@contextlib.contextmanager
def _batch_progress():
    """Yield ``on_result(row, done, total)``: a bar with recordings/min and time left, on a terminal only."""
    if not sys.stderr.isatty():
        yield lambda row, done, total: None
        return
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    started = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True, refresh_per_second=2) as bar:
        task = bar.add_task("batch", total=None, rate="")
        computed = [0]

        def update(row: dict, done: int, total: int):
            if row.get("action") != "skipped":
                computed[0] += 1
            minutes = (time.monotonic() - started) / 60
            rate = f"{computed[0] / minutes:.1f} rec/min" if minutes > 0 and computed[0] else ""
            bar.update(task, total=total, completed=done, rate=rate)

        yield update


def batch(
    data: Path = typer.Argument(..., help="BIDS dataset, folder of recordings or manifest CSV (path,subject,dataset,…)."),
    out: Path = typer.Option(..., "--out", "-o", help="Feature store folder (created; reruns add to it)."),
    steps: list[str] = typer.Option(None, "--steps", help="Analysis steps (comma-separated or repeated); default: all."),
    workers: int = typer.Option(None, "--n-jobs", "--workers", "-j", help="Local worker processes (default: CPU count)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Existing Dask scheduler, e.g. tcp://HOST:8786."),
    memory_limit: str = typer.Option("auto", "--memory-limit", help="Memory per local worker, e.g. 4GB (auto: RAM / workers)."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Recompute recordings stored as errors."),
    timeout: str = typer.Option(
        None, "--timeout", help="Longest one recording's analysis may take, e.g. 30min or 2h (over it: an error row)."
    ),
    no_ledger: bool = typer.Option(False, "--no-ledger", help="Do not append results to the provenance ledger."),
    report: bool = typer.Option(False, "--report", help="Also write each recording's report.html and report.pdf."),
    seizure_sensitivity: str = typer.Option(None, "--seizure-sensitivity", help="Seizure preset: low, medium or high."),
    spike_sensitivity: str = typer.Option(None, "--spike-sensitivity", help="Spike preset: low, medium or high."),
):
    """Analyse many recordings (one Dask task each) into a Parquet feature store; reruns skip finished work."""
    from ..batch import run_batch
    from ..errors import ParameterError

    if workers is not None and scheduler is not None:
        raise ParameterError("give --workers or --scheduler, not both")
    from ..simulate import parse_duration

    seconds = None if timeout is None else parse_duration(timeout)
    params = {}
    if seizure_sensitivity is not None:
        params["seizures"] = {"sensitivity": seizure_sensitivity}
    if spike_sensitivity is not None:
        params["spikes"] = {"sensitivity": spike_sensitivity}
    with _batch_progress() as update:
        result = run_batch(
            data,
            out,
            steps=_names(steps) or None,
            step_params=params or None,
            n_jobs=workers,
            scheduler=scheduler,
            memory_limit=memory_limit,
            retry_errors=retry_errors,
            timeout=seconds,
            ledger=False if no_ledger else None,
            report=report,
            on_result=update,
        )
    rows = result.rows
    for row in rows[rows["status"] == "error"].itertuples():
        typer.echo(f"error: {row.path}: {row.error}", err=True)
    minutes = result.seconds / 60
    rate = f", {result.n_computed / minutes:.1f} recordings/min" if result.n_computed and minutes > 0 else ""
    typer.echo(
        f"{result.store}: {len(rows)} recordings, {result.n_computed} computed, {result.n_skipped} skipped, "
        f"{result.n_errors} errors in {result.seconds:.1f} s{rate}"
    )


def query(
    sql: str = typer.Argument(..., help="DuckDB SQL over the views recordings, events, features, qeeg, …"),
    store: Path = typer.Option(..., "--store", "-s", help="Feature store written by 'dbrain batch'."),
    csv: Path = typer.Option(None, "--csv", help="Write the result as CSV to this file."),
    parquet: Path = typer.Option(None, "--parquet", help="Write the result as Parquet to this file."),
    max_rows: int = typer.Option(50, "--max-rows", help="Rows shown in the terminal table."),
):
    """Run SQL over the feature store (DuckDB); print a table or write CSV/Parquet."""
    from ..store import query as run_query
    from ..utils._atomic import atomic_file

    table = run_query(sql, store)
    if csv is not None:
        with atomic_file(csv) as tmp:
            table.to_csv(tmp, index=False)
    if parquet is not None:
        with atomic_file(parquet) as tmp:
            table.to_parquet(tmp, index=False)
    if csv is not None or parquet is not None:
        typer.echo(f"{len(table)} rows written to {', '.join(str(p) for p in (csv, parquet) if p is not None)}")
        return
    import pandas as pd

    with pd.option_context("display.max_rows", max_rows, "display.max_columns", 50, "display.width", 200):
        typer.echo(
            table.to_string(index=False, max_rows=max_rows) if len(table) else f"(no rows; columns: {', '.join(table.columns)})"
        )


norms_app = typer.Typer(help="Normative values of qEEG and network features from a normal cohort.", no_args_is_help=True)


@norms_app.command("build")
def norms_build(
    store: Path = typer.Argument(..., help="Feature store written by 'dbrain batch'."),
    out: Path = typer.Option(..., "--out", "-o", help="Norms file to write (.parquet)."),
    group: str = typer.Option("normal", "--group", help="Group label of the normal cohort (manifest/participants.tsv 'group')."),
    age_bins: str = typer.Option(
        ",".join(str(a) for a in (0, 1, 3, 6, 12, 18, 30, 45, 60, 75, 120)), "--age-bins", help="Age-bin edges in years."
    ),
    min_count: int = typer.Option(2, "--min-count", help="Fewest recordings for a feature and bin."),
):
    """Age-binned means and SDs of qEEG and network features over the cohort marked GROUP."""
    from ..errors import ParameterError
    from ..store import build_norms
    from ..utils._atomic import atomic_file

    try:
        edges = [float(a) for a in age_bins.split(",") if a.strip()]
    except ValueError as exc:
        raise ParameterError(f"--age-bins must be comma-separated numbers, got {age_bins!r}") from exc
    norms = build_norms(store, group=group, age_bins=edges, min_count=min_count)
    with atomic_file(out) as tmp:
        norms.to_parquet(tmp, index=False)
    bins = norms["age_min"].dropna().nunique()
    typer.echo(f"{out}: {len(norms)} norms ({norms['feature'].nunique()} features, {bins} age bins besides all ages)")


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
    app.command("query")(query)
    app.add_typer(norms_app, name="norms")
