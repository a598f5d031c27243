"""The text parts of an EDF+ annotation block, found leniently.

An annotation signal holds, in every data record, a block of Time-stamped
Annotation Lists (TALs)::

    +onset[\\x15duration]\\x14text\\x14text\\x14\\x00 … \\x00\\x00 (padding)

Real files bend the grammar (Nihon Kohden omits the ``\\x00`` between TALs,
some BDF+ writers omit the final one), so the block is not parsed as a
grammar. It is cut at every ``\\x14`` and ``\\x00``; a piece that is a time
stamp (``+12.5`` or ``+12.5\\x1530``) is timing, every other non-empty piece is
annotation text. Redaction only ever rewrites text pieces, never a delimiter,
so every reader finds the same TALs in the output as in the input.
"""

from __future__ import annotations

import re

_DELIMITERS = re.compile(rb"[\x00\x14]")
_STAMP = re.compile(rb"[+-][0-9]+(?:\.[0-9]*)?(?:\x15(?:[0-9]+(?:\.[0-9]*)?)?)?")


def text_spans(block: bytes) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` of every annotation-text piece of ``block``."""
    spans = []
    start = 0
    for m in _DELIMITERS.finditer(block):
        stop = m.start()
        if stop > start and not _STAMP.fullmatch(block, start, stop):
            spans.append((start, stop))
        start = m.end()
    if len(block) > start and not _STAMP.fullmatch(block, start, len(block)):
        spans.append((start, len(block)))
    return spans


def annotation_layout(header) -> list[tuple[int, int, int]]:
    """Return ``(signal index, byte offset in a record, byte length)`` of each annotation signal."""
    bps = header.bytes_per_sample
    return [
        (i, header.signal_offset(i), sig.samples_per_record * bps) for i, sig in enumerate(header.signals) if sig.is_annotation
    ]
