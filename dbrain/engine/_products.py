"""Shared data products: computed once per chunk, whatever the number of steps using them.

A product is a small object with :meth:`Product.start` (decide from the
stream's channels, allocate state) and :meth:`Product.compute` (the value for
one chunk). Products may need other products (``requires``); the cache
computes each at most once per chunk and times it.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from ..errors import DbrainError, ParameterError
from ..utils.check import _suggest


class Product:
    """Base class of a data product (one instance per run; may keep state between chunks)."""

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def start(self, info) -> None:
        """Decide from ``info`` (a :class:`~dbrain.engine.StreamInfo`) what to compute."""

    def compute(self, chunk):
        """The value for ``chunk`` (other products as ``chunk[name]``)."""
        raise NotImplementedError


_PRODUCTS: dict[str, type[Product]] = {}


def register_product(cls: type[Product]) -> type[Product]:
    """Register a :class:`Product` subclass under its ``name`` (a class decorator).

    Parameters
    ----------
    cls : type
        The :class:`Product` subclass.

    Returns
    -------
    cls : type
    """
    if not cls.name or cls.name in _PRODUCTS:
        raise RuntimeError(f"product {cls.name!r} has no name or is registered twice")
    _PRODUCTS[cls.name] = cls
    return cls


def products() -> dict[str, str]:
    """Registered products and what each is.

    Returns
    -------
    products : dict of str to str
        Name to one-line description.
    """
    return {name: cls.description for name, cls in _PRODUCTS.items()}


def _closure(names) -> list[str]:
    """``names`` and every product they need, dependencies first."""
    out: list[str] = []

    def visit(name, path):
        if name not in _PRODUCTS:
            raise ParameterError(f"unknown product {name!r}.{_suggest(name, _PRODUCTS)}")
        if name in path:
            raise RuntimeError(f"products depend on each other in a cycle: {' -> '.join([*path, name])}")
        for dep in _PRODUCTS[name].requires:
            visit(dep, (*path, name))
        if name not in out:
            out.append(name)

    for name in names:
        visit(name, ())
    return out


class ProductCache:
    """The products of one run: started once, computed once per chunk, timed."""

    def __init__(self, names):
        self.order = _closure(names)
        self.instances = {name: _PRODUCTS[name]() for name in self.order}
        self.seconds = dict.fromkeys(self.order, 0.0)
        self._chunk = None
        self._values: dict = {}

    def start(self, info) -> None:
        for name in self.order:
            self.instances[name].start(info)

    def get(self, name: str, chunk):
        if chunk is not self._chunk:
            self._chunk, self._values = chunk, {}
        if name not in self._values:
            if name not in self.instances:
                raise RuntimeError(f"product {name!r} was not declared in any step's requires=")
            t0 = time.perf_counter()
            value = self.instances[name].compute(chunk)
            self.seconds[name] += time.perf_counter() - t0
            self._values[name] = value
        return self._values[name]


@register_product
class Signal(Product):
    """The chunk as read: every channel, float64, volts."""

    name = "signal"
    description = "every channel as read, float64 V"

    def compute(self, chunk):
        return chunk.data


@register_product
class Bipolar(Product):
    """The seizure detector's channels: double banana where it can be formed, else EEG as recorded.

    The choice is :func:`dbrain.detect.select_channels` with ``montage="auto"``
    (double banana when at least 4 of its derivations can be formed), made
    once from the stream's channels; each chunk is then a matrix product of
    the referential signal, exactly as the montage's lazy Raw computes it.
    """

    name = "bipolar"
    requires = ("signal",)
    description = "double-banana derivations (else EEG as recorded), float64 V; attributes channels, montage"

    def start(self, info) -> None:
        from ..detect import select_channels
        from ..montages._montage import RawDerived

        self.channels, self.montage, self.weights, self.error = [], None, None, None
        names = info.ch_names
        try:
            source, picks, used = select_channels(info.empty_raw())
        except DbrainError as exc:  # no usable EEG: a step needing this product raises it if it must run
            self.index, self.error = np.zeros(0, int), exc
            return
        self.channels, self.montage = list(picks), used
        self.pairs = None
        if isinstance(source, RawDerived):
            self.weights = source.weights
            self.index = np.array([names.index(c) for c in source.sources])
            w = self.weights
            if ((w == 1).sum(axis=1) == 1).all() and ((w == -1).sum(axis=1) == 1).all() and ((w != 0).sum(axis=1) == 2).all():
                # Pure bipolar rows: a - b is what the matrix product gives (one rounding, the other terms
                # are exact zeros), bit for bit, at a tenth of the cost.
                self.pairs = (self.index[(w == 1).argmax(axis=1)], self.index[(w == -1).argmax(axis=1)])
        else:
            self.index = np.array([names.index(c) for c in picks])

    def compute(self, chunk):
        sig = chunk["signal"]
        if self.pairs is not None:
            return sig[self.pairs[0]] - sig[self.pairs[1]]
        if self.weights is None:
            return sig[self.index]
        return self.weights @ sig[self.index]


@register_product
class ECGPeaks(Product):
    """R peaks of the first ECG channel, found once for every step that needs them (heart rate, the spike ECG rule).

    The scan is :class:`dbrain.ecg._heart_rate.PeakScan`, the one
    :func:`dbrain.ecg.compute_heart_rate` makes of a file: spans of 600 s with
    30 s of signal either side, each scanned as soon as it (and its overlap) has
    arrived, so only about one span of the one ECG channel is held. The per-chunk
    value is None; steps read :meth:`result` at their finish (the last spans are
    scanned then, with the stream's length).
    """

    name = "ecg_peaks"
    requires = ("signal",)
    description = "R peaks of the first ECG channel (heart rate, the spike detector's ECG rule); read result() at finish"

    def start(self, info) -> None:
        from ..ecg._heart_rate import PeakScan

        ecg = [i for i, t in enumerate(info.ch_types) if t == "ecg"]
        self.index = ecg[0] if ecg else None
        self.channel = info.ch_names[ecg[0]] if ecg else None
        self.scan = PeakScan(info.sfreq) if ecg else None
        self._x, self._x0, self._received, self._next = np.zeros(0), 0, 0, 0  # held samples from _x0; next span start
        self._result = None

    def compute(self, chunk):
        if self.scan is None:
            return None
        if self._result is not None:
            raise RuntimeError("the ecg_peaks product was read before the stream ended")
        # a copy: a row of the chunk would keep the whole chunk's array alive
        self._x = np.concatenate([self._x, np.array(chunk["signal"][self.index], np.float64)])
        self._received = chunk.stop
        self._scan(None)
        return None

    def _scan(self, n: int | None) -> None:
        """Scan the spans that are complete; with the stream's length ``n``, all that are left."""
        scan = self.scan
        for start, stop, lo, hi in scan.spans(self._received if n is None else n, self._next):
            if n is None and stop + scan.pad > self._received:
                break  # the span (or its overlap) is not complete yet; it may also end early at the stream's end
            scan.add(start, stop, lo, self._x[lo - self._x0 : hi - self._x0])
            self._next = start + scan.step
            keep = max(0, self._next - scan.pad)  # the next span's first sample with its overlap
            self._x, self._x0 = self._x[keep - self._x0 :].copy(), keep

    def result(self):
        """``(channel, (peaks, std_uv, beats))`` of the whole stream, or None without an ECG channel.

        Read once the stream has ended (a step's finish): the last spans are scanned with its length.
        """
        if self.scan is None:
            return None
        if self._result is None:
            self._scan(self._received)
            self._result = self.scan.result(self._received)
            self._x = np.zeros(0)
        return self.channel, self._result
