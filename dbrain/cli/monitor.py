"""``dbrain stream`` (replay a recording over LSL) and ``dbrain monitor`` (live seizure and signal alarms)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer

from ..errors import ParameterError


def stream(
    path: Path = typer.Argument(..., help="Any recording dbrain can read."),
    name: str = typer.Option(..., "--name", help="LSL stream name (unique on the network)."),
    speed: float = typer.Option(1.0, "--speed", help="Replay this many times faster than real time."),
    loop: bool = typer.Option(False, "--loop", help="Start again at the end (until interrupted)."),
):
    """Replay a recording as an LSL stream (real time or --speed times faster)."""
    from ..io import read_recording
    from ..monitor._lsl import Replayer, replay

    if not speed > 0 or speed > 1000:
        raise ParameterError(f"--speed must be in (0, 1000], got {speed:g}")
    raw, _ = read_recording(path)
    player = replay(raw, name, speed=speed, loop=loop)
    typer.echo(
        f"streaming {name!r}: {len(raw.ch_names)} channels at {raw.info['sfreq']:g} Hz, "
        f"{raw.n_times / raw.info['sfreq']:.0f} s{' (loop)' if loop else ''}, speed {speed:g}x",
        err=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while player.running and not done.wait(0.2):
            pass
    finally:
        if player.running or isinstance(player, Replayer):
            player.stop()


def monitor(
    stream_name: str = typer.Option(None, "--stream", help="LSL stream name to monitor."),
    out: Path = typer.Option(..., "--out", help="Output folder (alarms.tsv, recording.edf, results)."),
    until_end: bool = typer.Option(False, "--until-end", help="Finish when the stream ends instead of waiting for it to return."),
    speed: float = typer.Option(1.0, "--speed", help="The replay speed of the stream (its timestamps run this much faster)."),
    source: str = typer.Option("lsl", "--source", help="lsl (default) or synthetic (BrainFlow's synthetic board, a demo)."),
    post: str = typer.Option(
        None, "--post", help="Data-centre URL: post frames and alarms to {URL}/api/ward/beds/{BED}/updates."
    ),
    bed: str = typer.Option(None, "--bed", help="Bed identifier for --post."),
    token_file: Path = typer.Option(None, "--token-file", help="File holding the bearer token for --post."),
    sensitivity: str = typer.Option("medium", "--sensitivity", help="Seizure threshold preset: low, medium, high."),
    confirm: float = typer.Option(
        3.0, "--confirm", help="Seconds the provisional seizure probability stays over threshold before an alarm."
    ),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the stream at start."),
    analysis: bool = typer.Option(
        False, "--analysis/--no-analysis", help="Also run the file analysis on recording.edf at the end."
    ),
):
    """Monitor a live EEG stream: seizure, suppression and signal-problem alarms."""
    from ..monitor._post import Poster, read_token
    from ..monitor._run import run_monitor

    if source not in ("lsl", "synthetic"):
        raise ParameterError(f"--source must be lsl or synthetic, got {source!r}")
    if source == "lsl" and not stream_name:
        raise ParameterError("--stream NAME is required (or --source synthetic)")
    if not speed > 0 or speed > 1000:
        raise ParameterError(f"--speed must be in (0, 1000], got {speed:g}")
    if sensitivity not in ("low", "medium", "high"):
        raise ParameterError(f"--sensitivity must be low, medium or high, got {sensitivity!r}")
    if post is not None and (bed is None or token_file is None):
        raise ParameterError("--post needs --bed and --token-file")
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out '{out}' exists and is not a folder")
    token = read_token(token_file) if post is not None else None
    name = stream_name or "synthetic"
    if source == "synthetic":
        from ..monitor._synthetic import SyntheticSource

        src = SyntheticSource()
    else:
        from ..monitor._lsl import LslSource

        src = LslSource(stream_name, timeout=timeout, speed=speed)
    poster = Poster(post, bed, token, name) if post is not None else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    info = src.info
    typer.echo(f"monitoring {name!r}: {len(info['ch_names'])} channels at {info['sfreq']:g} Hz -> {out}", err=True)
    mon = run_monitor(
        src,
        out,
        name=name,
        speed=speed,
        until_end=until_end,
        poster=poster,
        stop=stop,
        analysis=analysis,
        monitor_kwargs={"sensitivity": sensitivity, "confirm": confirm},
    )
    raised = [a for a in mon.book.history]
    typer.echo(f"{mon.seconds:.0f} s monitored, {len(raised)} alarm(s); results in {out}", err=True)


def register(app: typer.Typer) -> None:
    app.command("stream")(stream)
    app.command("monitor")(monitor)
