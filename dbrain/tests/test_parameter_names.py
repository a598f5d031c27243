"""``n_jobs``, ``random_state`` and ``verbose`` are named alike across the public API (#20)."""

import importlib
import inspect
import pkgutil
import warnings

import pytest

import dbrain
from dbrain.errors import ParameterError
from dbrain.utils._rename import renamed_parameter

#: Names the public API no longer uses, and what it uses instead.
RENAMED = {"seed": "random_state", "rng": "random_state", "workers": "n_jobs", "n_workers": "n_jobs", "threads": "n_jobs"}
#: Deliberate exceptions, each with its reason.
EXCEPTIONS = {
    # A simulated recording is named by its integer seed (counter-based streams per block): not a random state.
    "dbrain.simulate.simulate_eeg": {"seed"},
    "dbrain.simulate.write_simulated_edf": {"seed"},
    # The engine's test source: the seed names the random chunk sizes of a replay, as a simulator's does.
    "dbrain.engine.ArraySource.__init__": {"seed"},
    # The neurofeedback "synthetic" source is a simulated recording (dbrain.simulate), named by its seed.
    "dbrain.nfb.open_source": {"seed"},
    "dbrain.nfb.run_session": {"seed"},
}
PACKAGES = sorted(m.name for m in pkgutil.iter_modules(dbrain.__path__) if m.ispkg and m.name not in ("tests", "data"))


def _public_callables():
    for pkg in PACKAGES:
        module = importlib.import_module(f"dbrain.{pkg}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj):
                yield f"dbrain.{pkg}.{name}", obj
            elif inspect.isclass(obj) and obj.__module__.startswith("dbrain"):
                yield f"dbrain.{pkg}.{name}.__init__", obj.__init__
                for meth, fn in vars(obj).items():
                    if inspect.isfunction(fn) and not meth.startswith("_"):
                        yield f"dbrain.{pkg}.{name}.{meth}", fn


def test_public_parameters_use_the_common_names():
    wrong = {}
    for where, func in _public_callables():
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            continue
        bad = {p for p in params if p in RENAMED} - EXCEPTIONS.get(where, set())
        if bad:
            wrong[where] = {p: RENAMED[p] for p in bad}
    assert not wrong, f"use the common names: {wrong}"


@pytest.mark.parametrize(
    "name",
    [
        "compute_qeeg",
        "detect_seizures",
        "detect_spikes",
        "detect_patterns",
        "compute_connectivity",
        "analyze",
        "read_recording",
        "normalize_raw",
    ],
)
def test_top_level_verbs_take_verbose(name):
    func = getattr(dbrain, name)
    func = getattr(func, name, func)  # dbrain.analyze is the callable package; its verb is dbrain.analyze.analyze
    assert inspect.signature(func).parameters["verbose"].default is None


def test_renamed_parameter_warns_and_forwards():
    @renamed_parameter("seed", "random_state", since="0.2")
    def draw(*, random_state=0):
        return random_state

    assert draw(random_state=3) == 3
    with pytest.warns(FutureWarning, match="'seed' was renamed 'random_state'"):
        assert draw(seed=5) == 5
    with pytest.raises(ParameterError, match="give 'random_state' only"):
        draw(seed=1, random_state=2)
    assert list(inspect.signature(draw).parameters) == ["random_state"]


def test_old_names_still_work_with_a_warning():
    import numpy as np

    from dbrain.network import graph_measures

    rng = np.random.default_rng(0)
    m = rng.random((6, 6))
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0)
    names = [f"n{i}" for i in range(6)]
    new = graph_measures(m, names, density=None, n_random=2, random_state=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = graph_measures(m, names, density=None, n_random=2, seed=4)
    assert new.equals(old)
