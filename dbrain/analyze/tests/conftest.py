"""Fixtures of the analysis-pipeline tests."""

from __future__ import annotations

import pytest

from dbrain.analyze import _registry, register_step


@pytest.fixture
def extra_steps():
    """Register test steps for one test only."""
    before = dict(_registry._STEPS)
    yield register_step
    _registry._STEPS.clear()
    _registry._STEPS.update(before)
