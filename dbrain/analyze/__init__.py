"""The analysis pipeline behind ``dbrain analyze``.

An analysis step is a plug-in: a function registered with :func:`register_step`
under a name and a version, taking the :class:`AnalysisContext` and returning
a :class:`StepResult` (a JSON summary, events, tables, report sections), with
the steps it reads declared by ``requires=``. A step may also have a streaming
form (a :class:`dbrain.engine.Step`, ``stream=``) that runs in the engine's
single pass over the recording, and a ``render=`` function drawing its report
section afterwards, only when a report is made (see ``docs/engine.md``).
"""

from ._pipeline import AnalysisOutput, analyze
from ._registry import AnalysisContext, Step, StepResult, get_steps, register_step

# Importing the built-in steps registers them.
from . import _steps, _steps_seizures, _steps_qeeg, _steps_spikes, _steps_patterns, _steps_network, _steps_norms, _steps_diagnosis  # noqa: E402,F401  isort:skip

__all__ = ["AnalysisContext", "AnalysisOutput", "Step", "StepResult", "analyze", "get_steps", "register_step"]


class _CallableModule(type(_steps)):
    """``dbrain.analyze(...)`` runs :func:`analyze`.

    The package and its main function share a name; once anything imports the package, Python
    binds ``dbrain.analyze`` to the module, so the module itself must be callable for the
    top-level verb to keep working.
    """

    def __call__(self, *args, **kwargs):
        return analyze(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
