"""Clinical montages: referential, average, bipolar, Laplacian and user-defined."""

from ._fallback import AS_RECORDED, MontageChoice, apply_montage_with_fallback
from ._montage import (
    BUILTIN_MONTAGES,
    Derivation,
    Montage,
    MontageResult,
    apply_montage,
    get_montage,
    read_montage,
)

__all__ = [
    "AS_RECORDED",
    "BUILTIN_MONTAGES",
    "Derivation",
    "Montage",
    "MontageChoice",
    "MontageResult",
    "apply_montage",
    "apply_montage_with_fallback",
    "get_montage",
    "read_montage",
]
