"""``dbrain nfb run|protocols``: neurofeedback sessions run headless, and the built-in protocols."""

from __future__ import annotations

import json
from pathlib import Path

import typer

nfb_app = typer.Typer(name="nfb", help="Neurofeedback: run a session headless, list protocols.", add_completion=False)


@nfb_app.callback(invoke_without_command=True)
def _nfb(ctx: typer.Context):
    """Neurofeedback: run a session headless, list protocols."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)


@nfb_app.command("run")
def run(
    protocol: str = typer.Option(
        ..., "--protocol", help="Built-in protocol name (dbrain nfb protocols) or a protocol .yaml file."
    ),
    source: str = typer.Option(..., "--source", help="lsl:NAME | file:PATH | synthetic | brainflow:synthetic"),
    minutes: float = typer.Option(None, "--minutes", help="Session length in minutes (or give --blocks)."),
    out: Path = typer.Option(..., "--out", help="Output folder: session.json, feedback.parquet, signal_raw.fif."),
    speed: float = typer.Option(1.0, "--speed", help="Replay speed of file:/synthetic sources (x real time)."),
    blocks: str = typer.Option(
        None, "--blocks", help="Session plan, e.g. 'baseline:2,training:20,transfer:3' (minutes per block)."
    ),
    target: float = typer.Option(None, "--target", help="Target reward fraction (default: the protocol's, 0.65)."),
    sham_feedback: Path = typer.Option(
        None, "--sham-feedback", help="Another session's feedback.parquet to display instead (sham)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic source."),
    record: bool = typer.Option(True, "--record/--no-record", help="Write the received samples as signal_raw.fif."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a session already in --out."),
):
    """Run a neurofeedback session headless and write DIR/session.json and DIR/feedback.parquet."""
    from ..errors import ParameterError
    from ..nfb import run_session

    plan = None
    if blocks:
        plan = []
        for item in blocks.split(","):
            kind, _, mins = item.strip().partition(":")
            try:
                plan.append({"kind": kind, "minutes": float(mins)})
            except ValueError:
                raise ParameterError(f"--blocks items must be kind:minutes, got {item.strip()!r}") from None
    result = run_session(
        protocol,
        source,
        minutes=minutes,
        speed=speed,
        out_dir=out,
        blocks=plan,
        sham_feedback=sham_feedback,
        target_reward_fraction=target,
        seed=seed,
        record=record,
        overwrite=overwrite,
    )
    s = result.summary
    keys = ("protocol", "reward_channel", "ended", "duration_s", "reward_fraction", "target_reward_fraction",
            "artifact_fraction", "latency_ms_p50", "latency_ms_p95")  # fmt: skip
    typer.echo(json.dumps({k: s.get(k) for k in keys}))
    typer.echo(str(result.session_json))


@nfb_app.command("protocols")
def protocols():
    """List the built-in neurofeedback protocols."""
    from ..nfb import list_protocols

    for name, description in list_protocols().items():
        typer.echo(f"{name:<12} {description}")


def register(app: typer.Typer) -> None:
    app.add_typer(nfb_app, name="nfb")
