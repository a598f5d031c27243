"""Parameter schemas of steps, validated at the boundary (before any reading)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..utils.check import _check_option, _check_range, _validate_type

_PATH = "path"


@dataclass(frozen=True)
class Param:
    """One step parameter: its default and what values it accepts.

    Parameters
    ----------
    default : object
        Value used when the caller gives none (recorded in provenance).
    kind : type | tuple of type | "path" | None
        Accepted type(s); ``"path"`` for a path-like; None to infer from the
        default (a float default also accepts an int; a None default accepts anything).
    choices : tuple | None
        Allowed values.
    low, high : float | None
        Inclusive range of a number.
    nullable : bool
        Whether None is accepted besides the kind.
    doc : str
        One line for help texts.
    """

    default: Any = None
    kind: Any = None
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    nullable: bool = False
    doc: str = ""

    def check(self, name: str, value):
        """Return ``value`` if this parameter accepts it; raise :class:`~dbrain.errors.ParameterError` otherwise."""
        if value is None and (self.nullable or self.default is None):
            return value
        if self.choices is not None:
            return _check_option(name, value, self.choices)
        kind = self.kind
        if kind is None and self.default is not None:
            kind = type(self.default)
        if kind == _PATH:
            _validate_type(value, (str, os.PathLike), name, "path-like")
        elif kind is float or kind == (int, float):
            _check_range(name, value, self.low, self.high)
        elif kind is int:
            _validate_type(value, int, name, "int")
            if self.low is not None or self.high is not None:
                _check_range(name, value, self.low, self.high)
        elif kind is not None:
            _validate_type(value, kind, name)
        return value


def as_schema(params: dict | None) -> dict[str, Param]:
    """A schema from ``{name: Param | default}`` (a bare default is ``Param(default)``).

    Parameters
    ----------
    params : dict | None
        Parameter name to :class:`Param` or default value.

    Returns
    -------
    schema : dict of str to Param
    """
    return {k: v if isinstance(v, Param) else Param(v) for k, v in (params or {}).items()}


def defaults(schema: dict[str, Param]) -> dict[str, Any]:
    """The default value of every parameter.

    Parameters
    ----------
    schema : dict of str to Param

    Returns
    -------
    defaults : dict
    """
    return {k: p.default for k, p in schema.items()}


def validate_params(step: str, schema: dict[str, Param], values: dict | None) -> dict[str, Any]:
    """The full parameter set of ``step``: defaults overridden by ``values``, each value checked.

    Parameters
    ----------
    step : str
        Step name (for messages).
    schema : dict of str to Param
    values : dict | None
        Caller's overrides.

    Returns
    -------
    params : dict
    """
    values = {} if values is None else values
    _validate_type(values, dict, f"step_params[{step!r}]", "dict")
    for key in values:
        _check_option(f"{step} step parameter", key, list(schema))
    out = defaults(schema)
    for key, value in values.items():
        out[key] = schema[key].check(f"{step}.{key}", value)
    return out
