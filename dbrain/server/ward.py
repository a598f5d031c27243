"""The live ward: what a bedside monitor posts, the per-bed ring of recent frames, and the push to the pages.

A monitor (``dbrain monitor --post URL --bed BED --token-file PATH``) posts at
most once a second ``{"stream", "frames", "alarms"}`` to
``POST /api/ward/beds/{BED}/updates`` (the contract is in docs/ward.md and in
:class:`UpdateIn`). Frames (seizure probability, DSA, the last second of a few
EEG channels) are kept in memory only, in a bounded ring per bed
(:class:`WardHub`); alarms and acknowledgements are stored in the database and
vouched for by the ledger (:mod:`.routes.ward`). Every open ward page of the
bed's site gets the frames and alarms pushed over Server-Sent Events.

The rings and subscribers live in the web process: ``dbrain serve`` runs one
uvicorn process, so every page sees every post. A deployment with several web
processes would need a shared broker (not built).
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import threading
import uuid as _uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Seconds of trend (seizure probability, DSA) kept per bed for a page that opens late.
TREND_SECONDS = 600
#: Frames whose EEG strip a newly opened page gets (the strip is 1 s per frame).
STRIP_FRAMES = 10
#: Most frames and alarms in one post: a monitor posts every second, and after a failed post sends what
#: it kept (dbrain.monitor keeps the last 60 frames and every alarm change) with the next one.
MAX_FRAMES = 60
MAX_ALARMS = 200
#: Messages waiting for one page before it is dropped (it reconnects and reloads).
QUEUE_SIZE = 256

Finite = Annotated[float, Field(allow_inf_nan=False)]
Dec = Annotated[float, Field(allow_inf_nan=False, ge=-400.0, le=400.0)]  # dB
Name = Annotated[str, Field(min_length=1, max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DsaIn(_Strict):
    """Density spectral array of the last second: power (dB) per frequency, left and right hemisphere."""

    freqs: list[Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=1000.0)]] = Field(min_length=1, max_length=128)
    left: list[Dec] = Field(max_length=128)
    right: list[Dec] = Field(max_length=128)

    @model_validator(mode="after")
    def _same_length(self):
        if not (len(self.left) == len(self.right) == len(self.freqs)):
            raise ValueError(
                f"dsa: freqs, left and right must have the same length ({len(self.freqs)}, {len(self.left)}, {len(self.right)})"
            )
        return self


class StripIn(_Strict):
    """The last second of a few downsampled EEG channels, int16 counts × ``scale_uv`` = µV."""

    sfreq: float = Field(gt=0.0, le=512.0, allow_inf_nan=False)
    channels: list[Name] = Field(min_length=1, max_length=8)
    scale_uv: float = Field(gt=0.0, le=1000.0, allow_inf_nan=False)
    data: list[list[Annotated[int, Field(ge=-32768, le=32767)]]] = Field(min_length=1, max_length=8)
    lff: float | None = Field(
        None, gt=0.0, le=100.0, allow_inf_nan=False, description="Low-frequency filter applied, Hz (None: none stated)."
    )
    hff: float | None = Field(
        None, gt=0.0, le=256.0, allow_inf_nan=False, description="High-frequency filter applied, Hz (None: none stated)."
    )

    @model_validator(mode="after")
    def _shape(self):
        if len(self.data) != len(self.channels):
            raise ValueError(f"strip: {len(self.data)} rows of data for {len(self.channels)} channels")
        n = {len(row) for row in self.data}
        if len(n) != 1:
            raise ValueError("strip: the rows of data have different lengths")
        if n.pop() > math.ceil(self.sfreq) + 1:
            raise ValueError("strip: more samples than one second at sfreq")
        if self.lff is not None and self.hff is not None and self.lff >= self.hff:
            raise ValueError(f"strip: the low-frequency filter ({self.lff:g} Hz) must be below the high ({self.hff:g} Hz)")
        return self


class FrameIn(_Strict):
    """One second of a monitored stream."""

    t: float = Field(
        ge=0.0, le=1e8, allow_inf_nan=False,
        description="Stream seconds of the second's start: its strip's first sample (docs/ward.md, 'Time of a frame').",
    )  # fmt: skip
    wall: float = Field(ge=1e9, le=1e10, allow_inf_nan=False, description="Unix time of stream time t.")
    seizure_probability: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    dsa: DsaIn | None = None
    strip: StripIn | None = None


#: Alarm types of the contract (docs/ward.md) and of dbrain.monitor; others are accepted if they are a
#: lower-case identifier: one unknown type must not make a monitor's whole post (its frames too) be refused.
ALARM_TYPES = (
    "seizure", "suppression", "burst_suppression", "flat", "flat_channel", "clipping", "line_noise", "gap",
    "dropped_samples", "jitter", "timestamp_jitter", "stream_lost",
)  # fmt: skip


class AlarmIn(_Strict):
    """One alarm, sent when raised and again when cleared (same ``id``)."""

    id: _uuid.UUID
    raised: float = Field(ge=0.0, le=1e8, allow_inf_nan=False, description="Stream seconds when the alarm was raised.")
    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description=f"e.g. {', '.join(ALARM_TYPES)}")
    onset: float | None = Field(
        default=None, ge=0.0, le=1e8, allow_inf_nan=False, description="Estimated event onset, stream seconds."
    )
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    channels: list[Name] | str = Field(default_factory=list, max_length=64)
    state: Literal["raised", "cleared"] = "raised"

    @field_validator("channels", mode="after")
    @classmethod
    def _as_list(cls, value):
        # alarms.tsv writes the channels as one comma-separated cell; accept that form too.
        if isinstance(value, str):
            value = [c.strip() for c in value.split(",") if c.strip() and c.strip().lower() != "n/a"]
            if len(value) > 64 or any(len(c) > 40 for c in value):
                raise ValueError("at most 64 channel names of at most 40 characters")
        return value


class UpdateIn(_Strict):
    """What a monitor posts at most once a second."""

    stream: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:@()-]*$")
    frames: list[FrameIn] = Field(default_factory=list, max_length=MAX_FRAMES)
    alarms: list[AlarmIn] = Field(default_factory=list, max_length=MAX_ALARMS)


class UpdateOut(BaseModel):
    frames: int = Field(description="Frames taken into the bed's ring.")
    alarms_new: int
    alarms_changed: int


class BedIn(_Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Not all digits.")

    @field_validator("name")
    @classmethod
    def _not_an_id(cls, value: str) -> str:
        if value.isdigit():  # a URL's bed is a name, or else an id: a name must never look like an id
            raise ValueError("a bed name needs at least one letter or sign (an all-digit name would read as a bed id)")
        return value


class BedOut(BaseModel):
    id: int
    site_id: int
    name: str
    stream: str | None = Field(None, description="The stream last posted (in this web process's memory).")
    last_wall: float | None = Field(None, description="Unix time of the newest frame.")
    open_alarms: int = Field(0, description="Alarms not acknowledged.")


class AckIn(_Strict):
    comment: str = Field("", max_length=500)


class AckOut(BaseModel):
    user_id: int
    username: str
    acked_at: str
    comment: str


class AlarmOut(BaseModel):
    id: int
    uuid: str
    bed_id: int
    bed: str
    site_id: int
    stream: str
    type: str
    raised: float
    onset: float | None
    confidence: float | None
    channels: list[str]
    state: str
    received_at: str
    cleared_at: str | None
    recording_id: int | None
    ack: AckOut | None = None


class LinkIn(_Strict):
    stream: str = Field(min_length=1, max_length=100)
    recording_id: int = Field(ge=1, le=2_147_483_647)


class LinkOut(BaseModel):
    recording_id: int
    alarms: int
    annotations: int


# --------------------------------------------------------------------------- the hub


class _Bed:
    __slots__ = ("stream", "frames")

    def __init__(self):
        self.stream: str | None = None
        self.frames: collections.deque = collections.deque(maxlen=TREND_SECONDS)


class WardHub:
    """Rings of recent frames per bed and the open pages of each site (thread-safe).

    Routes run in a thread pool; the pages' queues belong to the event loop,
    so a message is handed to each with ``call_soon_threadsafe``. A page whose
    queue is full (a stalled browser) is dropped: it gets a ``reset`` event,
    its stream ends, and the page reconnects and reloads what it shows.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._beds: dict[int, _Bed] = {}
        self._pages: dict[int, set] = {}

    # ----- rings

    def add_frames(self, bed_id: int, stream: str, frames: list[dict]) -> list[dict]:
        """Keep ``frames`` (in stream-time order) in the bed's ring; a new stream name starts a new ring.

        Returns the frames kept: a resent or out-of-order second is not kept (nor shown) twice.
        """
        with self._lock:
            bed = self._beds.setdefault(bed_id, _Bed())
            if bed.stream != stream:
                bed.stream, bed.frames = stream, collections.deque(maxlen=TREND_SECONDS)
            last = bed.frames[-1]["t"] if bed.frames else -math.inf
            kept = []
            for f in sorted(frames, key=lambda f: f["t"]):
                if f["t"] > last:
                    bed.frames.append(f)
                    last = f["t"]
                    kept.append(f)
                    # Only the last STRIP_FRAMES strips are ever shown: drop older ones (a copy, the pages may still
                    # hold the frame). 600 strips of 8 channels at 100-200 Hz would be 15-30 MB per bed.
                    if len(bed.frames) > STRIP_FRAMES and bed.frames[-STRIP_FRAMES - 1].get("strip") is not None:
                        bed.frames[-STRIP_FRAMES - 1] = {**bed.frames[-STRIP_FRAMES - 1], "strip": None}
            return kept

    def recent(self, bed_id: int) -> tuple[str | None, list[dict]]:
        """The bed's stream and its ring: trends of every frame, EEG strips of the last :data:`STRIP_FRAMES`."""
        with self._lock:
            bed = self._beds.get(bed_id)
            if bed is None:
                return None, []
            frames = list(bed.frames)
            stream = bed.stream
        cut = len(frames) - STRIP_FRAMES
        return stream, [f if i >= cut else {**f, "strip": None} for i, f in enumerate(frames)]

    def state(self, bed_id: int) -> tuple[str | None, float | None]:
        with self._lock:
            bed = self._beds.get(bed_id)
            if bed is None or not bed.frames:
                return (bed.stream if bed else None), None
            return bed.stream, bed.frames[-1]["wall"]

    def forget(self, bed_id: int) -> None:
        with self._lock:
            self._beds.pop(bed_id, None)

    # ----- pages

    def subscribe(self, site_id: int) -> asyncio.Queue:
        """A queue of ``(event, json text)`` for one page of ``site_id`` (call in the event loop)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        queue.loop = asyncio.get_running_loop()
        with self._lock:
            self._pages.setdefault(site_id, set()).add(queue)
        return queue

    def unsubscribe(self, site_id: int, queue) -> None:
        with self._lock:
            self._pages.get(site_id, set()).discard(queue)

    def pages(self, site_id: int) -> int:
        with self._lock:
            return len(self._pages.get(site_id, ()))

    def publish(self, site_id: int, event: str, data: dict) -> None:
        """Send one event to every page of ``site_id`` (from any thread)."""
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
        with self._lock:
            queues = list(self._pages.get(site_id, ()))
        for queue in queues:
            try:
                queue.loop.call_soon_threadsafe(_offer, queue, event, text)
            except RuntimeError:  # its loop is closed: the page is gone
                self.unsubscribe(site_id, queue)


def _offer(queue: asyncio.Queue, event: str, text: str) -> None:
    if getattr(queue, "dropped", False):
        return
    if queue.full():
        queue.dropped = True  # the page falls behind: tell it to reload rather than grow without bound
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(("reset", "{}"))
        return
    queue.put_nowait((event, text))
