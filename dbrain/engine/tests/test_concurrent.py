"""Steps marked ``concurrent`` update side by side in the engine's threads; results do not depend on it."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from dbrain.engine import ArraySource, Engine, PatternStep, SeizureStep, SpikeStep, Step, StepResult, run
from dbrain.simulate import simulate_eeg


class _Where(Step):
    name = "where"
    requires = ("signal",)

    def start(self, info):
        self.threads = set()

    def update(self, chunk):
        self.threads.add(threading.current_thread().name)

    def finish(self):
        return StepResult(summary={"threads": sorted(self.threads)})


class _Concurrent(_Where):
    name = "concurrent"
    concurrent = True


class _Other(_Concurrent):
    name = "other"


class _Fails(_Concurrent):
    name = "fails"

    def update(self, chunk):
        raise ValueError("bad chunk")


def _source(n=5000):
    import mne

    info = mne.create_info(["Fp1", "F3", "C3"], 256.0, "eeg")
    return ArraySource(np.zeros((3, n)), info, max_size=700, seed=0)


def test_concurrent_steps_update_in_the_engines_threads_others_in_its_own():
    steps = [_Concurrent(), _Where(), _Other()]
    results = run(steps, _source(), n_jobs=2).results
    main = threading.current_thread().name
    assert results["where"].summary["threads"] == [main]
    for name in ("concurrent", "other"):
        assert all(t.startswith("dbrain-engine") for t in results[name].summary["threads"])
    # One thread, or a single concurrent step: everything in the caller's thread.
    assert run([_Concurrent(), _Other()], _source(), n_jobs=1).results["other"].summary["threads"] == [main]
    assert run([_Concurrent(), _Where()], _source(), n_jobs=2).results["concurrent"].summary["threads"] == [main]


def test_an_error_in_a_concurrent_update_is_raised_in_the_callers_thread():
    engine = Engine([_Concurrent(), _Fails()], n_jobs=2).start(_source().info)
    with pytest.raises(ValueError, match="bad chunk"):
        engine.push(np.zeros((3, 100)))


def test_results_equal_with_and_without_threads():
    raw, _ = simulate_eeg(11 * 60.0, seizures=1, spikes=20, artifacts=True, seed=3, verbose="error")
    out = {}
    for threads in (1, 2):
        steps = [SeizureStep.create(), SpikeStep.create(), PatternStep.create()]
        out[threads] = run(steps, ArraySource(raw.get_data(), raw.info, max_size=40_000, seed=2), n_jobs=threads).results
    for name in ("seizures", "spikes", "patterns"):
        a, b = out[1][name], out[2][name]
        assert a.summary == b.summary
        for table in a.tables:
            pd.testing.assert_frame_equal(a.tables[table], b.tables[table], check_exact=True)
