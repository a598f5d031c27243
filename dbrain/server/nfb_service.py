"""Neurofeedback in the data centre: sealed allocations, one-time codes and the live session runner.

The signal processing is :mod:`dbrain.nfb` (``run_session``); this module
only runs it for the server and fans its feedback out to the browsers.

Blinding
--------
A course's arm (``real`` or ``sham``) is drawn at creation from a per-course
seed (``sham`` with probability ``sham_fraction``, 0.5 by default: 1:1) and
*sealed*: the course row carries ``allocation_commitment`` = SHA-256 of the
canonical JSON ``{"arm", "course", "nonce"}`` with a random 256-bit nonce,
and that row's state goes into the provenance ledger in the same commit. The
arm and nonce live in ``nfb_allocations``, which no therapist or patient
answer reads. Unblinding (admin or clinician, with a reason, audited and
ledgered) reveals arm and nonce; anyone can then recompute the commitment and
check it against the ledger entry written at creation, so the arm cannot have
been changed afterwards.

A sham session runs exactly like a real one (the patient's own EEG is
recorded, quality and artifacts are computed), but its display follows the
feedback timeline of another recorded session (``run_session``'s
``sham_feedback``): the most recent finished session of the same protocol at
the same site, of another patient, in the real arm. Every answer and stream
event is built from the same whitelist of keys for both arms.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("dbrain.server")

#: Characters of a display code (no 0/O, 1/I/L: read aloud and typed by a child or parent).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
#: Minutes a display code stays valid.
CODE_MINUTES = 30
#: The keys of one live feedback event, identical for both arms and for therapist and patient.
#: ``feature`` and ``threshold`` are None in every course with a sham arm (``sham_fraction`` > 0), whatever its
#: arm: in a sham session the display follows another session, and the patient's own feature next to the
#: reward shown (or the other session's feature next to this session's report) would tell the arms apart.
#: Open-label courses (no sham arm) show them, and allow live threshold changes.
EVENT_KEYS = (
    "type", "t", "level", "reward", "inhibit", "feedback", "block", "block_kind", "quality", "feature", "threshold",
    "arrival_ms", "sent_ms",
)  # fmt: skip
#: session.json keys kept in the API's session summary (the same for both arms; nothing names the source of the display).
SUMMARY_KEYS = (
    "protocol",
    "target_reward_fraction",
    "artifact_fraction",
    "latency_ms_p50",
    "latency_ms_p95",
    "n_updates",
    "update_hz",
)
#: Kinds of block a session plan may hold.
BLOCK_KINDS = ("baseline", "training", "transfer")


# --------------------------------------------------------------------------- allocation


def draw_arm(seed: str, sham_fraction: float) -> str:
    """The arm a course's seed gives: ``'sham'`` with probability ``sham_fraction``.

    Parameters
    ----------
    seed : str
        The course's seed (hex).
    sham_fraction : float
        In [0, 1].

    Returns
    -------
    arm : str
        ``'real'`` or ``'sham'``.
    """
    import numpy as np

    u = np.random.default_rng(int(seed, 16)).random()
    return "sham" if u < sham_fraction else "real"


def commitment(course_id: int, arm: str, nonce: str) -> str:
    """SHA-256 of the canonical JSON ``{"arm", "course", "nonce"}`` (the sealed allocation).

    Parameters
    ----------
    course_id : int
    arm : str
    nonce : str

    Returns
    -------
    sha256 : str
    """
    from ..ledger.records import canonical_json

    return hashlib.sha256(canonical_json({"arm": arm, "course": int(course_id), "nonce": nonce})).hexdigest()


# --------------------------------------------------------------------------- codes


def new_code() -> str:
    """A new one-time display code, ``XXXX-XXXX`` (40 bits).

    Returns
    -------
    code : str
    """
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return raw[:4] + "-" + raw[4:]


def normalise_code(code: str) -> str:
    """The code as stored: upper case, no separators or spaces.

    Parameters
    ----------
    code : str

    Returns
    -------
    code : str
    """
    return "".join(c for c in code.upper() if c.isalnum())


def code_hash(code: str) -> str:
    """SHA-256 of a normalised display code (only the hash is stored).

    Parameters
    ----------
    code : str

    Returns
    -------
    sha256 : str
    """
    return hashlib.sha256(("nfb-code:" + normalise_code(code)).encode()).hexdigest()


# --------------------------------------------------------------------------- plans and summaries


def default_plan(minutes: float) -> list[dict]:
    """A session plan: 2-min eyes-open baseline, training blocks, one transfer block (no feedback).

    Parameters
    ----------
    minutes : float
        Whole session length.

    Returns
    -------
    blocks : list of dict
        ``[{"kind", "minutes"}, …]`` summing to ``minutes``.
    """
    minutes = float(minutes)
    base = min(2.0, minutes * 0.2)
    transfer = min(3.0, minutes * 0.2)
    rest = minutes - base - transfer
    n = max(1, min(4, int(rest // 3) or 1))
    training = [{"kind": "training", "minutes": round(rest / n, 4)} for _ in range(n)]
    return [{"kind": "baseline", "minutes": round(base, 4)}, *training, {"kind": "transfer", "minutes": round(transfer, 4)}]


def public_summary(session_json: dict) -> dict:
    """The session.json fields shown to therapists, the same keys for both arms.

    ``reward_fraction`` is what the display showed (session.json's
    ``displayed_reward_fraction``): in a real session it is the signal's own
    reward, in a sham one the recorded session's. The signal's own reward
    against its threshold is left out on purpose: next to the displayed one
    it would tell the arms apart.

    Parameters
    ----------
    session_json : dict

    Returns
    -------
    summary : dict
    """
    out = {k: session_json.get(k) for k in SUMMARY_KEYS}
    out["reward_fraction"] = session_json.get("displayed_reward_fraction")
    out["minutes"] = round(float(session_json.get("duration_s") or 0.0) / 60.0, 4)
    out["ended"] = session_json.get("ended")
    out["blocks"] = [
        {
            "name": b.get("name"),
            "kind": b.get("kind"),
            "n_updates": b.get("n_updates"),
            "feature_mean": b.get("feature_mean"),
            "reward_fraction": b.get("displayed_reward_fraction"),
            "artifact_fraction": b.get("artifact_fraction"),
        }
        for b in session_json.get("blocks") or []
        if isinstance(b, dict)
    ]
    return out


# --------------------------------------------------------------------------- live sessions


@dataclass
class LiveSession:
    """One running session: its thread, stop flag and the browsers listening to it."""

    session_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    subscribers: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: dict | None = None
    ended: bool = False
    blocks: list = field(default_factory=list)
    #: ``dbrain.nfb.SessionControl`` of the running session (target and threshold changes, stop).
    control: object = None
    #: Send the trained feature and threshold (open-label courses only).
    show_signal: bool = False

    def subscribe(self) -> asyncio.Queue:
        """A queue that receives every event from now on (the last one first, so a display starts at once)."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue(maxsize=256)
        with self.lock:
            self.subscribers.append((loop, q))
            if self.last is not None:
                q.put_nowait(self.last)
            if self.ended:
                q.put_nowait({"type": "end"})
        return q

    def unsubscribe(self, q) -> None:
        """Stop handing events to a queue of :meth:`subscribe`."""
        with self.lock:
            self.subscribers = [(lp, x) for lp, x in self.subscribers if x is not q]

    def publish(self, event: dict) -> None:
        """Hand one event to every listener (called from the session's thread)."""
        with self.lock:
            if event.get("type") == "feedback":
                self.last = event
            if event.get("type") == "end":
                self.ended = True
            subs = list(self.subscribers)
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(_offer, q, event)
            except RuntimeError:  # the listener's loop is closed
                self.unsubscribe(q)

    def feed(self, fb: dict) -> None:
        """``run_session``'s ``on_feedback``: one event of :data:`EVENT_KEYS` (the same for both arms)."""
        now = time.time() * 1000.0
        latency = float(fb.get("latency_ms") or 0.0)
        event = {
            "type": "feedback",
            "t": _num(fb.get("t")),
            "level": _num(fb.get("level")),
            "reward": bool(fb.get("reward")),
            "inhibit": bool(fb.get("inhibit")),
            "feedback": bool(fb.get("feedback")),
            "block": None if fb.get("block") is None else str(fb.get("block")),
            "block_kind": None if fb.get("block_kind") is None else str(fb.get("block_kind")),
            "quality": {str(k): str(v) for k, v in (fb.get("quality") or {}).items()},
            "feature": _num(fb.get("feature")) if self.show_signal else None,
            "threshold": _num(fb.get("threshold")) if self.show_signal else None,
            # When the newest sample of this update arrived (wall clock, ms): the display measures its own latency.
            "arrival_ms": round(now - latency, 3),
            "sent_ms": round(now, 3),
        }
        self.publish(event)


def _offer(q: asyncio.Queue, event: dict) -> None:
    if q.full():  # a stalled listener loses its oldest events, never the session
        try:
            q.get_nowait()
        except asyncio.QueueEmpty:
            pass
    q.put_nowait(event)


def _num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, 6) if v == v and abs(v) != float("inf") else None


class Runner:
    """The live sessions of one web process (sessions run in threads of the web process).

    Parameters
    ----------
    app : fastapi.FastAPI
    """

    def __init__(self, app):
        self.app = app
        self.live: dict[int, LiveSession] = {}
        self._lock = threading.Lock()

    def get(self, session_id: int) -> LiveSession | None:
        """The live state of a session started by this process, or None.

        Parameters
        ----------
        session_id : int

        Returns
        -------
        live : LiveSession | None
        """
        return self.live.get(int(session_id))

    def running(self, session_id: int) -> bool:
        """Whether this process's thread for the session is still running.

        Parameters
        ----------
        session_id : int

        Returns
        -------
        running : bool
        """
        live = self.get(session_id)
        return live is not None and live.thread is not None and live.thread.is_alive()

    def start(self, session_id: int, *, protocol: str, source: str, minutes: float, speed: float, blocks: list,
              sham_feedback, target_reward_fraction: float | None, on_end=None, show_signal: bool = False) -> LiveSession:  # fmt: skip
        """Start ``run_session`` for one session in a thread.

        Parameters
        ----------
        session_id : int
        protocol : str
        source : str
            ``lsl:NAME``, ``file:PATH`` or ``synthetic``.
        minutes, speed : float
        blocks : list of dict
        sham_feedback : str | callable | None
            Path of the feedback.parquet that drives a sham session's display (or a function,
            called in the session's thread, that makes and returns it).
        target_reward_fraction : float | None
        on_end : callable | None
            Called (in the session's thread) once the session's results are stored.
        show_signal : bool
            Stream the trained feature and threshold (only for courses without a sham arm).

        Returns
        -------
        live : LiveSession
        """
        with self._lock:
            if self.running(session_id):
                raise RuntimeError(f"session {session_id} is already running")
            from .. import nfb

            control = nfb.SessionControl()
            live = LiveSession(
                int(session_id), stop=control.stop_event, blocks=list(blocks), control=control, show_signal=bool(show_signal)
            )
            self.live[int(session_id)] = live
        args = (live, protocol, source, float(minutes), float(speed), list(blocks), sham_feedback, target_reward_fraction, on_end)
        live.thread = threading.Thread(target=self._run, args=args, name=f"dbrain-nfb-{session_id}", daemon=True)
        live.thread.start()
        return live

    def _run(self, live, protocol, source, minutes, speed, blocks, sham_feedback, target, on_end=None) -> None:
        status, error, files, summary = "failed", None, {}, None
        with tempfile.TemporaryDirectory(prefix="dbrain-nfb-", dir=self.app.state.store.scratch()) as tmp:
            try:
                from .. import nfb

                out = Path(tmp) / "session"
                if callable(sham_feedback):
                    sham_feedback = sham_feedback()
                nfb.run_session(
                    protocol, source, minutes=minutes, speed=speed, out_dir=out, blocks=blocks, on_feedback=live.feed,
                    sham_feedback=sham_feedback, control=live.control, target_reward_fraction=target, record=True,
                )  # fmt: skip
                raw = json.loads((out / "session.json").read_text())
                qeeg = baseline_qeeg(out / "signal_raw.fif", raw.get("blocks") or [])
                (out / "baseline_qeeg.json").write_text(json.dumps(qeeg))
                store = self.app.state.store
                for name in ("session.json", "feedback.parquet", "signal_raw.fif", "baseline_qeeg.json"):
                    path = out / name
                    if path.is_file():
                        sha, size = store.put_file(path)
                        files[name] = {"sha256": sha, "size": size}
                summary = public_summary(raw)
                status = "stopped" if live.stop.is_set() else "done"
            except Exception as exc:  # noqa: BLE001 - a failed session is recorded with its one-line reason
                log.error("neurofeedback session %s failed", live.session_id, exc_info=exc)
                error = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        try:
            self._finish(live.session_id, status, error, files, summary)
        finally:
            live.publish({"type": "end", "status": status})
        if on_end is not None:
            on_end()

    def _finish(self, session_id, status, error, files, summary) -> None:
        from .db import utcnow
        from .nfb_db import NfbSession
        from .provenance import record_row

        with self.app.state.sessionmaker() as db:
            row = db.get(NfbSession, session_id)
            row.status = status
            row.error = error
            row.results = files
            row.summary = summary
            row.finished_at = utcnow()
            record_row(db, f"nfb_session.{status}", row, actor="server")
            db.commit()

    def stop_all(self) -> None:
        """Ask every running session to stop (server shutdown)."""
        for live in list(self.live.values()):
            live.stop.set()


#: qEEG measures kept of a baseline block (median over its 2-s epochs), per channel.
QEEG_MEASURES = ("rel_delta", "rel_theta", "rel_alpha", "rel_beta", "abs_theta", "abs_beta", "peak_alpha_freq")


def baseline_qeeg(fif, blocks: list) -> dict:
    """qEEG of a session's eyes-open baseline block(s) from its recorded signal (``dbrain.qeeg``).

    Parameters
    ----------
    fif : path-like
        The session's ``signal_raw.fif``.
    blocks : list of dict
        session.json's blocks (``kind``, ``start_s``, ``end_s``).

    Returns
    -------
    qeeg : dict
        ``{"seconds", "channels": {ch: {measure: median}}, "theta_beta": {ch: ratio}}``, or
        ``{"reason"}`` when there is no usable baseline.
    """
    import mne
    import numpy as np

    from ..qeeg import compute_qeeg

    spans = [(b.get("start_s"), b.get("end_s")) for b in blocks if b.get("kind") == "baseline"]
    spans = [(float(a), float(b)) for a, b in spans if a is not None and b is not None and b - a >= 4.0]
    if not spans or not Path(fif).is_file():
        return {"reason": "no baseline block of at least 4 s was recorded"}
    raw = mne.io.read_raw_fif(fif, preload=True, verbose="error")
    t0, t1 = spans[0][0], min(spans[0][1], raw.times[-1])
    crop = raw.copy().crop(t0, t1)
    res = compute_qeeg(crop, aperiodic_window=None, verbose="error")
    names = list(res.measure_names)
    channels = {}
    for i, ch in enumerate(res.ch_names):
        med = {m: float(np.nanmedian(res.measures[:, i, names.index(m)])) for m in QEEG_MEASURES if m in names}
        channels[ch] = {k: (round(v, 6) if np.isfinite(v) else None) for k, v in med.items()}
    ratio = {
        ch: round(v["abs_theta"] / v["abs_beta"], 6) if v.get("abs_theta") and v.get("abs_beta") else None
        for ch, v in channels.items()
    }
    return {"seconds": round(t1 - t0, 3), "channels": channels, "theta_beta": ratio}


# --------------------------------------------------------------------------- synthetic sham timelines

_DONOR_LOCK = threading.Lock()


def donor_path(home, protocol: str, blocks: list, seed: int) -> Path:
    """Where the synthetic feedback timeline of one plan and seed is kept (``$DBRAIN_HOME/nfb-donors``)."""
    from ..ledger.records import canonical_json

    key = hashlib.sha256(
        canonical_json({"protocol": protocol, "blocks": [[b["kind"], str(b["minutes"])] for b in blocks], "seed": int(seed)})
    ).hexdigest()[:24]
    return Path(home) / "nfb-donors" / f"{key}.parquet"


def synthetic_donor(home, protocol: str, blocks: list, seed: int) -> str:
    """The feedback.parquet of a synthetic session of the plan (made once, then kept), for a sham display.

    Used when the site has no recorded real-arm session to drive a sham session's display: the
    timeline is that of a whole ``run_session`` on ``dbrain.simulate`` EEG (the same protocol, plan
    and automatic threshold), replayed as fast as it computes.

    Parameters
    ----------
    home : path-like
        The data centre's home.
    protocol : str
    blocks : list of dict
    seed : int
        Seed of the synthetic signal (per course and session: every sham session gets its own timeline).

    Returns
    -------
    path : str
    """
    from .. import nfb

    path = donor_path(home, protocol, blocks, seed)
    with _DONOR_LOCK:
        if path.is_file():
            return str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            nfb.run_session(
                protocol, "synthetic", blocks=blocks, speed=1e6, out_dir=Path(tmp) / "s", record=False, seed=int(seed)
            )
            os.replace(Path(tmp) / "s" / "feedback.parquet", path)
    return str(path)


def prepare_donor(home, protocol: str, blocks: list, seed: int) -> None:
    """Make :func:`synthetic_donor`'s timeline in a background thread (a sham session then starts at once)."""

    def work():
        try:
            # Below the live sessions' threads: a timeline made in the background must not delay anyone's feedback.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (OSError, AttributeError):
            pass
        try:
            synthetic_donor(home, protocol, blocks, seed)
        except Exception as exc:  # noqa: BLE001 - the session start makes it again and reports a failure
            log.warning("preparing a feedback timeline failed: %s", exc)

    threading.Thread(target=work, name="dbrain-nfb-donor", daemon=True).start()


def donor_seed(course_seed: str, number: int) -> int:
    """The synthetic timeline's seed of session ``number`` of a course."""
    return (int(course_seed, 16) + int(number)) % (2**31 - 1)
