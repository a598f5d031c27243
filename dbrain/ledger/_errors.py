"""Errors of the provenance ledger."""

from __future__ import annotations

from ..errors import DbrainError, ParameterError

__all__ = ["LedgerError", "LedgerParameterError"]


class LedgerError(DbrainError):
    """The ledger cannot do what was asked: bad proof request, unreadable store, bad key, bad checkpoint."""


class LedgerParameterError(LedgerError, ParameterError):
    """A ledger parameter (record field, index, size, URL) has a value the ledger cannot use."""
