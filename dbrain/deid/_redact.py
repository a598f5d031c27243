"""Find and replace personal names in annotation texts.

A span of an annotation text is redacted when it is

``header``
    a PHI string of the file's own header (:func:`~dbrain.deid.phi_strings`),
    in any case and wherever it occurs, widened to the whole word around it;
``title``
    the capitalised word(s) after a courtesy or professional title
    (``Dr. Miller``, ``Mrs Jones``, ``Nurse Kelly``);
``label``
    the value after an identifying label (``Patient name: …``, ``DOB: …``,
    ``Tech: …``) up to the next comma, semicolon or line end;
``name``
    a word within a run of two or more Capitalised Words that is not in the
    clinical vocabulary of :mod:`dbrain.deid._vocab` (``John Smith`` is
    redacted, ``Eyes Closed`` and ``Photic Stimulation`` are kept).

Each span becomes ``[REDACTED]``. An annotation block has a fixed byte length
per data record, so when the longer text does not fit, ``[X]`` and then ``X``
are used instead, and the block is padded with ``\\x00``.
"""

from __future__ import annotations

import re
from collections import Counter

from ._phi import contains_phi
from ._tal import text_spans
from ._vocab import HONORIFICS, ID_LABELS, NOT_NAMES

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
_CAP = rf"(?:Mc|Mac|[OD]['’])?[{_UPPER}][{_LOWER}]+(?:['’][{_LOWER}]+)?(?:-[{_UPPER}{_LOWER}][{_LOWER}]+)*"
_START = r"(?<![\w'’-])"
_END = r"(?![\w'’-])"
_RUN = re.compile(rf"{_START}{_CAP}(?:[ \t]+{_CAP})+{_END}")
_WORD = re.compile(r"\S+")
_TITLE = re.compile(rf"(?<!\w)(?i:{'|'.join(HONORIFICS)})\.?[ \t]+(?P<name>{_CAP}(?:[ \t]+{_CAP})?){_END}")
_LABEL = re.compile(rf"(?<!\w)(?i:{'|'.join(ID_LABELS)})[ \t]*[:=#][ \t]*(?P<value>[^,;\n\r]*[^,;\s])")
MARKERS = ("[REDACTED]", "[X]", "X")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_'’-" or "\udc80" <= ch <= "\udcff"


def _not_name(word: str) -> bool:
    word = word.lower().strip('.,;:!?()[]"')
    if word in HONORIFICS:
        return True
    for suffix in ("'s", "’s"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    return all(part in NOT_NAMES for part in word.split("-") if part)


def _name_words(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """Spans of the non-vocabulary words in ``text[start:stop]``, adjacent ones merged."""
    spans: list[list[int]] = []
    previous_is_name = False
    for m in _WORD.finditer(text, start, stop):
        if _not_name(m.group()):
            previous_is_name = False
            continue
        if previous_is_name:
            spans[-1][1] = m.end()
        else:
            spans.append([m.start(), m.end()])
        previous_is_name = True
    return [tuple(s) for s in spans]


def name_spans(text: str, phi_pattern: re.Pattern | None = None) -> list[tuple[int, int, str]]:
    """Return the ``(start, stop, rule)`` spans of ``text`` to redact, sorted and disjoint.

    Parameters
    ----------
    text : str
        One annotation text.
    phi_pattern : re.Pattern | None
        Case-insensitive alternation of the header's PHI strings.

    Returns
    -------
    spans : list of (int, int, str)
        ``rule`` is ``'header'``, ``'title'``, ``'label'`` or ``'name'``.
    """
    found: list[tuple[int, int, str]] = []
    if phi_pattern is not None:
        for m in phi_pattern.finditer(text):
            a, b = m.start(), m.end()
            while a > 0 and _is_word_char(text[a - 1]):
                a -= 1
            while b < len(text) and _is_word_char(text[b]):
                b += 1
            found.append((a, b, "header"))
    for m in _TITLE.finditer(text):
        words = _name_words(text, *m.span("name"))
        # Only the words right after the title: "Nurse Present" is not a name.
        if words and words[0][0] == m.start("name"):
            found.append((*words[0], "title"))
    for m in _LABEL.finditer(text):
        found.append((*m.span("value"), "label"))
    for m in _RUN.finditer(text):
        found.extend((a, b, "name") for a, b in _name_words(text, *m.span()))
    priority = {"label": 0, "title": 1, "name": 2, "header": 3}
    found.sort(key=lambda span: (span[0], -span[1], priority[span[2]]))
    merged: list[tuple[int, int, str]] = []
    for a, b, rule in found:
        if merged and a <= merged[-1][1]:
            pa, pb, prule = merged[-1]
            merged[-1] = (pa, max(pb, b), prule)
        else:
            merged.append((a, b, rule))
    return merged


class Redactor:
    """Redact annotation blocks of one file, counting what was done.

    Parameters
    ----------
    phi : set of bytes
        The file header's PHI strings.
    """

    def __init__(self, phi: set[bytes]):
        self.phi_lower = sorted({p.lower() for p in phi}, key=len, reverse=True)
        texts = sorted({p.decode("utf-8", "surrogateescape") for p in phi}, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(t) for t in texts), re.IGNORECASE) if texts else None
        # A marker must not itself contain a PHI string ("Ted" is in "[REDACTED]").
        self.markers = [m for m in MARKERS if contains_phi(m.encode(), self.phi_lower) is None]
        self.texts = 0
        self.texts_redacted = 0
        self.rules: Counter[str] = Counter()

    def _plan(self, piece: bytes):
        text = piece.decode("utf-8", "surrogateescape")
        return text, name_spans(text, self.pattern)

    def _apply(self, text: str, spans, marker: str) -> tuple[bytes, bool]:
        parts, last = [], 0
        for a, b, _ in spans:
            parts.append(text[last:a])
            parts.append(marker)
            last = b
        parts.append(text[last:])
        new = "".join(parts).encode("utf-8", "surrogateescape")
        if contains_phi(new, self.phi_lower) is not None:
            # A PHI string spanning bytes the text matching cannot see (e.g. a
            # Latin-1 header byte inside a UTF-8 character): drop the whole text.
            return marker.encode(), True
        return new, False

    def block(self, block: bytes) -> bytes:
        """Return ``block`` with names redacted, same length (``block`` itself when unchanged)."""
        pieces = text_spans(block)
        if not pieces:
            return block
        plans = []
        for a, b in pieces:
            self.texts += 1
            text, spans = self._plan(block[a:b])
            if spans or contains_phi(block[a:b], self.phi_lower) is not None:
                plans.append((a, b, text, spans))
        if not plans:
            return block
        # Only the padding after the last TAL's terminating \x00 may be used up.
        end = len(block.rstrip(b"\x00"))
        end = min(end + 1, len(block))
        for marker in self.markers:
            out, last, dropped = [], 0, 0
            for a, b, text, spans in plans:
                new, whole = self._apply(text, spans, marker)
                dropped += whole and not spans
                out.append(block[last:a])
                out.append(new)
                last = b
            out.append(block[last:end])
            new_block = b"".join(out)
            if len(new_block) <= len(block):
                break
        else:  # pragma: no cover - "X" replaces >= 1 byte with 1 byte, so it always fits
            raise RuntimeError("redacted annotation block does not fit its record")
        self.texts_redacted += len(plans)
        for _, _, _, spans in plans:
            self.rules.update(rule for _, _, rule in spans)
        self.rules["header"] += dropped
        return new_block + b"\x00" * (len(block) - len(new_block))
