"""``dbrain simulate --duration 1h --out FILE.edf``: synthetic EEG with ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ParameterError


def simulate(
    duration: str = typer.Option(..., "--duration", help="Length: seconds or e.g. 90s, 10min, 1h, 1h30m, 24h."),
    out: Path = typer.Option(..., "--out", help="Output EDF+ file (.edf); events go to <stem>_events.tsv beside it."),
    seizures: int = typer.Option(0, "--seizures", help="Number of seizures (30-90 s each)."),
    spikes: int = typer.Option(0, "--spikes", help="Number of interictal spikes."),
    artifacts: bool = typer.Option(
        False, "--artifacts/--no-artifacts", help="Add eye blinks, muscle, electrode pops and line noise."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same recording."),
    sfreq: int = typer.Option(256, "--sfreq", help="Sampling rate in Hz (128-1024)."),
    line_freq: int = typer.Option(50, "--line-freq", help="Mains frequency for line noise: 50 or 60 Hz."),
    ekg: bool = typer.Option(True, "--ekg/--no-ekg", help="Add an EKG channel."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
):
    """Simulate a 10-20 EEG with exact ground truth (EDF+ and events TSV)."""
    from ..simulate import events_path_for, write_simulated_edf
    from ._progress import progress_bar

    if out.suffix.lower() != ".edf":
        raise ParameterError(f"output must be an .edf file, got '{out.name}'")
    if not overwrite:
        for existing in (out, events_path_for(out)):
            if existing.exists():
                raise ParameterError(f"'{existing}' exists (use --overwrite to replace it)")
    with progress_bar("simulating") as update:
        edf_path, events_path = write_simulated_edf(
            out,
            duration,
            sfreq=sfreq,
            seizures=seizures,
            spikes=spikes,
            artifacts=artifacts,
            line_freq=line_freq,
            ekg=ekg,
            seed=seed,
            overwrite=True,
            on_progress=update,
        )
    typer.echo(str(edf_path))
    typer.echo(str(events_path))


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
