"""Seizure dynamics: the Wendling et al. (2002) neural mass, integrated per channel.

Wendling's model extends Jansen–Rit with a second, fast (somatic, GABA_A,fast)
inhibitory population. Lowering the slow dendritic inhibition ``B`` and
raising the fast inhibition ``G`` moves one population from background
activity through low-voltage fast activity (≈ 25–30 Hz) to rhythmic discharges
whose frequency falls (≈ 11 → 3.5 Hz) and amplitude grows as ``B`` recovers,
the evolution seen at the onset of focal seizures.

State per channel: five second-order synaptic kernels (``y0 … y4`` and their
derivatives). The linear part of each kernel is propagated exactly with a
matrix exponential (an exponential Euler integrator) and the sigmoid
nonlinearity is held over each step, so a step of about 1 ms is stable and
accurate even for the 2 ms fast-inhibitory kernel. All channels of a seizure
are integrated together, vectorised.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import linalg

_E0, _V0, _R = 2.5, 6.0, 0.56
_C = 135.0
_C1, _C2, _C3, _C4, _C5, _C6, _C7 = _C, 0.8 * _C, 0.25 * _C, 0.25 * _C, 0.3 * _C, 0.1 * _C, 0.8 * _C
# Rates (1/s) of the kernels: pyramidal->interneurons, excitatory feedback,
# slow inhibition, fast inhibition, slow->fast inhibition.
_RATES = np.array([100.0, 100.0, 50.0, 500.0, 50.0])

#: Excitatory gain A (mV) used throughout.
A_EXC = 5.0
#: (B, G) of normal background activity.
BACKGROUND_BG = (50.0, 15.0)
#: Input pulse density: mean and standard deviation per integration step.
P_MEAN, P_STD = 90.0, 30.0

# Sigmoid arguments as linear maps of the state x = [y0..y4, dy0..dy4]:
# v0 = y1 - y2 - y3 (pyramidal), C1 y0 (excitatory), C3 y0 (slow inhibitory),
# C5 y0 - C6 y4 (fast inhibitory).
_M = np.zeros((4, 10))
_M[0, 1], _M[0, 2], _M[0, 3] = 1.0, -1.0, -1.0
_M[1, 0] = _C1
_M[2, 0] = _C3
_M[3, 0], _M[3, 4] = _C5, -_C6
# Kernel inputs from the four firing rates (before the gains A, A, B, G, B).
_W = np.zeros((5, 4))
_W[0, 0], _W[1, 1], _W[2, 2], _W[3, 3], _W[4, 2] = 1.0, _C2, _C4, _C7, 1.0
# EEG read-out: y1 - y2 - y3.
_OUT = np.array([0.0, 1.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


@functools.cache
def _propagators(dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact one-step maps of the linear kernels: x' = Phi x + Gamma u (u held over the step)."""
    phi = np.zeros((10, 10))
    gamma = np.zeros((10, 5))
    for i, k in enumerate(_RATES):
        cont = np.array([[0.0, 1.0, 0.0], [-(k**2), -2 * k, k], [0.0, 0.0, 0.0]])
        step = linalg.expm(cont * dt)
        phi[np.ix_([i, 5 + i], [i, 5 + i])] = step[:2, :2]
        gamma[[i, 5 + i], i] = step[:2, 2]
    return phi, gamma


def integrate(
    b_gain: np.ndarray, g_gain: np.ndarray, substeps: int, sfreq: float, rng: np.random.Generator, *, common: float = 0.5
) -> np.ndarray:
    """Integrate the model with time-varying inhibitory gains.

    Parameters
    ----------
    b_gain, g_gain : ndarray, shape (n_channels, n_samples)
        Slow (B) and fast (G) inhibitory gains in mV at each output sample,
        held over its ``substeps`` integration steps.
    substeps : int
        Integration steps per output sample (step ``1 / (sfreq * substeps)``).
    sfreq : float
        Output sampling rate.
    rng : numpy.random.Generator
        Draws the input noise.
    common : float
        Fraction of input-noise variance shared by all channels.

    Returns
    -------
    eeg : ndarray, shape (n_channels, n_samples)
        Pyramidal membrane potential ``y1 - y2 - y3`` in mV, averaged over
        each sample's steps.
    """
    n_ch, n_samples = b_gain.shape
    dt = 1.0 / (sfreq * substeps)
    phi, gamma = _propagators(dt)
    arg_map = -_R * _M
    arg_offset = _R * _V0
    n_steps = n_samples * substeps
    noise = rng.standard_normal((n_steps, n_ch + 1))
    drive = np.sqrt(1 - common) * noise[:, 1:]
    drive += np.sqrt(common) * noise[:, :1]
    drive *= P_STD
    drive += P_MEAN
    gains = np.empty((n_samples, 5, n_ch))
    gains[:, 0] = gains[:, 1] = A_EXC
    gains[:, 2] = gains[:, 4] = b_gain.T
    gains[:, 3] = g_gain.T
    # Start at the background fixed point's neighbourhood: y0 settles within a
    # few hundred ms, and callers discard a lead-in.
    x = np.zeros((10, n_ch))
    rates = np.empty((4, n_ch))
    out = np.empty((n_steps, n_ch))
    two_e0 = 2 * _E0
    for step in range(n_steps):
        arg = arg_map @ x
        arg += arg_offset
        np.exp(arg, out=arg)
        arg += 1.0
        np.divide(two_e0, arg, out=rates)
        u = _W @ rates
        u[1] += drive[step]
        u *= gains[step // substeps]
        x = phi @ x
        x += gamma @ u
        np.dot(_OUT, x, out=out[step])
    return out.reshape(n_samples, substeps, n_ch).mean(axis=1).T
