"""The one-pass analysis engine: chunk loop, shared products, the step protocol.

A :class:`Step` declares the products it needs (``requires``) and its
parameters (a schema of :class:`Param`); the :class:`Engine` reads each chunk
of a source once, computes each product once per chunk
(:class:`ProductCache`), and feeds every step ``start(info)`` /
``update(chunk)`` / ``finish()``. The same step objects run on a file
(:class:`FileSource`, bounded memory) and on a stream (:class:`ArraySource`,
or :meth:`Engine.push` from a live source). See ``docs/engine.md``.
"""

from ._params import Param, as_schema, defaults, validate_params
from ._patterns import PatternStep
from ._products import Product, ProductCache, products, register_product
from ._protocol import Chunk, Step, StepResult, StreamInfo
from ._qeeg import QEEGStep
from ._registry import order_by_requires
from ._run import Engine, run
from ._seizures import SeizureStep
from ._sources import ArraySource, FileSource
from ._spikes import SpikeStep

__all__ = [
    "ArraySource",
    "Chunk",
    "Engine",
    "FileSource",
    "Param",
    "PatternStep",
    "Product",
    "ProductCache",
    "QEEGStep",
    "SeizureStep",
    "SpikeStep",
    "Step",
    "StepResult",
    "StreamInfo",
    "as_schema",
    "defaults",
    "order_by_requires",
    "products",
    "register_product",
    "run",
    "validate_params",
]
