"""``dbrain train seizures|spikes|dementia|epilepsy|adhd DATA --out MODEL_DIR``: retrain dbrain's models on your data."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import OutputError

train_app = typer.Typer(name="train", help="Train detectors on your own labelled recordings.", no_args_is_help=True)


def _check_model_folder(out: Path, overwrite: bool) -> None:
    """Refuse, before any training, a model folder that is a file or that holds files (unless ``overwrite``)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"'{out}' exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"'{out}' is not empty (use --overwrite to replace the model in it)")


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

    _check_model_folder(out, overwrite)
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


@train_app.command("spikes")
def spikes(
    data: Path = typer.Argument(
        ..., help="Folder of recordings, each with X_events.tsv beside it ('spike' rows; none = normal EEG)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (model.txt, model.json)."),
    simulated: int = typer.Option(24, "--simulated", help="Simulated 10-min recordings with spikes to add (0: none)."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds, grouped by person."),
    rounds: int = typer.Option(200, "--rounds", help="LightGBM boosting rounds."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the files of an existing model folder."),
):
    """Train the spike detector's second stage; use it with SpikeDetector(model=MODEL_DIR)."""
    from ..detect.spikes import train_spike_model
    from ._progress import progress_bar

    _check_model_folder(out, overwrite)
    with progress_bar("training") as update:
        meta = train_spike_model(data, out, simulated=simulated, folds=folds, rounds=rounds, seed=seed, on_progress=update)
    med = meta["out_of_fold"]["medium"]
    fp = ", ".join(f"{k} {v:.2f}" for k, v in med["fp_per_min"].items())
    typer.echo(
        f"{out}: {meta['training']['rows']} candidates of {meta['training']['persons']} persons; presets "
        f"{meta['presets']}; out of fold at medium: {med['positives_found']:.2f} of spike candidates kept, "
        f"false per minute {fp}"
    )


def _train_screen(kind, data, out, label_column, positive, negative, repeats, seed, overwrite):
    from ..diagnosis import train_diagnosis_model
    from ._progress import progress_bar

    _check_model_folder(out, overwrite)
    split = lambda v: [s.strip() for s in v.split(",") if s.strip()] if v else None  # noqa: E731
    with progress_bar("features") as update:
        m = train_diagnosis_model(
            data,
            out,
            kind,
            label_column=label_column,
            positive=split(positive),
            negative=split(negative),
            repeats=repeats,
            random_state=seed,
            on_progress=update,
        )
    cv = m["nested_cv"]
    p = cv["pooled"]
    typer.echo(
        f"{out}: {kind} screen on {m['n_train']['subjects']} subjects; nested subject-wise CV: balanced accuracy "
        f"{p['balanced_accuracy']:.2f} (folds SD {cv['spread']['balanced_accuracy']['sd']:.2f}), AUROC {p['auroc']:.2f}, "
        f"sensitivity {p['sensitivity']:.2f}, specificity {p['specificity']:.2f}, Brier {p['brier']:.3f}"
    )


_DATA_HELP = "BIDS dataset (participants.tsv with a diagnosis column) or a manifest CSV with columns path,label,subject."
_OUT_HELP = "Model folder to write (model.json, metrics.json, features.parquet, MODEL_CARD.md)."


@train_app.command("dementia")
def dementia(
    data: Path = typer.Argument(..., help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
    label_column: str = typer.Option(None, "--label-column", help="Diagnosis column of participants.tsv."),
    positive: str = typer.Option(None, "--positive", help="Comma-separated label values of dementia (default A,AD,dementia,1)."),
    negative: str = typer.Option(
        None, "--negative", help="Comma-separated label values of controls (default C,CN,HC,control,healthy,0)."
    ),
    repeats: int = typer.Option(3, "--repeats", help="Repetitions of the outer subject-wise CV split."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the files of an existing model folder."),
):
    """Train a dementia screen (nested subject-wise CV numbers in metrics.json and MODEL_CARD.md)."""
    _train_screen("dementia", data, out, label_column, positive, negative, repeats, seed, overwrite)


@train_app.command("epilepsy")
def epilepsy(
    data: Path = typer.Argument(..., help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
    label_column: str = typer.Option(None, "--label-column", help="Diagnosis column of participants.tsv."),
    positive: str = typer.Option(None, "--positive", help="Comma-separated label values of epilepsy (default epilepsy,E,1)."),
    negative: str = typer.Option(
        None, "--negative", help="Comma-separated label values of controls (default C,CN,HC,control,healthy,0)."
    ),
    repeats: int = typer.Option(3, "--repeats", help="Repetitions of the outer subject-wise CV split."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the files of an existing model folder."),
):
    """Train an epilepsy screen (nested subject-wise CV numbers in metrics.json and MODEL_CARD.md)."""
    _train_screen("epilepsy", data, out, label_column, positive, negative, repeats, seed, overwrite)


@train_app.command("adhd")
def adhd(
    data: Path = typer.Argument(..., help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
    label_column: str = typer.Option(None, "--label-column", help="Diagnosis column of participants.tsv."),
    positive: str = typer.Option(None, "--positive", help="Comma-separated label values of ADHD (default adhd,1)."),
    negative: str = typer.Option(
        None, "--negative", help="Comma-separated label values of controls (default C,CN,HC,control,healthy,0)."
    ),
    repeats: int = typer.Option(3, "--repeats", help="Repetitions of the outer subject-wise CV split."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the files of an existing model folder."),
):
    """Train the ADHD screen for children the way the shipped model was made (nested subject-wise CV in MODEL_CARD.md)."""
    _train_screen("adhd", data, out, label_column, positive, negative, repeats, seed, overwrite)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
