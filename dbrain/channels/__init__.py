"""Channel label normalisation: vendor labels to 10-20/10-10 names and types; head positions."""

from ._normalize import (
    OLD_TO_NEW,
    TEN_TEN,
    ChannelMapping,
    normalize_channels,
    normalize_label,
)
from ._positions import HeadPositions, head_positions
from ._raw import normalize_raw

__all__ = [
    "OLD_TO_NEW",
    "TEN_TEN",
    "ChannelMapping",
    "HeadPositions",
    "head_positions",
    "normalize_channels",
    "normalize_label",
    "normalize_raw",
]
