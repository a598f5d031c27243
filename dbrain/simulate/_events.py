"""Ground-truth events: where they go, and what they add to the signal.

Every event is planned once, up front, from the recording's schedule
generator: its kind, onset sample, length, channels and parameters. Its
waveform is computed on demand, from the event's own seeded generator, so it
is the same whatever the chunk size of the caller.

Conventions (all times from the first sample; ``sfreq`` the sampling rate):

* ``sz`` — onset is the first sample of the seizure at its focus; channels
  are the involved electrodes in order of recruitment (focus first); the
  seizure ends on all of them at ``onset + duration``.
* ``spike`` — onset is the start of the sharp transient; its negative peak is
  at sample ``onset + round(SPIKE_PEAK_LATENCY * sfreq)`` on the first listed
  channel (the peak channel), followed by an after-going slow wave; other
  channels carry the spike's field, scaled down with distance.
* ``eyeblink``, ``muscle``, ``electrode_pop`` — artifacts; channels are those
  where the artifact has at least 30 % of its peak amplitude (the popping
  electrode alone for ``electrode_pop``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

from ..errors import ParameterError
from . import _layout, _wendling
from ._rng import STREAM_EVENT, block_rng

#: Latency in seconds from a spike's onset to its negative peak.
SPIKE_PEAK_LATENCY = 0.020

# Seizure durations (s) and the quiet time kept free of other events either side.
SEIZURE_DURATION = (30.0, 90.0)
_SEIZURE_GUARD = 10.0
# Quiet time (s) either side of spikes and artifacts.
_GUARD = 0.5
# Longest waveform (s) of each short event kind.
_SPIKE_MAX = 0.45
_BLINK_LEN = (0.3, 0.5)
_MUSCLE_LEN = (1.0, 5.0)
_POP_TAU = (0.1, 0.4)  # decay time constant; the pop lasts 5 tau
#: Artifact rates per hour when artifacts are on (at least one of each).
ARTIFACT_RATES = {"eyeblink": 120.0, "muscle": 20.0, "electrode_pop": 4.0}
_MARGIN = 1.0  # s kept free at the start and end of the recording

_KIND_CODE = {"sz": 1, "spike": 2, "eyeblink": 3, "muscle": 4, "electrode_pop": 5}
_SPIKE_FOCI = ("T7", "T8", "F7", "F8", "P7", "P8")

_D = _layout.distances_cm
_N = len(_layout.CHANNELS)


def _sin2_rise(n: int) -> np.ndarray:
    """``n`` samples rising smoothly from 0 (exclusive) to 1 (inclusive)."""
    return np.sin(0.5 * np.pi * np.arange(1, n + 1) / n) ** 2


def _hump(n: int) -> np.ndarray:
    """A smooth ``sin²`` hump of ``n`` samples, zero at both (excluded) ends."""
    return np.sin(np.pi * np.arange(1, n + 1) / (n + 1)) ** 2


@dataclass
class Event:
    """One planned event.

    Attributes
    ----------
    kind : str
        ``eventType`` in the events table.
    onset, length : int
        First sample and number of samples of the ground truth.
    channels : tuple of int
        Rows of :data:`~dbrain.simulate._layout.CHANNELS`, in the order listed
        in the events table.
    index : int
        Number of this event among events of its kind (seeds its waveform).
    params : dict
        Parameters drawn by the schedule.
    """

    kind: str
    onset: int
    length: int
    channels: tuple
    index: int
    params: dict = field(default_factory=dict)

    @property
    def stop(self) -> int:
        return self.onset + self.length

    def render(self, sfreq: float, seed: int):
        """Return ``(rows, added, background_gain)`` over samples ``onset:stop``.

        ``added`` (µV) has shape ``(len(rows), length)``; ``background_gain`` is
        ``None`` or an array of the same shape multiplying the background.
        """
        rng = block_rng(seed, STREAM_EVENT, _KIND_CODE[self.kind], self.index)
        return _RENDER[self.kind](self, sfreq, rng)


# --------------------------------------------------------------------------- spikes
def _spike_waveform(p: dict, sfreq: float) -> np.ndarray:
    """Negative sharp transient + small positive notch + after-going negative slow wave."""
    rise = round(SPIKE_PEAK_LATENCY * sfreq)
    fall = max(2, round(p["fall"] * sfreq))
    notch = max(2, round(p["notch"] * sfreq))
    slow = max(4, round(p["slow"] * sfreq))
    # Flanks are parabolic: they leave and rejoin the baseline smoothly but
    # meet at a pointed apex, the "sharp" of a spike (and its unique minimum).
    parts = [
        -((np.arange(rise + 1) / rise) ** 2),  # 0 -> -1, the peak at index `rise`
        -((1 - np.arange(1, fall + 1) / fall) ** 2),  # back to 0
        p["notch_amp"] * _hump(notch),
        -p["slow_amp"] * _hump(slow),
    ]
    return p["amplitude"] * np.concatenate(parts)


def _render_spike(ev: Event, sfreq: float, rng):
    wave = _spike_waveform(ev.params, sfreq)[: ev.length]
    weights = np.asarray(ev.params["weights"])
    rows = np.flatnonzero(weights > 0)
    return rows, weights[rows, None] * wave[None, :], None


def _spike_field(peak: int, sigma: float) -> np.ndarray:
    w = np.exp(-(_D()[peak] ** 2) / (2 * sigma**2))
    w[w < 0.05] = 0.0
    return w


# --------------------------------------------------------------------------- artifacts
_BLINK_FIELD = {"Fp1": 1.0, "Fp2": 1.0, "F7": 0.35, "F8": 0.35, "Fz": 0.35, "F3": 0.3, "F4": 0.3,
                "Cz": 0.08, "C3": 0.07, "C4": 0.07, "T7": 0.06, "T8": 0.06}  # fmt: skip
_MUSCLE_FIELD = {"F7": 1.0, "T7": 1.0, "P7": 0.6, "Fp1": 0.4, "F3": 0.3, "C3": 0.3, "O1": 0.15}


def _mirror(name: str) -> str:
    x, y, z = _layout.positions_cm()[_layout.index(name)]
    d = np.linalg.norm(_layout.positions_cm() - [x, -y, z], axis=1)
    return _layout.CHANNELS[int(np.argmin(d))]


def _render_blink(ev: Event, sfreq: float, rng):
    p = ev.params
    n = ev.length
    up = max(2, round(0.35 * n))
    shape = np.concatenate([_sin2_rise(up), np.cos(0.5 * np.pi * np.arange(1, n - up + 1) / (n - up)) ** 2])
    weights = np.zeros(_N)
    for name, w in _BLINK_FIELD.items():
        weights[_layout.index(name)] = w
    weights[_layout.index("Fp2")] *= p["asymmetry"]
    rows = np.flatnonzero(weights)
    return rows, p["amplitude"] * weights[rows, None] * shape[None, :], None


def _muscle_weights(side: str) -> np.ndarray:
    weights = np.zeros(_N)
    for name, w in _MUSCLE_FIELD.items():
        if side in ("left", "both"):
            weights[_layout.index(name)] = max(weights[_layout.index(name)], w)
        if side in ("right", "both"):
            weights[_layout.index(_mirror(name))] = max(weights[_layout.index(_mirror(name))], w)
    return weights


def _render_muscle(ev: Event, sfreq: float, rng):
    p = ev.params
    weights = _muscle_weights(p["side"])
    rows = np.flatnonzero(weights)
    n = ev.length
    pad = int(sfreq)
    # Motor-unit activity: broadband noise above 20 Hz, independent per electrode.
    sos = signal.butter(4, 20.0, "highpass", fs=sfreq, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal((rows.size, n + pad)), axis=-1)[:, pad:]
    noise /= noise.std(axis=-1, keepdims=True)
    ramp = max(2, round(0.1 * sfreq))
    env = np.ones(n)
    env[:ramp] = _sin2_rise(ramp)
    env[-ramp:] = _sin2_rise(ramp)[::-1]
    # Bursty: a slow random modulation of the contraction strength.
    mod = ndimage.uniform_filter1d(rng.standard_normal(n), max(1, round(0.3 * sfreq)), mode="nearest")
    mod = 1.0 + 0.5 * mod / (mod.std() + 1e-12)
    env *= np.clip(mod, 0.2, None)
    return rows, p["rms"] * weights[rows, None] * noise * env[None, :], None


def _render_pop(ev: Event, sfreq: float, rng):
    p = ev.params
    n = ev.length
    t = np.arange(n) / sfreq
    wave = p["amplitude"] * np.exp(-t / p["tau"])
    taper = max(2, n // 10)
    wave[-taper:] *= _sin2_rise(taper)[::-1]
    return np.array(ev.channels), wave[None, :], None


# --------------------------------------------------------------------------- seizures
_HIGHPASS_HZ = 0.5
_ONSET_RAMP, _OFFSET_RAMP = 1.5, 0.3  # s, fade of the ictal activity at recruitment and offset
_LVFA_B, _LVFA_G = 3.0, 30.0  # Wendling gains for low-voltage fast activity
_RHYTHM_B0 = 13.0  # slow inhibition at the start of the rhythmic phase (~11 Hz)
_BG_ATTENUATION = 0.5  # background reduced by this fraction in involved channels


def seizure_trajectories(recruit: np.ndarray, duration: float, b_end: float, t: np.ndarray):
    """Slow (B) and fast (G) inhibitory gains over time ``t`` (s from onset) per channel.

    Each channel stays at background until its recruitment time, then shows
    low-voltage fast activity (B very low, G high) for 15 % of its ictal time
    (2–8 s), then rhythmic discharges whose frequency falls and amplitude
    grows as B recovers from 13 to ``b_end`` mV; all channels stop at
    ``duration``.
    """
    b_bg, g_bg = _wendling.BACKGROUND_BG
    b = np.full((recruit.size, t.size), b_bg)
    g = np.full((recruit.size, t.size), g_bg)
    for i, t0 in enumerate(recruit):
        span = duration - t0
        lvfa = float(np.clip(0.15 * span, 2.0, 8.0))
        rel = t - t0
        fast = (rel >= 0) & (rel < lvfa)
        b[i, fast], g[i, fast] = _LVFA_B, _LVFA_G
        rhythm = (rel >= lvfa) & (t < duration)
        u = (rel[rhythm] - lvfa) / (span - lvfa)
        b[i, rhythm] = _RHYTHM_B0 + (b_end - _RHYTHM_B0) * u**1.5
        g[i, rhythm] = np.maximum(g_bg, _LVFA_G - (_LVFA_G - g_bg) * u / 0.15)
    return b, g


def _render_seizure(ev: Event, sfreq: float, rng):
    p = ev.params
    rows = np.array(ev.channels)
    recruit = np.asarray(p["recruit"])
    n = ev.length
    duration = n / sfreq
    lead = int(round(3.0 * sfreq))  # settle the model before the onset; discarded
    t = (np.arange(-lead, n) + 0.5) / sfreq
    b, g = seizure_trajectories(recruit, duration, p["b_end"], t)
    smooth = max(1, round(0.5 * sfreq))
    b = ndimage.uniform_filter1d(b, smooth, axis=-1, mode="nearest")
    g = ndimage.uniform_filter1d(g, smooth, axis=-1, mode="nearest")
    substeps = max(1, round(1000.0 / sfreq))
    # Sign: the model's sharp discharges are pyramidal depolarisations, seen
    # surface-negative on the scalp.
    eeg = -_wendling.integrate(b, g, substeps, sfreq, rng)
    sos = signal.butter(2, _HIGHPASS_HZ, "highpass", fs=sfreq, output="sos")
    eeg = signal.sosfiltfilt(sos, eeg, axis=-1)[:, lead:]
    t = t[lead:]
    env = np.zeros((rows.size, n))
    for i, t0 in enumerate(recruit):
        rel = t - t0
        env[i] = np.where(rel >= 0, np.sin(0.5 * np.pi * np.clip(rel / _ONSET_RAMP, 0, 1)) ** 2, 0.0)
    tail = duration - t
    env *= np.sin(0.5 * np.pi * np.clip(tail / _OFFSET_RAMP, 0, 1)) ** 2
    added = np.asarray(p["gain"])[:, None] * eeg * env
    # Volume conduction: each electrode sees a blend of its involved neighbours.
    d = _D()[np.ix_(rows, rows)]
    blend = np.exp(-(d**2) / (2 * 3.0**2))
    blend /= blend.sum(axis=1, keepdims=True)
    added = blend @ added
    return rows, added, 1.0 - _BG_ATTENUATION * env


_RENDER = {
    "sz": _render_seizure,
    "spike": _render_spike,
    "eyeblink": _render_blink,
    "muscle": _render_muscle,
    "electrode_pop": _render_pop,
}


# --------------------------------------------------------------------------- schedule
def artifact_counts(duration: float, artifacts: bool) -> dict[str, int]:
    """Number of artifacts of each kind: ``max(1, round(rate * hours))`` when on."""
    if not artifacts:
        return {kind: 0 for kind in ARTIFACT_RATES}
    return {kind: max(1, round(rate * duration / 3600.0)) for kind, rate in ARTIFACT_RATES.items()}


def _footprint_max(kind: str) -> float:
    return {
        "sz": SEIZURE_DURATION[1] + 2 * _SEIZURE_GUARD,
        "spike": _SPIKE_MAX + 2 * _GUARD,
        "eyeblink": _BLINK_LEN[1] + 2 * _GUARD,
        "muscle": _MUSCLE_LEN[1] + 2 * _GUARD,
        "electrode_pop": 5 * _POP_TAU[1] + 2 * _GUARD,
    }[kind]


def check_fits(duration: float, seizures: int, spikes: int, artifacts: bool) -> None:
    """Raise ParameterError unless the events surely fit into ``duration`` without overlapping."""
    counts = {"sz": seizures, "spike": spikes, **artifact_counts(duration, artifacts)}
    need = sum(n * _footprint_max(kind) for kind, n in counts.items())
    room = duration - 2 * _MARGIN
    if need > room:
        parts = []
        if seizures:
            parts.append(
                f"{seizures} seizure(s) of up to {SEIZURE_DURATION[1]:g} s with {_SEIZURE_GUARD:g} s of quiet either side"
            )
        if spikes:
            parts.append(f"{spikes} spike(s) of {_footprint_max('spike'):g} s each")
        if artifacts:
            parts.append("artifacts at " + ", ".join(f"{r:g}/h {k}" for k, r in ARTIFACT_RATES.items()))
        raise ParameterError(
            f"too many events for duration={duration:g} s: {' and '.join(parts)} need up to {need:.0f} s "
            f"but only {room:.0f} s are available; use a longer duration or fewer events."
        )


def schedule(n_times: int, sfreq: float, seizures: int, spikes: int, artifacts: bool, rng: np.random.Generator) -> list[Event]:
    """Plan all events: draw their parameters and place them without overlap.

    Placement is uniform over the non-overlapping arrangements: events (with
    their quiet guards) are put in random order and the free time is cut at
    sorted uniform points between them.
    """
    duration = n_times / sfreq
    dist = _D()
    focus = _layout.index(_SPIKE_FOCI[rng.integers(len(_SPIKE_FOCI))])
    items: list[tuple[Event, int]] = []  # (event, guard in samples)

    def samples(seconds: float) -> int:
        return max(1, round(seconds * sfreq))

    for i in range(seizures):
        dur = rng.uniform(*SEIZURE_DURATION)
        sz_focus = focus if rng.random() < 0.8 else int(rng.integers(_N))
        speed = rng.uniform(1.5, 4.0)  # cm/s
        radius = (6.0, 10.0, np.inf)[rng.choice(3, p=[0.4, 0.4, 0.2])]
        delay = dist[sz_focus] / speed
        involved = np.flatnonzero((dist[sz_focus] <= radius) & (delay <= 0.5 * dur))
        involved = involved[np.lexsort((involved, delay[involved]))]
        gain = rng.uniform(15.0, 22.0) * (0.7 + 0.3 * np.exp(-(dist[sz_focus, involved] ** 2) / (2 * 8.0**2)))
        params = {"recruit": delay[involved], "gain": gain, "b_end": rng.uniform(33.0, 38.0), "speed": speed}
        items.append((Event("sz", 0, samples(dur), tuple(int(c) for c in involved), i, params), samples(_SEIZURE_GUARD)))
    for i in range(spikes):
        peak = focus if rng.random() < 0.8 else int(rng.integers(_N))
        weights = _spike_field(peak, rng.uniform(2.5, 4.0))
        params = {
            "amplitude": rng.uniform(80.0, 220.0),
            "fall": rng.uniform(0.015, 0.045),
            "notch": rng.uniform(0.03, 0.05),
            "notch_amp": rng.uniform(0.05, 0.2),
            "slow": rng.uniform(0.15, 0.3),
            "slow_amp": rng.uniform(0.3, 0.6),
            "weights": weights,
        }
        length = _spike_waveform(params, sfreq).size
        listed = [peak] + [int(c) for c in np.argsort(-weights, kind="stable") if c != peak and weights[c] >= 0.3]
        items.append((Event("spike", 0, length, tuple(listed), i, params), samples(_GUARD)))
    counts = artifact_counts(duration, artifacts)
    blink_chans = tuple(_layout.index(n) for n, w in _BLINK_FIELD.items() if w >= 0.3)
    for i in range(counts["eyeblink"]):
        params = {"amplitude": rng.uniform(100.0, 250.0), "asymmetry": rng.uniform(0.85, 1.15)}
        items.append((Event("eyeblink", 0, samples(rng.uniform(*_BLINK_LEN)), blink_chans, i, params), samples(_GUARD)))
    for i in range(counts["muscle"]):
        side = ("left", "right", "both")[rng.choice(3, p=[0.4, 0.4, 0.2])]
        weights = _muscle_weights(side)
        chans = tuple(int(c) for c in np.argsort(-weights, kind="stable") if weights[c] >= 0.3)
        params = {"side": side, "rms": rng.uniform(15.0, 50.0)}
        items.append((Event("muscle", 0, samples(rng.uniform(*_MUSCLE_LEN)), chans, i, params), samples(_GUARD)))
    for i in range(counts["electrode_pop"]):
        chan = int(rng.integers(_N))
        tau = rng.uniform(*_POP_TAU)
        params = {"amplitude": rng.choice([-1.0, 1.0]) * rng.uniform(100.0, 500.0), "tau": tau}
        items.append((Event("electrode_pop", 0, samples(5 * tau), (chan,), i, params), samples(_GUARD)))

    if not items:
        return []
    margin = samples(_MARGIN)
    footprints = np.array([ev.length + 2 * guard for ev, guard in items])
    slack = n_times - 2 * margin - int(footprints.sum())
    if slack < 0:  # pragma: no cover - check_fits guarantees room
        raise ParameterError("too many events for the duration")
    order = rng.permutation(len(items))
    cuts = np.sort(rng.integers(0, slack + 1, size=len(items)))
    before = np.concatenate([[0], np.cumsum(footprints[order])[:-1]])
    for k, item in enumerate(order):
        ev, guard = items[item]
        ev.onset = int(margin + cuts[k] + before[k] + guard)
    return sorted((ev for ev, _ in items), key=lambda ev: ev.onset)
