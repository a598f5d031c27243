"""The one ``dbrain`` logger and a ``verbose`` decorator in MNE's style."""

from __future__ import annotations

import functools
import inspect
import logging

logger = logging.getLogger("dbrain")
logger.addHandler(logging.NullHandler())


def set_log_level(level) -> int:
    """Set the dbrain logger level and return the previous one."""
    old = logger.level
    if isinstance(level, bool):
        level = logging.INFO if level else logging.WARNING
    elif isinstance(level, str):
        level = getattr(logging, level.upper())
    elif level is None:
        return old
    logger.setLevel(level)
    return old


def verbose(func):
    """Give ``func`` a keyword ``verbose`` that sets the level for the call only."""
    sig = inspect.signature(func)
    if "verbose" not in sig.parameters:
        raise TypeError(f"{func.__name__} must accept a 'verbose' keyword to use @verbose")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        bound = sig.bind_partial(*args, **kwargs)
        level = bound.arguments.get("verbose")
        if level is None:
            return func(*args, **kwargs)
        old = set_log_level(level)
        try:
            return func(*args, **kwargs)
        finally:
            logger.setLevel(old)

    return wrapper
