"""``dbrain info FILE``: header, channel mapping, duration, rates, gaps, annotations."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def info(
    file: Path = typer.Argument(..., help="Recording (EDF/BDF, BrainVision, EEGLAB, FIF, Nihon Kohden, …) or BIDS dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
):
    """Show what a recording holds: format, start, duration, rates, channels, gaps, annotations."""
    from ..io import read_recording

    raw, rec = read_recording(file)
    if as_json:
        typer.echo(json.dumps(rec.to_dict(), indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    start = rec.start_time.strftime("%Y-%m-%d %H:%M:%S") if rec.start_time else "not recorded"
    console.print(f"[bold]{file}[/bold]")
    console.print(f"  format          {rec.format}")
    for key, value in rec.header.items():
        console.print(f"  {key.replace('_', ' '):<15} {value}")
    console.print(f"  start           {start}")
    console.print(f"  duration        {rec.duration:.3f} s")
    rates = sorted(set(rec.sampling_rates.values()))
    rate_text = f"{rec.sfreq:g} Hz" + (
        f" (original rates: {', '.join(f'{r:g}' for r in rates)} Hz)" if rates != [rec.sfreq] else ""
    )
    console.print(f"  sampling        {rate_text}")
    types = rec.channels["type"].value_counts()
    console.print(f"  channels        {rec.n_channels} ({', '.join(f'{n} {t}' for t, n in types.items())})")
    gaps = rec.discontinuities
    console.print(f"  gaps            {len(gaps)}" + (f" ({sum(d for _, d in gaps):.3f} s missing)" if gaps else ""))
    for onset, duration in gaps[:10]:
        console.print(f"                  at {onset:.3f} s for {duration:.3f} s")
    console.print(f"  annotations     {rec.n_annotations}")
    table = Table("label in file", "name", "type", "reference", "rate (Hz)", box=None, pad_edge=False)
    for row in rec.channels.itertuples(index=False):
        name = row.name if row.recognised else f"{row.name} (unrecognised)"
        table.add_row(row.original, name, row.type, row.reference, f"{row.sfreq:g}")
    console.print(table)
    for message in rec.warnings[:5]:
        console.print(f"  note: {message}")


def register(app: typer.Typer) -> None:
    app.command("info")(info)
