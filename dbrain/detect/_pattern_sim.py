"""Simulated ICU patterns of the ACNS 2021 continuum, for training and checking the pattern and seizure models.

:func:`simulate_pattern` draws one referential 19-channel segment (µV) of a
class: ``seizure`` (evolving rhythmic discharges at 2.5–6 Hz spreading from a
focus), ``lpd`` / ``gpd`` (sharp discharges recurring at 0.5–2.5 Hz with
flatter intervals, one hemisphere / both), ``lrda`` / ``grda`` (rhythmic
delta at 0.7–3.5 Hz without intervals, one hemisphere / both) and ``other``
(background, blinks, isolated transients, polymorphic slowing, artifacts),
each in several drawn forms (see :func:`simulate_pattern`). Every
parameter (frequency, amplitude, field, jitter, background level) is drawn
from a seed, so a seed range is a data set and disjoint ranges are
independent. They are simple generative caricatures of the definitions, not
recordings: a model that does well only on them has learned the definitions,
not real EEG.
"""

from __future__ import annotations

import numpy as np

#: Channel order of the simulated segments (that of the IIIC segments; T3/T4/T5/T6 names).
SIM_CHANNELS = ("Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz", "Pz", "Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2")  # fmt: skip
SIM_CLASSES = ("seizure", "lpd", "gpd", "lrda", "grda", "other")
_LEFT = {"Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1"}
_RIGHT = {"Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2"}
# Rough 2-D scalp positions (x: left -1 … right 1, y: back -1 … front 1) for fields that fall off with distance.
_POS = {
    "Fp1": (-0.3, 1.0), "F3": (-0.4, 0.5), "C3": (-0.5, 0.0), "P3": (-0.4, -0.5), "F7": (-0.8, 0.6), "T3": (-1.0, 0.0),
    "T5": (-0.8, -0.6), "O1": (-0.3, -1.0), "Fz": (0.0, 0.5), "Cz": (0.0, 0.0), "Pz": (0.0, -0.5), "Fp2": (0.3, 1.0),
    "F4": (0.4, 0.5), "C4": (0.5, 0.0), "P4": (0.4, -0.5), "F8": (0.8, 0.6), "T4": (1.0, 0.0), "T6": (0.8, -0.6),
    "O2": (0.3, -1.0),
}  # fmt: skip


def _background(rng, n_ch: int, n: int, sfreq: float, level: float) -> np.ndarray:
    """Spatially correlated 1/f background with a posterior-dominant-like rhythm, ``level`` µV RMS.

    The slope (0.6-1.6: from alert to diffusely slow, polymorphic) and the
    rhythm (4-12 Hz, weak to dominant) are drawn, so "background" covers
    normal awake EEG as well as the slow, disorganised ICU background.
    """
    f = np.fft.rfftfreq(n, 1.0 / sfreq)
    shape = 1.0 / np.maximum(f, 0.5) ** rng.uniform(0.6, 1.6)
    shape[f > 40] *= np.exp(-(f[f > 40] - 40) / 5.0)
    peak = rng.uniform(4.0, 12.0)
    shape += rng.uniform(0.2, 6.0) * shape[np.argmin(np.abs(f - peak))] * np.exp(-0.5 * ((f - peak) / 1.0) ** 2)
    spec = (rng.standard_normal((n_ch + 1, f.size)) + 1j * rng.standard_normal((n_ch + 1, f.size))) * shape
    x = np.fft.irfft(spec, n=n, axis=-1)
    x = 0.7 * x[:-1] + 0.5 * x[-1:]  # a common component: neighbouring electrodes correlate
    return level * x / x.std()


def _field(rng, names, kind: str) -> np.ndarray:
    """Amplitude weight of each electrode: a focus on one side (lateralised) or both (generalised)."""
    if kind == "lateralised":
        side = rng.choice([-1.0, 1.0])
        focus = np.array([side * rng.uniform(0.4, 1.0), rng.uniform(-0.8, 0.8)])
        d = np.array([np.hypot(*(np.array(_POS[c]) - focus)) for c in names])
        w = np.exp(-((d / rng.uniform(0.5, 0.8)) ** 2))
        w[[(c in _LEFT) if side > 0 else (c in _RIGHT) for c in names]] *= rng.uniform(0.05, 0.25)
    else:
        front = rng.uniform(0.0, 0.6)  # frontal predominance, common in GPD/GRDA
        w = np.array([1.0 + front * _POS[c][1] for c in names]) * rng.uniform(0.8, 1.2, len(names))
    return w / w.max()


def _discharge(sfreq: float, width: float, rng) -> np.ndarray:
    """One sharp (triphasic-ish) discharge: a sharp negative phase then a slower positive wave."""
    t = np.arange(int(round(4 * width * sfreq))) / sfreq
    sharp = -np.exp(-0.5 * ((t - width) / (0.25 * width)) ** 2)
    slow = rng.uniform(0.3, 0.8) * np.exp(-0.5 * ((t - 2.2 * width) / (0.7 * width)) ** 2)
    return sharp + slow


def _discharge_shape(sfreq: float, rng) -> np.ndarray:
    """A discharge of drawn morphology: sharp (spiky, biphasic), blunt triphasic, or polyspike."""
    style = rng.choice(["sharp", "triphasic", "polyspike"], p=[0.5, 0.3, 0.2])
    if style == "sharp":
        return _discharge(sfreq, rng.uniform(0.04, 0.12), rng)
    if style == "triphasic":  # small positive, large negative-going blunt wave, slow positive (GPD of metabolic coma)
        width = rng.uniform(0.08, 0.2)
        t = np.arange(int(round(5 * width * sfreq))) / sfreq
        return (
            0.3 * np.exp(-0.5 * ((t - 0.6 * width) / (0.25 * width)) ** 2)
            - np.exp(-0.5 * ((t - 1.5 * width) / (0.4 * width)) ** 2)
            + 0.5 * np.exp(-0.5 * ((t - 3.0 * width) / (0.8 * width)) ** 2)
        )
    one = _discharge(sfreq, rng.uniform(0.03, 0.06), rng)
    gap = int(rng.uniform(0.05, 0.1) * sfreq)
    out = np.zeros(one.size + 2 * gap)
    for j in range(int(rng.integers(2, 4))):  # 2 or 3 spikes, each a little smaller
        out[j * gap : j * gap + one.size] += one * (1.0 - 0.2 * j)
    return out


def _train(n: int, sfreq: float, rate, rng, wave=None) -> np.ndarray:
    """Discharges recurring at ``rate`` Hz (a number, or an array: the rate at each sample) with ±15 % jitter."""
    wave = _discharge_shape(sfreq, rng) if wave is None else wave
    sig = np.zeros(n)
    rate = np.broadcast_to(np.asarray(rate, float), (n,))
    k = rng.uniform(0, 1.0 / rate[0])
    while k < n / sfreq:
        i = int(k * sfreq)
        m = min(wave.size, n - i)
        sig[i : i + m] += wave[:m] * rng.uniform(0.8, 1.2)
        k += (1.0 / rate[i]) * rng.uniform(0.85, 1.15)
    return sig


def _blinks_and_transient(x, names, w, t, duration: float, sfreq: float, rng) -> None:
    """Add 0-5 eye blinks (frontal-polar field) and, half the time, one isolated sharp transient to ``x`` in place."""
    n = x.shape[-1]
    for _ in range(rng.integers(0, 6)):
        c = rng.uniform(0, duration)
        blink = -rng.uniform(60, 200) * np.exp(-0.5 * ((t - c) / 0.12) ** 2)
        fp = np.array(
            [{"Fp1": 1.0, "Fp2": 1.0, "F7": 0.3, "F8": 0.3, "F3": 0.2, "F4": 0.2, "Fz": 0.2}.get(ch, 0.0) for ch in names]
        )
        x += fp[:, None] * blink[None, :]
    if rng.random() < 0.5:
        i = int(rng.uniform(0, duration - 1) * sfreq)
        wave = _discharge(sfreq, 0.06, rng)
        m = min(wave.size, n - i)
        x[:, i : i + m] += rng.uniform(40, 100) * w[:, None] * wave[None, :m]


def _side(names, w, lateral: bool) -> str:
    """'generalised', or the hemisphere holding more of the field ``w``."""
    left = sum(wi for c, wi in zip(names, w, strict=True) if c in _LEFT)
    right = sum(wi for c, wi in zip(names, w, strict=True) if c in _RIGHT)
    return "generalised" if not lateral else ("left" if left > right else "right")


def simulate_pattern(kind: str, *, duration: float = 50.0, sfreq: float = 200.0, seed: int = 0, varied: bool = True):
    """One simulated segment of an ICU pattern class.

    Every class comes in several forms, drawn from the seed: seizures as
    evolving fast rhythms (2.5–6 Hz, slowing), evolving rhythmic delta that
    accelerates into theta, sustained spike-and-wave at 2.5–4 Hz, or periodic
    discharges that accelerate past 2.5 Hz; LPD/GPD with sharp, blunt
    triphasic or polyspike discharges at 0.4–2.4 Hz (GPD with a front-to-back
    lag); LRDA/GRDA at 0.7–3.5 Hz with drawn amplitude modulation; "other" as
    background (alert to diffusely slow) with blinks, isolated transients,
    polymorphic delta slowing, muscle or electrode artifacts. The whole
    segment is finally scaled by a factor drawn log-uniformly in 0.4–2.5,
    so absolute amplitude carries little of the class.

    Parameters
    ----------
    kind : {"seizure", "lpd", "gpd", "lrda", "grda", "other"}
        The class.
    duration : float
        Length in seconds (the pattern fills the whole segment).
    sfreq : float
        Sampling rate in Hz.
    seed : int
        Seed of every random draw.
    varied : bool
        The several forms per class and the amplitude scaling described
        above (True), or the first simulator's single form per class
        (False: evolving 2.5–6 Hz seizures, sharp discharges, 1–3 Hz rhythmic
        delta, background with blinks; what seizure model v2 was trained on).

    Returns
    -------
    data : ndarray, shape (19, n_times)
        Referential EEG in µV, channels :data:`SIM_CHANNELS`.
    info : dict
        ``kind``, ``form`` (which form of the class), ``frequency`` (Hz of the
        pattern; NaN for "other"), ``side``.
    """
    if kind not in SIM_CLASSES:
        raise ValueError(f"kind must be one of {SIM_CLASSES}, got {kind!r}")
    return (_varied if varied else _basic)(kind, float(duration), float(sfreq), int(seed))


def _varied(kind: str, duration: float, sfreq: float, seed: int):
    """Several forms per class, scaled (see :func:`simulate_pattern`)."""
    rng = np.random.default_rng([seed, SIM_CLASSES.index(kind)])
    names = list(SIM_CHANNELS)
    n = int(round(duration * sfreq))
    t = np.arange(n) / sfreq
    x = _background(rng, len(names), n, sfreq, rng.uniform(8.0, 30.0))
    info = {"kind": kind, "form": kind, "frequency": float("nan"), "side": "n/a"}
    lateral = kind in ("lpd", "lrda") or (kind == "seizure" and rng.random() < 0.6)
    w = _field(rng, names, "lateralised" if lateral else "generalised")
    ypos = np.array([_POS[c][1] for c in names])
    if kind in ("lpd", "gpd"):
        freq = rng.uniform(0.4, 2.4)
        amp = np.exp(rng.uniform(np.log(30.0), np.log(200.0)))
        sig = _train(n, sfreq, freq, rng)
        if kind == "gpd" and rng.random() < 0.5:  # front-to-back lag of up to 100 ms (triphasic GPDs)
            lag = (1.0 - ypos) / 2 * rng.uniform(0.0, 0.1)
            x += amp * w[:, None] * np.stack([np.roll(sig, int(li * sfreq)) for li in lag])
        else:
            x += amp * w[:, None] * sig[None, :]
        info["frequency"] = float(freq)
    elif kind in ("lrda", "grda"):
        freq = rng.uniform(0.7, 3.5)
        amp = np.exp(rng.uniform(np.log(25.0), np.log(150.0)))
        drift = np.cumsum(rng.normal(0, 0.02, n)) / np.sqrt(sfreq)  # slight frequency wander
        sig = np.sin(2 * np.pi * freq * t + drift + rng.uniform(0, 2 * np.pi))
        sig += rng.uniform(0.0, 0.4) * np.sin(4 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))  # notched / sharpened waves
        env = 1.0 + rng.uniform(0.0, 0.5) * np.sin(2 * np.pi * t / rng.uniform(4, 15))
        x += amp * w[:, None] * (env * sig)[None, :]
        info["frequency"] = float(freq)
    elif kind == "seizure":
        form = rng.choice(["fast", "rda_evolving", "spike_wave", "pd_evolving"], p=[0.35, 0.25, 0.2, 0.2])
        info["form"] = str(form)
        onset = rng.uniform(0.0, 0.3) * duration
        frac = np.clip((t - onset) / max(duration - onset, 1e-9), 0, 1)
        on = t >= onset
        if form == "fast":  # faster at onset, slowing, growing
            f0, f1 = rng.uniform(3.0, 6.0), rng.uniform(2.5, 4.0)
            phase = 2 * np.pi * np.cumsum(f0 + (f1 - f0) * frac) / sfreq
            wave = np.sin(phase) + rng.uniform(0.3, 0.8) * np.sin(2 * phase + 0.5)
            amp0, amp1 = rng.uniform(20.0, 50.0), rng.uniform(80.0, 200.0)
            env = np.where(on, amp0 + (amp1 - amp0) * frac, 0.0)
            f_mean = (f0 + f1) / 2
        elif form == "rda_evolving":  # rhythmic delta that accelerates into theta (evolution in frequency)
            f0, f1 = rng.uniform(1.2, 2.5), rng.uniform(3.0, 5.5)
            phase = 2 * np.pi * np.cumsum(f0 + (f1 - f0) * frac) / sfreq
            wave = np.sin(phase) + rng.uniform(0.2, 0.6) * np.sin(2 * phase + 0.3)
            env = np.where(on, rng.uniform(30.0, 80.0) * (1.0 + rng.uniform(0.5, 2.0) * frac), 0.0)
            f_mean = (f0 + f1) / 2
        elif form == "spike_wave":  # sustained spike-and-wave, often generalised, slowing a little
            f0 = rng.uniform(2.5, 4.0)
            f1 = f0 * rng.uniform(0.8, 1.0)
            phase = 2 * np.pi * np.cumsum(f0 + (f1 - f0) * frac) / sfreq
            spike = np.exp(-0.5 * (((phase % (2 * np.pi)) - 0.3) / 0.15) ** 2)
            wave = np.sin(phase - np.pi / 2) * 0.6 - 1.5 * spike
            env = np.where(on, rng.uniform(60.0, 250.0), 0.0)
            f_mean = (f0 + f1) / 2
        else:  # periodic discharges that accelerate past 2.5 Hz
            f0, f1 = rng.uniform(1.0, 2.0), rng.uniform(2.8, 4.0)
            wave = _train(n, sfreq, f0 + (f1 - f0) * frac, rng, _discharge(sfreq, rng.uniform(0.03, 0.07), rng))
            env = np.where(on, rng.uniform(50.0, 150.0) * (1.0 + rng.uniform(0.0, 1.0) * frac), 0.0)
            f_mean = (f0 + f1) / 2
        # spread: the field widens from the focus as the seizure evolves
        spread = w[:, None] ** (1.0 - 0.8 * frac[None, :])
        x += env[None, :] * spread * wave[None, :]
        info["frequency"] = float(f_mean)
    else:  # other: background with blinks / transients, polymorphic slowing, or artifacts
        form = rng.choice(["background", "slowing", "artifact"], p=[0.5, 0.3, 0.2])
        info["form"] = str(form)
        if form == "slowing":  # irregular (polymorphic) delta: broadband 0.5-4 Hz, no single rhythm
            f = np.fft.rfftfreq(n, 1.0 / sfreq)
            shape = ((f >= 0.5) & (f <= 4.0)) / np.maximum(f, 0.5) ** 0.5
            spec = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) * shape
            slow = np.fft.irfft(spec, n=n)
            fld = w if rng.random() < 0.5 else _field(rng, names, "lateralised")
            x += rng.uniform(20.0, 80.0) * fld[:, None] * (slow / slow.std())[None, :]
        elif form == "artifact":  # muscle bursts on temporal electrodes and electrode pops
            temporal = np.array([c in ("F7", "T3", "T5", "F8", "T4", "T6") for c in names], float)
            for _ in range(int(rng.integers(1, 5))):
                c0, c1 = sorted(rng.uniform(0, duration, 2))
                burst = ((t >= c0) & (t < c0 + min(c1 - c0, 4.0))) * rng.standard_normal(n)
                x += rng.uniform(10, 40) * temporal[:, None] * burst[None, :]
            for _ in range(int(rng.integers(0, 4))):
                ch, i = int(rng.integers(len(names))), int(rng.uniform(0, duration - 1) * sfreq)
                m = min(int(0.5 * sfreq), n - i)
                x[ch, i : i + m] += rng.uniform(50, 200) * np.exp(-np.arange(m) / (0.1 * sfreq))
        _blinks_and_transient(x, names, w, t, duration, sfreq, rng)
    if kind != "other":
        info["side"] = _side(names, w, lateral)
    x *= np.exp(rng.uniform(np.log(0.4), np.log(2.5)))  # absolute amplitude carries little of the class
    return x.astype(np.float32), info


def _basic(kind: str, duration: float, sfreq: float, seed: int):
    """The first simulator (model v2 of the seizure detector was trained on it): one form per class."""
    rng = np.random.default_rng([seed, SIM_CLASSES.index(kind)])
    names = list(SIM_CHANNELS)
    n = int(round(duration * sfreq))
    t = np.arange(n) / sfreq
    x = _background(rng, len(names), n, sfreq, rng.uniform(8.0, 25.0))
    info = {"kind": kind, "form": kind, "frequency": float("nan"), "side": "n/a"}
    lateral = kind in ("lpd", "lrda") or (kind == "seizure" and rng.random() < 0.7)
    w = _field(rng, names, "lateralised" if lateral else "generalised")
    if kind in ("lpd", "gpd"):
        freq = rng.uniform(0.5, 2.4)
        amp = rng.uniform(40.0, 150.0)
        wave = _discharge(sfreq, rng.uniform(0.04, 0.12), rng)
        sig = np.zeros(n)
        k = rng.uniform(0, 1.0 / freq)
        while k < duration:
            i = int(k * sfreq)
            m = min(wave.size, n - i)
            sig[i : i + m] += wave[:m] * rng.uniform(0.8, 1.2)
            k += (1.0 / freq) * rng.uniform(0.85, 1.15)
        x += amp * w[:, None] * sig[None, :]
        info["frequency"] = float(freq)
    elif kind in ("lrda", "grda"):
        freq = rng.uniform(1.0, 3.0)
        amp = rng.uniform(30.0, 100.0)
        drift = np.cumsum(rng.normal(0, 0.02, n)) / np.sqrt(sfreq)  # slight frequency wander
        sig = np.sin(2 * np.pi * freq * t + drift + rng.uniform(0, 2 * np.pi))
        sig += rng.uniform(0.0, 0.3) * np.sin(4 * np.pi * freq * t)  # some harmonic (notched waves)
        env = 1.0 + 0.2 * np.sin(2 * np.pi * t / rng.uniform(5, 15))
        x += amp * w[:, None] * (env * sig)[None, :]
        info["frequency"] = float(freq)
    elif kind == "seizure":
        f0, f1 = rng.uniform(3.0, 6.0), rng.uniform(2.5, 4.0)  # evolution: faster at onset, slowing
        amp0, amp1 = rng.uniform(20.0, 50.0), rng.uniform(80.0, 200.0)
        onset = rng.uniform(0.0, 0.3) * duration
        frac = np.clip((t - onset) / max(duration - onset, 1e-9), 0, 1)
        phase = 2 * np.pi * np.cumsum(f0 + (f1 - f0) * frac) / sfreq
        wave = np.sin(phase) + rng.uniform(0.3, 0.8) * np.sin(2 * phase + 0.5)  # sharpened rhythm
        env = np.where(t >= onset, amp0 + (amp1 - amp0) * frac, 0.0)
        # spread: the field widens from the focus as the seizure evolves
        spread = w[:, None] ** (1.0 - 0.8 * frac[None, :])
        x += env[None, :] * spread * wave[None, :]
        info["frequency"] = float((f0 + f1) / 2)
    else:  # other: background, sometimes blinks and an isolated sharp transient
        _blinks_and_transient(x, names, w, t, duration, sfreq, rng)
    if kind != "other":
        info["side"] = _side(names, w, lateral)
    return x.astype(np.float32), info
