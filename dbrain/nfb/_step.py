"""The neurofeedback step: a streaming :class:`dbrain.engine.Step` turning chunks into feedback values.

At every update boundary (``update_hz`` per second, on the sample clock) it
computes the reward feature over the last ``window_s`` (Welch band power,
a band-power ratio, or the slow-potential shift), the inhibits, the
per-electrode signal quality, decides the reward and moves the automatic
threshold. The same object runs on a file (``dbrain.engine.run``) and on a
stream (``Engine.push``), which is how the session runner uses it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import welch

from ..engine import Param, Step, StepResult
from ..errors import ParameterError
from ._protocol import REWARD_CHANNEL, Protocol
from ._threshold import AutoThreshold

BLOCK_KINDS = ("baseline", "training", "transfer")
#: Signal-quality rules per electrode over the last second (µV).
FLAT_STD_UV = 0.5
NOISY_PTP_UV = 500.0


@dataclass(frozen=True)
class Block:
    """One block of a session plan.

    Attributes
    ----------
    kind : {"baseline", "training", "transfer"}
        ``baseline``: eyes open, no feedback, sets the first threshold;
        ``training``: feedback, threshold adapts; ``transfer``: no feedback, threshold frozen, reward scored.
    seconds : float
    name : str
    """

    kind: str
    seconds: float
    name: str = ""

    @property
    def feedback(self) -> bool:
        return self.kind == "training"


def parse_blocks(blocks, minutes: float | None) -> list[Block]:
    """A session plan from ``blocks`` (or one training block of ``minutes``).

    Parameters
    ----------
    blocks : list | None
        Items ``Block``, ``{"kind": …, "minutes": …, "name": …}`` or ``(kind, minutes)``.
    minutes : float | None
        Session length; must equal the plan's total when both are given.

    Returns
    -------
    blocks : list of Block
    """
    if blocks is None:
        if minutes is None:
            raise ParameterError("give the session length (minutes) or a block plan")
        return [Block("training", float(minutes) * 60.0, "training")]
    if not isinstance(blocks, list | tuple) or not blocks:
        raise ParameterError("blocks must be a non-empty list of {kind, minutes} items")
    out = []
    counts: dict[str, int] = {}
    for i, item in enumerate(blocks):
        if isinstance(item, Block):
            kind, seconds, name = item.kind, item.seconds, item.name
        elif isinstance(item, dict):
            unknown = set(item) - {"kind", "minutes", "seconds", "name"}
            if unknown:
                raise ParameterError(
                    f"blocks[{i}] has unknown field(s) {', '.join(sorted(unknown))}; allowed: kind, minutes, seconds, name"
                )
            kind, name = item.get("kind"), item.get("name", "")
            if ("minutes" in item) == ("seconds" in item):
                raise ParameterError(f"blocks[{i}] needs exactly one of minutes, seconds")
            seconds = item["seconds"] if "seconds" in item else item["minutes"] * 60.0 if _is_number(item["minutes"]) else None
        elif isinstance(item, list | tuple) and len(item) == 2:
            kind, seconds = item[0], item[1] * 60.0 if _is_number(item[1]) else None
            name = ""
        else:
            raise ParameterError(f"blocks[{i}] must be {{kind, minutes}} or (kind, minutes), got {item!r}")
        if kind not in BLOCK_KINDS:
            raise ParameterError(f"blocks[{i}].kind must be one of {', '.join(BLOCK_KINDS)}, got {kind!r}")
        if not _is_number(seconds) or not 1.0 <= seconds <= 4 * 3600:
            raise ParameterError(f"blocks[{i}] length must be 1 s to 4 h, got {seconds!r} s")
        counts[kind] = counts.get(kind, 0) + 1
        out.append(Block(kind, float(seconds), str(name) or f"{kind} {counts[kind]}"))
    if not any(b.kind == "training" for b in out):
        raise ParameterError("the block plan has no training block")
    total = sum(b.seconds for b in out)
    if minutes is not None and abs(total - float(minutes) * 60.0) > 1e-6:
        raise ParameterError(f"minutes={minutes} but the block plan lasts {total / 60:g} min; give one or make them agree")
    return out


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and np.isfinite(x)


class SessionControl:
    """Changes to a running session from another thread (e.g. a therapist console).

    Pass it to :func:`dbrain.nfb.run_session` (``control=``); each change applies from the next update
    on and is listed in ``session.json`` (``controls``).

    Attributes
    ----------
    stop_event : threading.Event
        Set by :meth:`stop`; the session ends at the next chunk (results are written).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: list[tuple[str, float | None]] = []
        self.stop_event = threading.Event()

    def set_target(self, target_reward_fraction: float) -> None:
        """Target reward fraction for the automatic threshold (0.05–0.95)."""
        if isinstance(target_reward_fraction, bool) or not isinstance(target_reward_fraction, int | float):
            raise ParameterError(f"target reward fraction must be a number, got {target_reward_fraction!r}")
        if not 0.05 <= target_reward_fraction <= 0.95:
            raise ParameterError(f"target reward fraction must be in [0.05, 0.95], got {target_reward_fraction!r}")
        with self._lock:
            self._pending.append(("target", float(target_reward_fraction)))

    def set_threshold(self, value: float | None) -> None:
        """Hold the threshold at ``value`` (the feature's unit); None returns to the automatic threshold."""
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value)):
            raise ParameterError(f"threshold must be a finite number or None, got {value!r}")
        with self._lock:
            self._pending.append(("threshold", None if value is None else float(value)))

    def stop(self) -> None:
        """End the session."""
        self.stop_event.set()

    def _take(self) -> list[tuple[str, float | None]]:
        with self._lock:
            out, self._pending = self._pending, []
        return out


class _Ring:
    """The last ``cap`` samples of some channels (a preallocated ring, no reallocation per chunk)."""

    def __init__(self, n_channels: int, cap: int):
        self.buf = np.zeros((n_channels, cap))
        self.cap = cap
        self.pos = 0  # total samples written

    def write(self, x: np.ndarray) -> None:
        n = x.shape[1]
        if n >= self.cap:
            self.buf[:] = x[:, -self.cap :]
            self.pos += n
            # keep the invariant "sample pos-1 sits at (pos-1) % cap"
            self.buf = np.roll(self.buf, self.pos % self.cap, axis=1)
            return
        i = self.pos % self.cap
        first = min(n, self.cap - i)
        self.buf[:, i : i + first] = x[:, :first]
        if first < n:
            self.buf[:, : n - first] = x[:, first:]
        self.pos += n

    def last(self, n: int, rows=None) -> np.ndarray:
        """The last ``n`` samples (oldest first), a new array."""
        buf = self.buf if rows is None else self.buf[rows]
        end = self.pos % self.cap
        start = end - n
        if start >= 0:
            return buf[:, start:end].copy()
        return np.concatenate([buf[:, start:], buf[:, :end]], axis=1)

    def span(self, a: int, b: int, rows=None) -> np.ndarray:
        """Samples ``[a, b)`` by absolute index (must still be held)."""
        if a < self.pos - self.cap or b > self.pos:
            raise RuntimeError("ring buffer no longer holds the requested samples")
        back = self.last(self.pos - a, rows)
        return back[:, : b - a]


def _key(name: str) -> str:
    # "Cz", "CZ", "Cz.." (EDF padding) and "EEG Cz" name one electrode.
    name = name.lower().removeprefix("eeg").strip()
    return "".join(c for c in name if c.isalnum())


def _match(names: list[str], wanted: str) -> int | None:
    keys = [_key(n) for n in names]
    return keys.index(_key(wanted)) if _key(wanted) in keys else None


class NFBStep(Step):
    """Neurofeedback values from a stream, as a streaming engine step.

    Parameters (``NFBStep.create({...})``)
    ----------
    protocol : Protocol
        From :func:`dbrain.nfb.load_protocol`.
    blocks : list of Block | None
        The session plan (:func:`parse_blocks`); one open-ended training block when None.

    Notes
    -----
    :meth:`take` returns the feedback values computed since the last call
    (each a dict, see ``docs/nfb.md``); :meth:`finish` returns the per-update
    table (``tables["feedback"]``) and the session summary.
    """

    name = "nfb"
    version = "1"
    requires = ("signal",)
    params = {
        "protocol": Param(None, doc="a dbrain.nfb.Protocol"),
        "blocks": Param(None, doc="list of dbrain.nfb.Block (session plan)"),
        "control": Param(None, doc="a dbrain.nfb.SessionControl (changes during the session)"),
    }

    # --- set-up ----------------------------------------------------------------------------------------------
    def start(self, info) -> None:
        proto = self.params_["protocol"]
        if not isinstance(proto, Protocol):
            raise ParameterError("nfb step needs protocol=<dbrain.nfb.Protocol> (see dbrain.nfb.load_protocol)")
        self.proto = proto
        blocks = self.params_["blocks"] or [Block("training", float("inf"), "training")]
        self.blocks = list(blocks)
        self.sfreq = sfreq = info.sfreq
        names = info.ch_names
        self.reward_channel, self.substituted_for = self._resolve_reward(names)
        r = proto.reward
        # Rows of the feature ring: reward electrode first, then each inhibit's electrodes.
        rows = [self.reward_channel]
        self.inhibit_rows = []
        for inh in proto.inhibits:
            chans = []
            for group in (inh.channels, inh.fallback):
                for c in group:
                    c = self.reward_channel if c == REWARD_CHANNEL else c
                    j = _match(names, c)
                    if j is not None and names[j] not in chans:
                        chans.append(names[j])
                if chans:
                    break
            if not chans:
                raise ParameterError(
                    f"protocol {proto.name!r}: inhibit {inh.name!r} needs one of {', '.join((*inh.channels, *inh.fallback))}; "
                    f"the source has none of them (channels: {', '.join(names[:40])})"
                )
            idx = []
            for c in chans:
                if c not in rows:
                    rows.append(c)
                idx.append(rows.index(c))
            self.inhibit_rows.append((chans, np.array(idx)))
        self.rows = rows
        self.row_index = np.array([names.index(c) for c in rows])
        self.win = int(round(proto.window_s * sfreq))
        self.inh_win = [int(round((inh.window_s or proto.window_s) * sfreq)) for inh in proto.inhibits]
        self.need = max([self.win, *self.inh_win])
        cap = self.need
        if r.feature == "scp":
            self.scp_base = int(round(r.baseline_s * sfreq))
            self.scp_trial = int(round(r.trial_s * sfreq))
            self.scp_avg = int(round(r.average_s * sfreq))
            self.need = max(self.need, self.scp_base + 1)
            cap = max(cap, self.scp_base + self.scp_trial)
        self.ring = _Ring(len(rows), cap + 1)
        # Quality over the last second of every EEG electrode.
        types = info.ch_types
        self.q_names = [n for n, t in zip(names, types, strict=True) if t == "eeg"] or list(names)
        self.q_index = np.array([names.index(n) for n in self.q_names])
        self.q_len = max(2, int(round(sfreq)))
        self.q_ring = _Ring(len(self.q_names), self.q_len)
        self.nperseg = lambda n: min(n, max(8, int(round(sfreq))))
        hist = [max(8, int(round(inh.history_s * proto.update_hz))) for inh in proto.inhibits]
        self.inh_hist = [deque(maxlen=h) for h in hist]
        warm = int(round(proto.threshold.warmup_s * proto.update_hz))
        self.threshold = AutoThreshold(proto.threshold.target_reward_fraction, r.direction, proto.threshold.step, warm)
        self.block_ends = np.cumsum([b.seconds for b in self.blocks]) * sfreq
        self.n = 0
        self.k = 1  # next update index (update k at sample round(k * sfreq / update_hz))
        self.next_b = self._boundary(self.k)
        self.pending: list[dict] = []
        self.rows_out: list[dict] = []
        self._prev_block = 0
        self.n_updates_skipped = 0
        self.scp_baseline: tuple[int, float] | None = None
        self.control = self.params_.get("control")
        self.control_log: list[dict] = []

    def _resolve_reward(self, names):
        r = self.proto.reward
        j = _match(names, r.channel)
        if j is not None:
            return names[j], None
        for sub in r.substitutes:
            j = _match(names, sub)
            if j is not None:
                return names[j], r.channel
        subs = f" or its substitutes {', '.join(r.substitutes)}" if r.substitutes else " (the protocol names no substitute)"
        raise ParameterError(
            f"protocol {self.proto.name!r} needs electrode {r.channel}{subs}; the source has "
            f"{', '.join(names[:40])}{' …' if len(names) > 40 else ''}"
        )

    def _boundary(self, k: int) -> int:
        return int(round(k * self.sfreq / self.proto.update_hz))

    # --- streaming ---------------------------------------------------------------------------------------------
    def update(self, chunk) -> None:
        data = chunk["signal"]
        pos = 0
        n_chunk = data.shape[1]
        while pos < n_chunk:
            # Feed up to the next update boundary, then compute that update.
            upto = min(n_chunk - pos, self.next_b - self.n)
            piece = data[:, pos : pos + upto]
            self.ring.write(piece[self.row_index])
            self.q_ring.write(piece[self.q_index])
            self.n += upto
            pos += upto
            if self.n == self.next_b:
                if self.n >= self.need:
                    self._compute(self.n)
                else:
                    self.n_updates_skipped += 1
                self.k += 1
                self.next_b = self._boundary(self.k)

    def _block_at(self, b: int) -> int:
        i = int(np.searchsorted(self.block_ends, b, side="left"))
        return min(i, len(self.blocks) - 1)

    def _band_powers(self, x: np.ndarray, bands) -> list[np.ndarray]:
        """Welch band power (µV²) of each row of ``x`` (V) for each band ``[low, high)``."""
        nper = self.nperseg(x.shape[1])
        f, pxx = welch(x, fs=self.sfreq, window="hann", nperseg=nper, noverlap=nper // 2, detrend="constant", axis=-1)
        df = f[1] - f[0]
        out = []
        for lo, hi in bands:
            m = (f >= lo) & (f < hi)
            out.append(pxx[:, m].sum(axis=-1) * df * 1e12)
        return out

    def _feature(self, b: int) -> float:
        r = self.proto.reward
        if r.feature == "scp":
            return self._scp(b)
        x = self.ring.last(self.win, rows=[0])
        if r.feature == "band_power":
            return float(self._band_powers(x, [r.band])[0][0])
        num, den = self._band_powers(x, [r.numerator, r.denominator])
        return float(num[0] / den[0]) if den[0] > 0 else float("nan")

    def _scp(self, b: int) -> float:
        """Mean of the last ``average_s`` (within the trial) minus the mean of the ``baseline_s`` before the trial (µV)."""
        t0 = self.scp_base
        j = (b - 1 - t0) // self.scp_trial  # the trial holding sample b-1
        start = t0 + j * self.scp_trial
        if self.scp_baseline is None or self.scp_baseline[0] != start:
            base = self.ring.span(start - self.scp_base, start, rows=[0])
            self.scp_baseline = (start, float(base.mean()))
        a = max(start, b - self.scp_avg)
        recent = self.ring.span(a, b, rows=[0])
        return (float(recent.mean()) - self.scp_baseline[1]) * 1e6

    def _inhibits(self) -> tuple[dict[str, bool], dict[str, float]]:
        flags, scores = {}, {}
        by_win: dict[int, list[int]] = {}
        for i, w in enumerate(self.inh_win):
            by_win.setdefault(w, []).append(i)
        for w, idx in by_win.items():
            rows = sorted({int(r) for i in idx for r in self.inhibit_rows[i][1]})
            x = self.ring.last(w, rows=rows)
            bands = [self.proto.inhibits[i].band for i in idx]
            powers = self._band_powers(x, bands)
            for i, p in zip(idx, powers, strict=True):
                inh = self.proto.inhibits[i]
                sel = [rows.index(int(r)) for r in self.inhibit_rows[i][1]]
                p = p[sel]
                hist = self.inh_hist[i]
                hist.append(p)
                if len(hist) >= 8:
                    med = np.median(np.asarray(hist), axis=0)
                    ratio = np.where(med > 0, p / np.where(med > 0, med, 1.0), 0.0)
                    score = float(ratio.max())
                    flag = score > inh.factor
                else:
                    score, flag = float("nan"), False
                if inh.max_uv2 is not None and float(p.max()) > inh.max_uv2:
                    flag = True
                flags[inh.name], scores[inh.name] = bool(flag), score
        return flags, scores

    def _quality(self) -> dict[str, str]:
        x = self.q_ring.last(min(self.q_len, self.n)) * 1e6
        std = x.std(axis=1)
        ptp = np.ptp(x, axis=1)
        out = {}
        for name, s, p in zip(self.q_names, std, ptp, strict=True):
            out[name] = "flat" if s < FLAT_STD_UV else "noisy" if p > NOISY_PTP_UV else "ok"
        return out

    def _compute(self, b: int) -> None:
        bi = self._block_at(b)
        block = self.blocks[bi]
        th = self.threshold
        if bi != self._prev_block:
            if self.blocks[self._prev_block].kind == "baseline":
                th.end_warmup()
            self._prev_block = bi
        if self.control is not None:
            for what, v in self.control._take():
                (th.set_target if what == "target" else th.set_manual)(v)
                self.control_log.append({"t": b / self.sfreq, "set": what, "value": v})
        x = self._feature(b)
        flags, scores = self._inhibits()
        inhibit = any(flags.values())
        finite = bool(np.isfinite(x))
        clean = finite and not inhibit
        if block.kind in ("baseline", "training") and th.warming and clean:
            th.observe_warmup(x, auto_end=block.kind == "training")
        passed = finite and th.rewarded(x)
        reward = passed and not inhibit
        level = 0.0 if (inhibit or not finite) else th.level(x)
        theta = th.value
        if block.kind == "training" and clean:
            th.adapt(passed)
        value = {
            "t": b / self.sfreq,
            "feature": x if finite else None,
            "threshold": float(theta) if np.isfinite(theta) else None,
            "reward": bool(reward),
            "inhibit": bool(inhibit),
            "level": float(level),
            "block": block.name,
            "block_kind": block.kind,
            "feedback": block.feedback,
            "quality": self._quality(),
            "inhibits": flags,
            "_scores": scores,
            "_perf": time.perf_counter(),
            "_warming": th.warming,
        }
        self.pending.append(value)

    def take(self) -> list[dict]:
        """The feedback values computed since the last call (oldest first)."""
        out, self.pending = self.pending, []
        return out

    def record(self, value: dict, displayed_reward: bool, displayed_level: float, latency_ms: float | None) -> None:
        """Keep one update's row for the feedback table (the session runner calls this)."""
        row = {
            "t": value["t"],
            "block": value["block"],
            "block_kind": value["block_kind"],
            "feedback": value["feedback"],
            "feature": np.nan if value["feature"] is None else value["feature"],
            "threshold": np.nan if value["threshold"] is None else value["threshold"],
            "reward": value["reward"],
            "inhibit": value["inhibit"],
            "level": value["level"],
            "displayed_reward": bool(displayed_reward),
            "displayed_level": float(displayed_level),
            "latency_ms": np.nan if latency_ms is None else float(latency_ms),
            "warmup": value["_warming"],
        }
        for name, flag in value["inhibits"].items():
            row[f"inhibit_{name}"] = flag
            row[f"inhibit_{name}_score"] = value["_scores"][name]
        self.rows_out.append(row)

    def partial(self):
        return {"n_updates": len(self.rows_out), "threshold": self.threshold.value}

    def table(self) -> pd.DataFrame:
        cols = ["t", "block", "block_kind", "feedback", "feature", "threshold", "reward", "inhibit", "level",
                "displayed_reward", "displayed_level", "latency_ms", "warmup"]  # fmt: skip
        df = pd.DataFrame(self.rows_out)
        if df.empty:
            df = pd.DataFrame({c: [] for c in cols})
        return df

    def finish(self) -> StepResult:
        # Run by dbrain.engine.run (no session runner): what was not taken is recorded as shown live.
        for v in self.take():
            v.pop("_perf", None)
            self.record(v, v["reward"] and v["feedback"], v["level"] if v["feedback"] else 0.0, None)
        df = self.table()
        return StepResult(summary=summarise(df, self), tables={"feedback": df})


def _frac(mask) -> float | None:
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.size else None


def summarise(df: pd.DataFrame, step: NFBStep) -> dict:
    """The numbers of ``session.json`` that come from the feedback table."""
    proto = step.proto
    train = df[df["block_kind"] == "training"] if len(df) else df
    clean = train[~train["inhibit"].astype(bool)] if len(train) else train
    adapted = clean[~clean["warmup"].astype(bool)] if len(clean) else clean
    blocks = []
    for b in step.blocks:
        rows = df[df["block"] == b.name] if len(df) else df
        blocks.append(
            {
                "name": b.name,
                "kind": b.kind,
                "feedback": b.feedback,
                "planned_s": None if not np.isfinite(b.seconds) else b.seconds,
                "n_updates": int(len(rows)),
                "start_s": float(rows["t"].min()) if len(rows) else None,
                "end_s": float(rows["t"].max()) if len(rows) else None,
                "feature_mean": float(rows["feature"].mean()) if len(rows) else None,
                "feature_median": float(rows["feature"].median()) if len(rows) else None,
                "reward_fraction": _frac(rows.loc[~rows["inhibit"].astype(bool), "reward"]) if len(rows) else None,
                "reward_fraction_delivered": _frac(rows["reward"]) if len(rows) else None,
                "displayed_reward_fraction": _frac(rows["displayed_reward"]) if len(rows) else None,
                "artifact_fraction": _frac(rows["inhibit"]) if len(rows) else None,
                "threshold_start": float(rows["threshold"].iloc[0]) if len(rows) else None,
                "threshold_end": float(rows["threshold"].iloc[-1]) if len(rows) else None,
            }
        )
    th = step.threshold.state()
    if len(train):
        th["min"] = float(train["threshold"].min())
        th["max"] = float(train["threshold"].max())
    per_minute, per_minute_delivered = [], []
    if len(train):
        minute = (train["t"] - train["t"].iloc[0]) // 60
        per_minute_delivered = [round(float(v), 4) for v in train.groupby(minute)["reward"].mean()]
        per_minute = [round(float(v), 4) for v in clean.groupby(minute[clean.index])["reward"].mean()]
    inhibit_cols = [f"inhibit_{i.name}" for i in proto.inhibits]
    return {
        "reward_channel": step.reward_channel,
        "substituted_for": step.substituted_for,
        "inhibit_channels": {i.name: chans for i, (chans, _) in zip(proto.inhibits, step.inhibit_rows, strict=True)},
        "sfreq": step.sfreq,
        "n_updates": int(len(df)),
        "update_hz": proto.update_hz,
        "target_reward_fraction": proto.threshold.target_reward_fraction,
        # What the threshold holds at target: artifact-free training updates whose feature passed.
        "reward_fraction": _frac(clean["reward"]) if len(clean) else None,
        "reward_fraction_per_minute": per_minute,
        # Reward actually delivered over all training updates (inhibited ones count as unrewarded).
        "reward_fraction_delivered": _frac(train["reward"]) if len(train) else None,
        "reward_fraction_delivered_per_minute": per_minute_delivered,
        "reward_fraction_after_warmup": _frac(adapted["reward"]) if len(adapted) else None,
        "displayed_reward_fraction": _frac(train["displayed_reward"]) if len(train) else None,
        "artifact_fraction": _frac(df["inhibit"]) if len(df) else None,
        "inhibit_fractions": {c[len("inhibit_") :]: _frac(df[c]) for c in inhibit_cols if c in df},
        "thresholds": th,
        "controls": step.control_log,
        "blocks": blocks,
    }
