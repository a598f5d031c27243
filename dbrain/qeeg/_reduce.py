"""What an analysis keeps of :func:`compute_qeeg`'s per-epoch values, reduced chunk by chunk (bounded memory).

``compute_qeeg(..., _sink=TrendReducer(...))`` hands each chunk's per-epoch
arrays (spectrograms, measures, asymmetry, artifact) to the reducer in order
instead of filling whole-recording arrays (about 0.5 GB per 24 h of 19
channels). The reducer keeps:

* the per-minute table of :meth:`QEEGResult.to_frame` (:meth:`TrendReducer.table`),
  equal to it: the epochs of each bin are aggregated together, once the bin is complete;
* complete bins handed to ``on_block`` (e.g. the viewer's per-minute table);
* the trend pages of the report, decimated as :func:`plot_trends` decimates them
  (:meth:`TrendReducer.pages`): per page of ``page_seconds``, groups of
  ``ceil(epochs on the page / max_columns)`` epochs from the page's first epoch;
* the artifact strength and type per epoch and channel (4–5 bytes per epoch and
  channel, about 8 MB per 24 h of 19 channels), which the report's artifact line
  and clean-page choice read at full resolution.

What is held between chunks is at most one bin of each kind (one minute, one
page column), so memory no longer grows with the recording except for the
artifact arrays and a few per-epoch vectors (times, suppression; 4–8 bytes per epoch).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._compute import QEEGResult, _aggregate
from ._trends import _aligned, _bin_mean

_ARRAYS = ("spectrogram", "region_spec", "asym", "measures", "asym_index", "artifact", "artifact_type")


@dataclass
class TrendPage:
    """One report page of trends, decimated: :func:`plot_trends` draws it as it would draw the full result.

    ``result`` holds one row per column drawn (``params["step"]`` is the column's width in seconds);
    ``artifact`` and ``ecg`` the matching columns of the artifact strength and the heart rate.
    """

    tmin: float
    tmax: float
    result: QEEGResult
    artifact: np.ndarray
    ecg: np.ndarray | None


class _Binner:
    """Groups consecutive epochs into complete bins (a bin is complete once an epoch of a later bin arrived)."""

    def __init__(self, bin_of: Callable[[np.ndarray], np.ndarray], emit: Callable[[int, int, dict], None]):
        self.bin_of, self.emit = bin_of, emit
        self.e0, self.held = 0, None  # first epoch held, {name: array} of the held epochs

    def add(self, e0: int, e1: int, values: dict) -> None:
        if self.held is None:
            self.e0, self.held = e0, values
        else:
            self.held = {k: np.concatenate([self.held[k], v]) for k, v in values.items()}
        bins = self.bin_of(np.arange(self.e0, e1))
        cut = int(np.searchsorted(bins, bins[-1], side="left"))  # the last bin may still grow
        if cut:
            self._emit(cut)

    def flush(self) -> None:
        if self.held is not None:
            self._emit(next(iter(self.held.values())).shape[0])

    def _emit(self, n: int) -> None:
        part = {k: v[:n] for k, v in self.held.items()}
        e0 = self.e0
        rest = {k: v[n:] for k, v in self.held.items()}
        self.e0 += n
        self.held = rest if next(iter(rest.values())).shape[0] else None
        self.emit(e0, e0 + n, part)


class TrendReducer:
    """A ``_sink`` of :func:`compute_qeeg` keeping the per-minute table, the report's trend pages and the artifact arrays.

    Parameters
    ----------
    resolution : float
        Seconds per row of :meth:`table` (that of :meth:`QEEGResult.to_frame`) and of the blocks given to ``on_block``.
    on_block : callable | None
        Called with a :class:`QEEGResult` of whole ``resolution`` bins (its per-epoch arrays hold
        just those epochs; tables such as ``aeeg`` are empty), in order.
    page_seconds : float | None
        Length of a report page of trends (:func:`dbrain.report._clinical.trend_sections`); None keeps no pages.
    max_columns : int
        Columns per page, as :func:`plot_trends`'s ``max_columns``.
    """

    def __init__(
        self,
        *,
        resolution: float = 60.0,
        on_block: Callable[[QEEGResult], None] | None = None,
        page_seconds: float | None = None,
        max_columns: int = 2000,
    ):
        self.resolution, self.on_block = float(resolution), on_block
        self.page_seconds, self.max_columns = page_seconds, int(max_columns)
        self.template: QEEGResult | None = None

    def start(self, template: QEEGResult) -> None:
        """Called by :func:`compute_qeeg` before the first chunk: names, frequencies, epoch times, no per-epoch arrays."""
        self.template = template
        times = template.times
        self._binned: list[tuple] = []
        self._artifact: list[np.ndarray] = []
        self._artifact_type: list[np.ndarray] = []
        self._minutes = _Binner(lambda e: np.floor(times[e] / self.resolution).astype(np.int64), self._minute)
        self._page_parts: list[dict] = []
        self._pages = None
        if self.page_seconds:
            # The report's pages (trend_sections) and plot_trends' grouping within each page.
            total = float(template.duration)
            n_pages = max(1, math.ceil(total / self.page_seconds - 1e-9))
            self._page_bounds = []
            for k in range(n_pages):
                lo, hi = k * self.page_seconds, min((k + 1) * self.page_seconds, total)
                keep = np.flatnonzero((times >= lo) & (times < hi))
                first = int(keep[0]) if keep.size else 0
                factor = max(1, int(np.ceil(keep.size / self.max_columns)))
                self._page_bounds.append((lo, hi, first, first + keep.size, factor))
            page_of = np.full(times.size, -1, np.int64)
            column = np.zeros(times.size, np.int64)
            for k, (_, _, a, b, factor) in enumerate(self._page_bounds):
                page_of[a:b] = k
                column[a:b] = (np.arange(a, b) - a) // factor
            # one increasing id per drawn column (epochs on no page, if any, come last and are dropped)
            self._column_id = page_of * (times.size + 1) + column
            self._pages = _Binner(lambda e: self._column_id[e], self._page_columns)

    def __call__(self, e0: int, e1: int, values) -> None:
        part = {name: getattr(values, name) for name in _ARRAYS}
        self._artifact.append(part["artifact"])
        self._artifact_type.append(part["artifact_type"])
        self._minutes.add(e0, e1, part)
        if self._pages is not None:
            self._pages.add(e0, e1, {"region_spec": part["region_spec"], "asym": part["asym"]})

    def _block(self, e0: int, e1: int, part: dict) -> QEEGResult:
        return dataclasses.replace(
            self.template,
            times=self.template.times[e0:e1],
            spectrogram=part["spectrogram"],
            region_spectrogram=part["region_spec"],
            asymmetry=part["asym"],
            measures=part["measures"],
            asymmetry_index=part["asym_index"],
            artifact=part["artifact"],
            artifact_type=part["artifact_type"],
            suppression=self.template.suppression[:0],
        )

    def _minute(self, e0: int, e1: int, part: dict) -> None:
        block = self._block(e0, e1, part)
        asym = block.asymmetry_index if block.pair_names else np.empty((block.times.size, 0), np.float32)
        self._binned.append(_aggregate(block.times, self.resolution, block.measures, asym, block.artifact))
        if self.on_block is not None:
            self.on_block(block)

    def _page_columns(self, e0: int, e1: int, part: dict) -> None:
        # every epoch lies on a page (epochs start before the recording's end); a block may span pages
        pages = self._column_id[e0:e1] // (self.template.times.size + 1)
        names = self.template.region_names
        sides = [i for i, n in enumerate(names) if n in ("left", "right")]
        for k in np.unique(pages):
            rows = np.flatnonzero(pages == k)
            a, b = int(rows[0]), int(rows[-1]) + 1
            factor = self._page_bounds[int(k)][4]
            region, asym = part["region_spec"][a:b], part["asym"][a:b]
            self._page_parts.append(
                {
                    "page": int(k),
                    "region_spec": np.stack([_bin_mean(region[:, i], factor) for i in sides], axis=1)
                    if sides
                    else np.zeros((-(-(b - a) // factor), 0, self.template.freqs.size), np.float32),
                    "asym": _bin_mean(asym[:, 0], factor)[:, None] if self.template.pair_names else None,
                }
            )

    def finish(self, result: QEEGResult) -> None:
        """Called once the last chunk is in, with the (light) result of :func:`compute_qeeg`."""
        self._minutes.flush()
        if self._pages is not None:
            self._pages.flush()
        self.template = dataclasses.replace(self.template, suppression=result.suppression)
        self.artifact = np.concatenate(self._artifact) if self._artifact else np.empty((0, len(result.ch_names)), np.float32)
        self.artifact_type = (
            np.concatenate(self._artifact_type) if self._artifact_type else np.empty((0, len(result.ch_names)), np.int8)
        )
        self._artifact, self._artifact_type = [], []

    def table(self, result: QEEGResult) -> object:
        """:meth:`QEEGResult.to_frame` (default resolution) of the whole recording, from the reduced bins."""
        times, meas, asym, art = (np.concatenate([b[i] for b in self._binned]) for i in range(4))
        binned = dataclasses.replace(result, times=times, measures=meas, asymmetry_index=asym, artifact=art)
        return binned.to_frame(resolution=None)

    def pages(self, result: QEEGResult, ecg: np.ndarray | None = None) -> list[TrendPage]:
        """The report's trend pages, decimated (see :class:`TrendPage`); ``ecg`` is the heart rate per epoch."""
        if self._pages is None:
            return []
        step = result.params.get("step", 1.0)
        artifact = _aligned("artifact", self.artifact, result.times.size)
        ecg = None if ecg is None else _aligned("ecg", ecg, result.times.size)
        names = [n for n in result.region_names if n in ("left", "right")]
        out = []
        for k, (lo, hi, a, b, factor) in enumerate(self._page_bounds):
            parts = [p for p in self._page_parts if p["page"] == k]
            region = (
                np.concatenate([p["region_spec"] for p in parts])
                if parts
                else np.zeros((0, len(names), result.freqs.size), np.float32)
            )
            asym = (
                np.concatenate([p["asym"] for p in parts])
                if parts and result.pair_names
                else np.zeros((region.shape[0], 0, result.freqs.size), np.float32)
            )
            page = dataclasses.replace(
                result,
                times=result.times[a:b:factor],
                spectrogram=np.zeros((region.shape[0], 0, result.freqs.size), np.float32),
                region_names=names,
                region_spectrogram=region,
                pair_names=list(result.pair_names[:1]),
                asymmetry=asym,
                measures=np.zeros((region.shape[0], 0, len(result.measure_names)), np.float32),
                suppression=_bin_mean(result.suppression[a:b], factor),
                asymmetry_index=np.zeros((region.shape[0], min(1, len(result.pair_names))), np.float32),
                artifact=np.zeros((region.shape[0], 0), np.float32),
                artifact_type=np.zeros((region.shape[0], 0), np.int8),
                params={**result.params, "step": factor * step},
            )
            out.append(
                TrendPage(
                    lo,
                    hi,
                    page,
                    _bin_mean(artifact[a:b], factor),
                    None if ecg is None else _bin_mean(ecg[a:b], factor),
                )
            )
        return out
