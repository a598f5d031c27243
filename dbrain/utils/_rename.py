"""Renamed keyword parameters: the old name keeps working for a release, with a FutureWarning."""

from __future__ import annotations

import functools
import warnings

from ..errors import ParameterError


def renamed_parameter(old: str, new: str, *, since: str):
    """Let ``func`` accept its parameter ``new`` under its former name ``old``.

    Passing ``old`` warns (``FutureWarning``, as MNE-Python does for what
    users see) and is used as ``new``; passing both is an error. The
    signature shown by :func:`inspect.signature` is the new one.

    Parameters
    ----------
    old, new : str
        The former and the current keyword.
    since : str
        The version that renamed it (said in the warning).
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise ParameterError(f"{func.__name__}: give {new!r} only ({old!r} is its former name)")
                warnings.warn(
                    f"{func.__name__}: {old!r} was renamed {new!r} in dbrain {since}; the old name will be removed",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate
