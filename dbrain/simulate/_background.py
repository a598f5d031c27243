"""Background EEG: a linearised stochastic Jansen–Rit neural mass per electrode.

The Jansen–Rit model (Jansen & Rit 1995) has three populations (pyramidal
cells, excitatory and inhibitory interneurons) coupled through second-order
synaptic kernels ``h(t) = G k t exp(-k t)`` and a sigmoid firing-rate
function. Driven by noisy input ``p(t) = p0 + ξ(t)``, small fluctuations
around a stable fixed point obey the model linearised there, which is a
rational transfer function from ``ξ`` to the EEG (the pyramidal membrane
potential ``y1 - y2``). Background EEG is then white noise through an IIR
filter, which streams in chunks with the filter state carried across them.

Two operating points give the two rhythms of a waking adult EEG:

* just past the upper Hopf bifurcation (``p0`` ≈ 500–590 pulses/s) the fixed
  point is a weakly damped focus whose linearisation resonates at 9.5–10.5 Hz:
  the alpha rhythm, weighted towards occipital and parietal electrodes;
* on the low-activity branch (``p0`` = 90 pulses/s) the response is broadband
  low-pass: the irregular delta–theta–beta mix seen over all regions.

Inputs are spatially correlated (correlation ``exp(-d / λ)`` between
electrodes ``d`` cm apart), as volume conduction makes neighbouring scalp
electrodes see overlapping sources, and a small white amplifier-noise floor is
added.

The input noise is drawn uniform rather than Gaussian: it is three times
cheaper to draw and the filtered output is Gaussian all the same (central
limit theorem over the filters' long impulse responses).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import optimize, signal

from . import _layout
from ._rng import STREAM_BACKGROUND, STREAM_WARMUP, block_rng

# Jansen–Rit constants (Jansen & Rit 1995): sigmoid and synaptic parameters.
_E0, _V0, _R = 2.5, 6.0, 0.56
_A, _B, _a, _b, _C = 3.25, 22.0, 100.0, 50.0, 135.0

#: Input pulse density of the low-activity (broadband) operating point.
P_BROADBAND = 90.0
#: Range of input pulse density for the alpha operating point (sets the alpha peak frequency).
P_ALPHA_RANGE = (500.0, 590.0)

# Per-region RMS amplitude in µV of (alpha, broadband) activity.
_REGION_RMS = {
    "frontopolar": (3.0, 14.0),
    "frontal": (5.0, 12.0),
    "temporal": (7.0, 11.0),
    "central": (9.0, 10.5),
    "posterior_temporal": (14.0, 10.0),
    "parietal": (17.0, 10.0),
    "occipital": (22.0, 10.0),
}
_FLOOR_RMS = 0.8  # µV, white amplifier noise
_LAMBDA_ALPHA, _LAMBDA_BROADBAND = 8.0, 4.0  # cm, spatial correlation lengths

#: Samples per noise block. Noise is drawn block by block, each block from its
#: own seeded generator, so a sample's value does not depend on chunking.
BLOCK = 8192
_N = len(_layout.CHANNELS)


def _sigmoid(v):
    return 2 * _E0 / (1 + np.exp(_R * (_V0 - v)))


def _dsigmoid(v):
    s = _sigmoid(v)
    return _R * s * (1 - s / (2 * _E0))


def _fixed_points(p: float) -> list[float]:
    """Fixed points of Jansen–Rit as values of ``v = y1 - y2`` (mV), ascending."""
    c1, c2, c3, c4 = _C, 0.8 * _C, 0.25 * _C, 0.25 * _C

    def f(v):
        y0 = _A / _a * _sigmoid(v)
        return _A / _a * (p + c2 * _sigmoid(c1 * y0)) - _B / _b * c4 * _sigmoid(c3 * y0) - v

    grid = np.linspace(-20.0, 30.0, 2001)
    values = f(grid)
    return [optimize.brentq(f, grid[i], grid[i + 1]) for i in np.flatnonzero(values[:-1] * values[1:] < 0)]


def jansen_rit_transfer(p: float, branch: str) -> tuple[np.ndarray, np.ndarray]:
    """Continuous transfer function from input noise to EEG of Jansen–Rit linearised at ``p``.

    Parameters
    ----------
    p : float
        Mean input pulse density (pulses/s).
    branch : ``'low'`` | ``'high'``
        Which fixed point to linearise around when there are several.

    Returns
    -------
    num, den : ndarray
        Polynomial coefficients in ``s`` (highest power first); ``den`` has
        order 6 and ``num`` order 4.
    """
    roots = _fixed_points(p)
    v = roots[0] if branch == "low" else roots[-1]
    c1, c2, c3, c4 = _C, 0.8 * _C, 0.25 * _C, 0.25 * _C
    y0 = _A / _a * _sigmoid(v)
    k0 = _dsigmoid(v)  # pyramidal output gain
    k1 = c1 * c2 * _dsigmoid(c1 * y0)  # loop through excitatory interneurons
    k2 = c3 * c4 * _dsigmoid(c3 * y0)  # loop through inhibitory interneurons
    ne, de = np.array([_A * _a]), np.polymul([1, _a], [1, _a])  # He(s) = ne / de
    ni, di = np.array([_B * _b]), np.polymul([1, _b], [1, _b])  # Hi(s) = ni / di
    # V = He P + (He k1 - Hi k2) Y0 and Y0 = He k0 V, hence
    # V / P = He / (1 - k0 k1 He^2 + k0 k2 He Hi).
    num = np.polymul(ne, np.polymul(de, di))
    den = np.polymul(np.polymul(de, de), di)
    den = np.polysub(den, k0 * k1 * np.polymul(np.polymul(ne, ne), di))
    den = np.polyadd(den, k0 * k2 * np.polymul(np.polymul(ne, ni), de))
    return num, den


@functools.cache
def unit_sos(p: float, branch: str, sfreq: float) -> np.ndarray:
    """Digital (bilinear) second-order sections of the linearised model, scaled to unit output variance."""
    num, den = jansen_rit_transfer(p, branch)
    if np.any(np.roots(den).real >= 0):  # pragma: no cover - parameters are fixed and checked in tests
        raise RuntimeError(f"Jansen-Rit fixed point at p={p} ({branch}) is not stable")
    bz, az = signal.bilinear(num, den, fs=sfreq)
    sos = signal.tf2sos(bz, az)
    impulse = np.zeros(int(60 * sfreq))
    impulse[0] = 1.0
    sos[0, :3] /= np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2))
    sos.setflags(write=False)
    return sos


def _spatial_factor(length_cm: float) -> np.ndarray:
    return np.linalg.cholesky(np.exp(-_layout.distances_cm() / length_cm))


class Background:
    """Stream of background EEG in µV, shape (19, n) per call, continuous across calls.

    Parameters
    ----------
    sfreq : float
        Sampling rate.
    seed : int
        Seed of the recording.
    params : numpy.random.Generator
        Draws the per-recording parameters (alpha frequency, regional gains).
    """

    def __init__(self, sfreq: float, seed: int, params: np.random.Generator):
        self.sfreq = sfreq
        self.seed = seed
        self.p_alpha = round(float(params.uniform(*P_ALPHA_RANGE)), 1)
        self.sos_alpha = unit_sos(self.p_alpha, "high", sfreq).copy()
        self.sos_broad = unit_sos(P_BROADBAND, "low", sfreq).copy()
        rms = np.array([_REGION_RMS[_layout.REGIONS[name]] for name in _layout.CHANNELS])
        rms = rms * params.uniform(0.85, 1.15, size=rms.shape)
        self.mix_alpha = rms[:, :1] * _spatial_factor(_LAMBDA_ALPHA)
        self.mix_broad = rms[:, 1:] * _spatial_factor(_LAMBDA_BROADBAND)
        self._block_index = -1
        self._block = None
        self._pos = 0
        # Start the filters in their stationary state: run them over 30 s of noise first.
        warm = self._inputs(block_rng(seed, STREAM_WARMUP, 0), int(30 * sfreq))
        zero = np.zeros((self.sos_alpha.shape[0], _N, 2))
        _, self._zi_alpha = signal.sosfilt(self.sos_alpha, warm[0], axis=-1, zi=zero)
        _, self._zi_broad = signal.sosfilt(self.sos_broad, warm[1], axis=-1, zi=zero.copy())

    def _inputs(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Input noise, shape (3, 19, n): alpha drive, broadband drive, amplifier floor.

        The drives are spatially mixed; the floor is white and independent per channel.
        """
        noise = rng.random((3 * _N, n))
        noise -= 0.5
        noise *= np.sqrt(12.0)
        out = np.empty((3, _N, n))
        np.matmul(self.mix_alpha, noise[:_N], out=out[0])
        np.matmul(self.mix_broad, noise[_N : 2 * _N], out=out[1])
        np.multiply(noise[2 * _N :], _FLOOR_RMS, out=out[2])
        return out

    def _get_block(self, b: int) -> np.ndarray:
        if b != self._block_index:
            self._block = self._inputs(block_rng(self.seed, STREAM_BACKGROUND, b), BLOCK)
            self._block_index = b
        return self._block

    def render(self, start: int, stop: int) -> np.ndarray:
        """Background for samples ``start:stop``; calls must be consecutive."""
        if start != self._pos:
            raise RuntimeError(f"background must be rendered in order (at {self._pos}, asked {start})")
        n = stop - start
        inputs = np.empty((3, _N, n))
        pos = start
        while pos < stop:
            b, offset = divmod(pos, BLOCK)
            take = min(BLOCK - offset, stop - pos)
            inputs[:, :, pos - start : pos - start + take] = self._get_block(b)[:, :, offset : offset + take]
            pos += take
        alpha, self._zi_alpha = signal.sosfilt(self.sos_alpha, inputs[0], axis=-1, zi=self._zi_alpha)
        broad, self._zi_broad = signal.sosfilt(self.sos_broad, inputs[1], axis=-1, zi=self._zi_broad)
        alpha += broad
        alpha += inputs[2]
        self._pos = stop
        return alpha
