"""Realistic ward updates computed from a real recording, for the ward tests (until ``dbrain monitor --post`` drives them).

Everything a monitor would post is computed from the recording's samples:
the seizure probability of each second is the file-path detector's (the
stream path gives the same per second, issue #21), the DSA is each
hemisphere's Welch spectrum of the last 2 s in dB, the strip is the last
second of four channels decimated to 50 Hz, and the seizure alarm is raised
at the end of the first second whose smoothed probability reaches the
detector's "on" threshold at or after a detected seizure's onset, with the
detection's onset, confidence and channels.
"""

from __future__ import annotations

import functools
import time
import uuid
from pathlib import Path

import numpy as np

import dbrain

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"
LEFT = ("Fp1", "F3", "C3", "P3", "F7", "T7", "P7", "O1")
RIGHT = ("Fp2", "F4", "C4", "P4", "F8", "T8", "P8", "O2")
STRIP = ("F3", "C3", "F4", "C4")
STRIP_SFREQ = 50.0
DSA_FREQS = np.arange(1.0, 21.0)


@functools.cache
def replay(path: Path = SAMPLE) -> tuple[list[dict], list[dict]]:
    """Per second of ``path``: the frame a monitor would post, and the alarms it would raise then.

    Parameters
    ----------
    path : Path
        A recording readable by :func:`dbrain.io.read_recording` with 10-20 EEG channels.

    Returns
    -------
    frames : list of dict
        One per whole second, ``wall`` left 0 (set when posting).
    alarms : list of dict
        ``{"second": i, "alarm": {...}}``: raised at the end of second ``i``.
    """
    from scipy.signal import decimate, welch

    from dbrain.detect._seizures import SeizureDetector
    from dbrain.io import read_recording

    raw, _ = read_recording(path)
    sfreq = float(raw.info["sfreq"])
    data = raw.get_data(picks=[*LEFT, *RIGHT]) * 1e6  # µV
    result = SeizureDetector().run(raw)
    strip_raw = raw.get_data(picks=list(STRIP)) * 1e6
    q = int(round(sfreq / STRIP_SFREQ))
    strip = decimate(strip_raw, q, axis=1, zero_phase=True)
    n_sec = min(len(result.probability), int(data.shape[1] // sfreq))
    frames = []
    for s in range(n_sec):
        a, b = int(max(0, s - 1) * sfreq), int((s + 1) * sfreq)
        f, p = welch(data[:, a:b], fs=sfreq, nperseg=int(sfreq), axis=1)
        keep = [int(np.argmin(np.abs(f - x))) for x in DSA_FREQS]
        db = 10 * np.log10(np.maximum(p[:, keep], 1e-6))
        piece = strip[:, int(s * STRIP_SFREQ) : int((s + 1) * STRIP_SFREQ)]
        scale = max(float(np.abs(piece).max()) / 32000.0, 0.01)
        frames.append(
            {
                "t": float(s),
                "wall": 0.0,
                "seizure_probability": float(result.probability[s]),
                "dsa": {
                    "freqs": DSA_FREQS.tolist(),
                    "left": np.round(db[: len(LEFT)].mean(0), 2).tolist(),
                    "right": np.round(db[len(LEFT) :].mean(0), 2).tolist(),
                },
                "strip": {
                    "sfreq": STRIP_SFREQ,
                    "channels": list(STRIP),
                    "scale_uv": scale,
                    "data": np.round(piece / scale).astype(int).tolist(),
                },
            }
        )
    on = result.thresholds[0]
    alarms = []
    for ev in result.events.itertuples(index=False):
        above = [s for s in range(int(ev.onset), n_sec) if result.smoothed[s] >= on]
        if not above:
            continue
        channels = [c for c in str(ev.channels).split(",") if c][:64]
        alarm = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{path.name}:{ev.onset}")),
            "raised": float(above[0] + 1),
            "type": "seizure",
            "onset": float(ev.onset),
            "confidence": float(ev.confidence),
            "channels": channels,
            "state": "raised",
        }
        alarms.append({"second": above[0], "alarm": alarm})
        off = result.thresholds[1]
        below = [s for s in range(above[0], n_sec) if result.smoothed[s] < off]
        if below:  # cleared at the end of the first second back under the "off" threshold
            alarms.append({"second": below[0], "alarm": {**alarm, "state": "cleared"}})
    return frames, alarms


def updates(stream: str, *, per_post: int = 1, start_wall: float | None = None):
    """Yield the posts of a replay of :data:`SAMPLE`: ``{"stream", "frames", "alarms"}`` with real wall times.

    Parameters
    ----------
    stream : str
    per_post : int
        Seconds per post (a monitor posts every second; a test replays faster).
    start_wall : float | None
        Unix time of stream second 0 (default: now).
    """
    frames, alarms = replay()
    t0 = time.time() if start_wall is None else start_wall
    for i in range(0, len(frames), per_post):
        chunk = [{**f, "wall": t0 + f["t"]} for f in frames[i : i + per_post]]
        raised = [a["alarm"] for a in alarms if i <= a["second"] < i + per_post]
        yield {"stream": stream, "frames": chunk, "alarms": raised}
