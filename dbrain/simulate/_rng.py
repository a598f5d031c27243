"""Seeded random streams: every part of a recording draws from its own generator.

Each generator is derived from ``(seed, stream, index…)`` with NumPy's
``SeedSequence``, so a piece of the signal (a noise block, an event) is the
same whatever else is generated, and whatever the chunk size.
"""

from __future__ import annotations

import numpy as np

STREAM_BACKGROUND = 1
STREAM_WARMUP = 2
STREAM_SCHEDULE = 3
STREAM_EVENT = 4
STREAM_ECG = 5
STREAM_PARAMS = 6


def block_rng(seed: int, *key: int) -> np.random.Generator:
    """Return the generator for stream ``key`` of recording ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key))))
