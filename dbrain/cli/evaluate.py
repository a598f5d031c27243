"""``dbrain evaluate --ref REF --hyp HYP``: SzCORE scoring of seizure detections."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

_COLUMNS = (
    ("subject", "subject", 14),
    ("recs", "n_recordings", 5),
    ("hours", "hours", 7),
    ("ref", "n_ref", 7),
    ("hyp", "n_hyp", 7),
    ("TP", "tp", 7),
    ("FP", "fp", 7),
    ("sens", "sensitivity", 6),
    ("prec", "precision", 6),
    ("F1", "f1", 6),
    ("FP/24h", "fp_per_24h", 9),
)


def _fmt(value, key: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key in ("sensitivity", "precision", "f1"):
        return f"{value:.3f}"
    if key in ("fp_per_24h", "hours"):
        return f"{value:.2f}"
    return f"{int(value)}"


def _table(result, scoring: str) -> list[str]:
    """Plain fixed-width lines (readable in any terminal and in logs)."""
    subjects = result.subjects[result.subjects["scoring"] == scoring]
    summary = result.summary.loc[scoring]
    width = max([len("subject"), len("mean ± std")] + [len(s) for s in subjects["subject"]])
    widths = [width if key == "subject" else w for _, key, w in _COLUMNS]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    unit = "events" if scoring == "event" else "samples"
    lines = [f"{scoring.capitalize()} scoring (counts in {unit})", line([name for name, _, _ in _COLUMNS])]
    for row in subjects.to_dict(orient="records"):
        row["hours"] = row["duration"] / 3600
        lines.append(line([_fmt(row[key], key) for _, key, _ in _COLUMNS]))
    mean = [_fmt(summary[key], key) if key in ("sensitivity", "precision", "f1", "fp_per_24h") else "" for _, key, _ in _COLUMNS]
    std = [
        _fmt(summary[f"{key}_std"], key) if key in ("sensitivity", "precision", "f1", "fp_per_24h") else ""
        for _, key, _ in _COLUMNS
    ]
    mean[0], std[0] = f"mean of {int(summary['n_subjects'])}", "± std"
    lines += [line(mean), line(std)]
    return lines


def evaluate(
    ref: Path = typer.Option(..., "--ref", help="Reference events TSV, or a folder of them (SzCORE/BIDS layout)."),
    hyp: Path = typer.Option(..., "--hyp", help="Detected events TSV, or a folder of them with the same file names."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    out: Path = typer.Option(None, "--out", help="Also write per-recording and per-subject scores to this .csv file."),
    missing_as_empty: bool = typer.Option(
        False, "--missing-as-empty", help="Score references without a hypothesis file as 'no detection' (as SzCORE does)."
    ),
):
    """Score seizure detections against reference annotations (SzCORE event and sample scoring)."""
    import pandas as pd

    from ..errors import ParameterError
    from ..evaluate import evaluate as run_evaluation
    from ..utils._atomic import atomic_file

    if out is not None and out.suffix.lower() != ".csv":
        raise ParameterError(f"--out must be a .csv file, got '{out.name}'")
    result = run_evaluation(ref, hyp, missing="empty" if missing_as_empty else "error")
    if out is not None:
        table = pd.concat(
            [result.recordings.assign(level="recording"), result.subjects.assign(level="subject")], ignore_index=True
        )
        first = ["level", "scoring", "subject", "recording", "n_recordings"]
        table = table[first + [c for c in table.columns if c not in first]]
        with atomic_file(out) as tmp:
            table.to_csv(tmp, index=False, na_rep="n/a", lineterminator="\n")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    n_rec = len(result.recordings) // 2
    typer.echo(f"SzCORE evaluation of {n_rec} recording(s), {int(result.summary.loc['event', 'n_subjects'])} subject(s)")
    typer.echo("  reference:  " + str(ref))
    typer.echo("  hypothesis: " + str(hyp))
    typer.echo("  mean over subjects of per-subject scores (counts summed over each subject's recordings)")
    for scoring in ("event", "sample"):
        typer.echo("")
        for text in _table(result, scoring):
            typer.echo(text)
    if out is not None:
        typer.echo("")
        typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
