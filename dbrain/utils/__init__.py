"""Shared helpers: validation, logging and atomic output."""

from ._home import dbrain_home
from ._logging import logger, set_log_level, verbose
from .check import _check_option, _check_range, _suggest, _validate_type

__all__ = ["dbrain_home", "logger", "set_log_level", "verbose", "_check_option", "_check_range", "_suggest", "_validate_type"]
