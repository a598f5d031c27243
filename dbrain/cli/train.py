"""``dbrain train seizures DATA --out MODEL_DIR``: retrain the seizure detector on a BIDS dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import OutputError

train_app = typer.Typer(name="train", help="Train detectors on your own labelled recordings.", no_args_is_help=True)


@train_app.command("seizures")
def seizures(
    data: Path = typer.Argument(..., help="BIDS dataset in the SzCORE layout (sub-*/ses-*/eeg/*_eeg.edf + *_events.tsv)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Model folder to write (model.txt, model.json, metrics.json, MODEL_CARD.md)."
    ),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds, grouped by subject."),
    rounds: int = typer.Option(300, "--rounds", help="LightGBM boosting rounds."),
    max_background: int = typer.Option(3000, "--max-background", help="Non-seizure windows kept per recording."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the files of an existing model folder."),
):
    """Train a seizure model; use it with 'dbrain analyze --seizure-model MODEL_DIR'."""
    from ..detect import train_seizure_model
    from ._progress import progress_bar

    if out.exists() and not out.is_dir():
        raise OutputError(f"'{out}' exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"'{out}' is not empty (use --overwrite to replace the model in it)")
    with progress_bar("training") as update:
        metrics = train_seizure_model(
            data, out, folds=folds, n_estimators=rounds, max_background=max_background, random_state=seed, on_progress=update
        )
    cv = metrics["cross_validation"]
    line = f"{out}: trained on {metrics['recordings']} recordings, {metrics['subjects']} subjects, {metrics['seizures']} seizures"
    if cv is not None:
        med = cv["presets"]["medium"]
        sens = "n/a" if med["sensitivity"] is None else f"{med['sensitivity']:.2f}"
        line += f"; {cv['folds']}-fold subject-grouped CV at medium: sensitivity {sens}, {med['fp_per_24h']:.2f} FP/24 h"
    typer.echo(line)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
