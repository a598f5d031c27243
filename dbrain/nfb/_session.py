"""Run a neurofeedback session: source → engine (NFBStep) → feedback values → session.json, feedback.parquet."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..engine import Engine, StreamInfo
from ..errors import OutputError, ParameterError
from ._protocol import Protocol, load_protocol
from ._sources import open_source
from ._step import NFBStep, SessionControl, parse_blocks


@dataclass
class SessionResult:
    """What :func:`run_session` wrote.

    Attributes
    ----------
    out_dir : Path
    summary : dict
        The contents of ``session.json``.
    feedback : pandas.DataFrame
        The contents of ``feedback.parquet`` (one row per update).
    """

    out_dir: Path
    summary: dict
    feedback: pd.DataFrame

    @property
    def reward_fraction(self) -> float | None:
        return self.summary["reward_fraction"]

    @property
    def session_json(self) -> Path:
        return self.out_dir / "session.json"

    @property
    def feedback_parquet(self) -> Path:
        return self.out_dir / "feedback.parquet"


class _Sham:
    """Another session's timeline (``feedback.parquet``), read at start; row ``k`` drives update ``k``."""

    COLUMNS = ("t", "feature", "threshold", "reward", "inhibit", "level")

    def __init__(self, path, update_hz: float):
        path = Path(path)
        if not path.is_file():
            raise ParameterError(f"sham feedback '{path}' does not exist")
        try:
            df = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ParameterError(
                f"sham feedback '{path}' is not a feedback.parquet: {' '.join(str(exc).split())[:120]}"
            ) from None
        missing = [c for c in self.COLUMNS if c not in df.columns]
        if missing:
            raise ParameterError(f"sham feedback '{path}' lacks column(s) {', '.join(missing)}")
        if len(df) < 2:
            raise ParameterError(f"sham feedback '{path}' has fewer than 2 updates")
        step = float(np.median(np.diff(df["t"].to_numpy())))
        if abs(step * update_hz - 1.0) > 0.05:
            raise ParameterError(
                f"sham feedback '{path}' was recorded at {1 / step:.3g} updates/s, this protocol updates at {update_hz:g}/s"
            )
        self.path = path
        self.update_hz = update_hz
        # per-inhibit flags too, so that the display's inhibits dict is the other session's as well
        cols = list(self.COLUMNS) + [c for c in df.columns if c.startswith("inhibit_") and not c.endswith("_score")]
        self.rows = df[cols].to_dict("records")

    def require(self, n_needed: int) -> None:
        """Refuse a timeline shorter than the session."""
        if len(self.rows) < n_needed:
            raise ParameterError(
                f"sham feedback '{self.path}' has {len(self.rows)} updates ({len(self.rows) / self.update_hz / 60:.2f} min); "
                f"this session needs {n_needed}"
            )

    def __getitem__(self, k: int) -> dict:
        return self.rows[k % len(self.rows)]  # only wraps if a live stream outlasts its plan


def _clean(v):
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def run_session(
    protocol,
    source,
    *,
    minutes: float | None = None,
    speed: float = 1.0,
    out_dir,
    blocks=None,
    on_feedback: Callable[[dict], None] | None = None,
    sham_feedback=None,
    stop_event=None,
    target_reward_fraction: float | None = None,
    seed: int = 0,
    record: bool = True,
    overwrite: bool = False,
    control: SessionControl | None = None,
) -> SessionResult:
    """Run one neurofeedback session headless and write its results.

    Parameters
    ----------
    protocol : str | path-like | Protocol
        A built-in protocol name (:func:`list_protocols`), a YAML file or a :class:`Protocol`.
    source : str | object
        ``"synthetic"``, ``"file:PATH"``, ``"lsl:NAME"`` (see :func:`open_source`), or a source object.
    minutes : float | None
        Session length; may be left out when ``blocks`` gives it.
    speed : float
        Replay speed of ``synthetic``/``file:`` sources (× real time).
    out_dir : path-like
        Where ``session.json``, ``feedback.parquet`` and (``record``) ``signal_raw.fif`` go.
    blocks : list | None
        Session plan, e.g. ``[{"kind": "baseline", "minutes": 2}, {"kind": "training", "minutes": 20},
        {"kind": "transfer", "minutes": 3}]``; default one training block of ``minutes``.
    on_feedback : callable | None
        Called with each feedback value (a dict, ``update_hz`` ≥ 4 per second): ``t``, ``feature``,
        ``threshold``, ``reward``, ``inhibit``, ``level`` (0–1), ``block``, ``block_kind``, ``feedback``,
        ``quality`` ({electrode: "ok" | "flat" | "noisy"}), ``inhibits`` ({name: bool}), ``latency_ms``.
        ``reward`` and ``level`` are what the display shows (False and 0 in blocks without feedback).
    sham_feedback : path-like | None
        Another session's ``feedback.parquet``: its update ``k`` (feature, threshold, reward, inhibit,
        level) is what ``on_feedback`` receives for update ``k``; this session's own signal is still
        analysed, scored and written (``reward``, ``feature`` … columns), the display's in ``displayed_*``.
    stop_event : threading.Event | None
        Set it to end the session early (results are written for what ran).
    target_reward_fraction : float | None
        Overrides the protocol's target.
    seed : int
        Seed of the synthetic source.
    record : bool
        Also write the received samples as ``signal_raw.fif`` (float32).
    overwrite : bool
        Replace an earlier session in ``out_dir``.
    control : SessionControl | None
        Change the target or hold the threshold by hand while the session runs, or stop it, from
        another thread; each change is listed in ``session.json`` (``controls``).

    Returns
    -------
    result : SessionResult

    Raises
    ------
    dbrain.errors.ParameterError
        Bad protocol, source, electrodes, plan or sham file — before anything is written.
    """
    if control is not None and not isinstance(control, SessionControl):
        raise ParameterError(f"control must be a dbrain.nfb.SessionControl, got {type(control).__name__}")
    if control is not None and stop_event is None:
        stop_event = control.stop_event
    proto = load_protocol(protocol)
    if target_reward_fraction is not None:
        proto = proto.with_target(target_reward_fraction)
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 1 / 60 <= minutes <= 240
    ):
        raise ParameterError(f"minutes must be a number in [1/60, 240], got {minutes!r}")
    plan = parse_blocks(blocks, minutes)
    seconds = sum(b.seconds for b in plan)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"'{out_dir}' exists and is not a folder")
    if (out_dir / "session.json").exists() and not overwrite:
        raise OutputError(f"'{out_dir}' already holds a session (session.json); use another folder or overwrite")
    sham = _Sham(sham_feedback, proto.update_hz) if sham_feedback else None

    src = open_source(source, seconds=seconds, speed=speed, seed=seed) if isinstance(source, str) else source
    engine = None
    try:
        step = NFBStep.create({"protocol": proto, "blocks": plan, "control": control})
        engine = Engine([step])
        engine.start(StreamInfo(src.info, None))  # electrodes resolved here: a missing one fails before output
        max_samples = int(round(seconds * src.info["sfreq"]))
        if sham is not None:
            # the updates this session will give: boundaries from the first full window to the last sample
            n_needed = sum(
                1 for j in range(1, int(seconds * proto.update_hz) + 2) if step.need <= step._boundary(j) <= max_samples
            )
            sham.require(n_needed)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create '{out_dir}': {exc.strerror}") from None
        started = _dt.datetime.now(_dt.UTC)
        t_wall = time.perf_counter()
        kept, n_in, k, ended = [], 0, 0, "completed"
        for data, arrival in src.chunks(stop_event):
            data = data[:, : max_samples - n_in]
            if record:
                kept.append(data.astype(np.float32))
            engine.push(data)
            n_in += data.shape[1]
            for value in step.take():
                latency = (value.pop("_perf") - arrival) * 1e3
                if sham is not None:
                    row = sham[k]
                    shown = {key: _clean(row[key]) for key in ("feature", "threshold", "inhibit")}
                    shown["inhibit"] = bool(shown["inhibit"])
                    disp_reward = bool(row["reward"]) and value["feedback"]
                    disp_level = float(row["level"]) if value["feedback"] else 0.0
                else:
                    shown = {key: value[key] for key in ("feature", "threshold", "inhibit")}
                    disp_reward = value["reward"] and value["feedback"]
                    disp_level = value["level"] if value["feedback"] else 0.0
                step.record(value, disp_reward, disp_level, latency)
                k += 1
                if on_feedback is not None:
                    msg = {key: value[key] for key in ("t", "block", "block_kind", "feedback", "quality", "inhibits")}
                    msg.update(shown, reward=disp_reward, level=disp_level, latency_ms=latency)
                    if sham is not None:
                        row = sham[k - 1]
                        msg["inhibits"] = {n: bool(row.get(f"inhibit_{n}", shown["inhibit"])) for n in value["inhibits"]}
                    on_feedback(msg)
            if n_in >= max_samples:
                break
        else:
            if stop_event is not None and stop_event.is_set():
                ended = "stopped"
            elif n_in < max_samples:
                ended = "source ended"
        wall = time.perf_counter() - t_wall
        results = engine.finish()
    finally:
        if engine is not None:
            engine.close()
        src.close()
    res = results["nfb"]
    df = res.tables["feedback"]
    lat = df["latency_ms"].to_numpy() if len(df) else np.array([])
    summary = {
        "dbrain_version": _version(),
        "protocol": proto.name,
        "protocol_definition": proto.to_dict(),
        "source": getattr(src, "description", str(source)),
        "started_at": started.isoformat(),
        "ended": ended,
        "duration_s": n_in / src.info["sfreq"],
        "planned_s": seconds,
        "wall_s": wall,
        "speed": speed if getattr(src, "n_times", None) is not None else None,
        "sham": {"feedback_from": str(sham.path)} if sham is not None else None,
        **res.summary,
        "latency_ms_p50": float(np.percentile(lat, 50)) if lat.size else None,
        "latency_ms_p95": float(np.percentile(lat, 95)) if lat.size else None,
        "latency_ms_max": float(lat.max()) if lat.size else None,
        "latency_definition": "time.perf_counter() when the feedback value is ready minus the arrival of the chunk that completed its window (replay: the chunk's due time; LSL: when the acquisition thread received it; BrainFlow: its newest sample's board timestamp)",
        "replay_lag_s": getattr(src, "lag_s", None),
        "engine_seconds": dict(engine.seconds),
    }
    summary = json.loads(json.dumps(summary, default=_json_default), parse_constant=lambda _: None)
    df.to_parquet(out_dir / "feedback.parquet.tmp", index=False)
    os.replace(out_dir / "feedback.parquet.tmp", out_dir / "feedback.parquet")
    if record and kept:
        info = src.info.copy()
        raw = mne.io.RawArray(np.concatenate(kept, axis=1).astype(np.float64), info, verbose="error")
        raw.save(out_dir / "signal_raw.fif", overwrite=True, fmt="single", verbose="error")
        summary["signal"] = "signal_raw.fif"
    tmp = out_dir / "session.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, allow_nan=False), encoding="utf-8")
    os.replace(tmp, out_dir / "session.json")
    return SessionResult(out_dir, summary, df)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, tuple | set):
        return list(o)
    if isinstance(o, Protocol):
        return o.to_dict()
    return str(o)


def _version() -> str:
    from .. import __version__

    return __version__
