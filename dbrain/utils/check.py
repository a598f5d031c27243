"""Input validation used at the entry of every public function.

Messages name the parameter, the allowed values and the value received, so
that the command line can show them unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ..errors import ParameterError


def _suggest(value, allowed: Iterable[str]) -> str:
    """Return ' Did you mean …?' for a near miss, or an empty string."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _validate_type(item, types, item_name: str, type_name: str | None = None):
    """Raise ParameterError unless ``item`` is an instance of ``types``."""
    if not isinstance(types, tuple):
        types = (types,)
    # bool is an int subclass; a flag passed where a number belongs is a mistake.
    if isinstance(item, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(item, types)
    if not ok:
        if type_name is None:
            type_name = " or ".join(t.__name__ for t in types)
        raise ParameterError(f"{item_name} must be an instance of {type_name}, got {type(item).__name__} instead.")
    return item


def _check_option(parameter: str, value, allowed_values):
    """Raise ParameterError unless ``value`` is one of ``allowed_values``."""
    allowed = list(allowed_values)
    if value in allowed:
        return value
    options = ", ".join(repr(a) for a in allowed)
    raise ParameterError(
        f"Invalid value for the {parameter!r} parameter. Allowed values are {options}, "
        f"but got {value!r} instead.{_suggest(value, allowed)}"
    )


def _check_range(parameter: str, value, low=None, high=None, *, inclusive: bool = True):
    """Raise ParameterError unless ``low <= value <= high`` (or strict)."""
    _validate_type(value, (int, float), parameter, "number")
    if inclusive:
        below = low is not None and value < low
        above = high is not None and value > high
    else:
        below = low is not None and value <= low
        above = high is not None and value >= high
    if below or above:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        brackets = "[]" if inclusive else "()"
        raise ParameterError(f"{parameter} must be in {brackets[0]}{lo}, {hi}{brackets[1]}, got {value!r}.")
    return value
