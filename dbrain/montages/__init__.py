"""Clinical montages: referential, average, bipolar, Laplacian and user-defined."""

from ._montage import (
    BUILTIN_MONTAGES,
    Derivation,
    Montage,
    MontageResult,
    apply_montage,
    get_montage,
    read_montage,
)

__all__ = ["BUILTIN_MONTAGES", "Derivation", "Montage", "MontageResult", "apply_montage", "get_montage", "read_montage"]
