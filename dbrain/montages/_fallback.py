"""The one "montage, else the next one, else the channels as recorded" choice.

The report's EEG pages, the analysis's EEG page, the seizure detector's
channel choice and the pattern classifier each want a montage but must still
work on a recording that cannot form it (too few 10-20 electrodes,
non-standard labels): they all go through :func:`apply_montage_with_fallback`.
"""

from __future__ import annotations

from typing import NamedTuple

import mne

from ..errors import MontageError
from ._montage import MontageResult, apply_montage

#: The last resort: the recording's EEG channels, unchanged.
AS_RECORDED = "as-recorded"


class MontageChoice(NamedTuple):
    """What :func:`apply_montage_with_fallback` chose."""

    source: mne.io.BaseRaw
    """The derived (lazy) recording, or the recording itself when ``name`` is ``"as-recorded"``."""
    picks: list[str]
    """Channels of ``source`` to use: every derivation, or the EEG channels as recorded."""
    result: MontageResult | None
    """Applied and skipped derivations; None when as recorded."""
    name: str
    """The montage used, or ``"as-recorded"``."""


def apply_montage_with_fallback(
    raw: mne.io.BaseRaw,
    montages=("double-banana", "referential"),
    *,
    min_derivations: int = 1,
    exclude_bads: bool = False,
) -> MontageChoice:
    """Apply the first montage that can be formed, else keep the EEG channels as recorded.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording with normalised channel names (lazy is fine; nothing is read).
    montages : sequence of str
        Montages to try in order (see :func:`apply_montage`).
    min_derivations : int
        A montage counts as formed when at least this many of its derivations
        can be formed.
    exclude_bads : bool
        Leave the channels marked bad out of the channels as recorded.

    Returns
    -------
    choice : MontageChoice
        ``source``, ``picks``, ``result``, ``name``. When no montage can be
        formed, ``source`` is ``raw`` itself (not a copy: pick from it
        as needed), ``result`` is None and ``picks`` are its EEG channels,
        which may be none.
    """
    for montage in montages:
        try:
            derived, result = apply_montage(raw, montage)
        except MontageError:
            continue
        if len(result.applied) >= min_derivations:
            return MontageChoice(derived, list(derived.ch_names), result, result.name)
    bads = set(raw.info["bads"]) if exclude_bads else set()
    picks = [c for c, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "eeg" and c not in bads]
    return MontageChoice(raw, picks, None, AS_RECORDED)
