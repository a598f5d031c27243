"""Public functions carry numpydoc docstrings that document their parameters."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

PACKAGES = [
    "dbrain.io",
    "dbrain.channels",
    "dbrain.montages",
    "dbrain.events",
    "dbrain.deid",
    "dbrain.simulate",
    "dbrain.analyze",
    "dbrain.engine",
    "dbrain.report",
    "dbrain.ecg",
    "dbrain.qeeg",
    "dbrain.preprocessing",
    "dbrain.evaluate",
    "dbrain.network",
    "dbrain.server",
    "dbrain.diagnosis",
    "dbrain.batch",
    "dbrain.detect",
    "dbrain.detect.spikes",
    "dbrain.detect.patterns",
    "dbrain.nfb",
]


def _public_functions():
    for name in PACKAGES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize(("qualname", "func"), list(_public_functions()), ids=lambda v: v if isinstance(v, str) else "")
def test_numpydoc_parameters(qualname, func):
    doc = inspect.getdoc(func)
    assert doc, f"{qualname} has no docstring"
    params = [p for p in inspect.signature(func).parameters if p not in ("self", "verbose", "args", "kwargs")]
    if not params:
        return
    assert "Parameters\n----------" in doc, f"{qualname}: no numpydoc Parameters section"
    section = doc.split("Parameters\n----------", 1)[1]
    section = re.split(r"\n(Returns|Raises|Notes|Examples|Yields|See Also)\n-+", section)[0]
    documented = set()
    for line in section.splitlines():
        if line and not line.startswith(" "):
            documented.update(n.strip() for n in line.split(":")[0].split(","))
    missing = [p for p in params if p not in documented]
    assert not missing, f"{qualname}: parameters not documented: {missing}"
