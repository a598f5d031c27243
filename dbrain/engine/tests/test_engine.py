"""The engine's contract: run order from requires=, parameter schemas, products once per chunk, sources."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from dbrain.engine import ArraySource, Engine, FileSource, Param, Step, StepResult, StreamInfo, _products, order_by_requires, run
from dbrain.errors import ParameterError


class _Item:
    def __init__(self, name, *requires):
        self.name, self.requires = name, requires


def test_order_follows_requires_then_registration():
    items = [_Item("d", "b"), _Item("a"), _Item("b", "a"), _Item("c")]
    assert [i.name for i in order_by_requires(items)] == ["a", "b", "d", "c"]
    # A requirement on a step that is not run (left out by --only/--skip) constrains nothing.
    assert [i.name for i in order_by_requires([_Item("x", "gone"), _Item("y")])] == ["x", "y"]


def test_cycle_refused_and_named():
    with pytest.raises(RuntimeError, match="cycle: a -> c -> b -> a"):
        order_by_requires([_Item("a", "c"), _Item("b", "a"), _Item("c", "b"), _Item("free")])


class _Counted(_products.Product):
    name = "_test_counted"
    requires = ("signal",)
    calls = 0

    def compute(self, chunk):
        type(self).calls += 1
        return chunk["signal"].sum(axis=0)


@pytest.fixture
def counted_product():
    _products._PRODUCTS[_Counted.name] = _Counted
    _Counted.calls = 0
    yield _Counted
    del _products._PRODUCTS[_Counted.name]


class _Sum(Step):
    name = "sum"
    requires = ("_test_counted",)
    params = {"scale": Param(1.0, low=0.0), "how": Param("plain", choices=("plain", "abs"))}

    def start(self, info):
        self.total, self.n = 0.0, 0

    def update(self, chunk):
        values = chunk["_test_counted"]
        self.total += float((np.abs(values) if self.params_["how"] == "abs" else values).sum())
        self.n += chunk.n_times

    def partial(self):
        return self.n

    def finish(self):
        return StepResult(summary={"total": self.total * self.params_["scale"], "n": self.n})


class _Sum2(_Sum):
    name = "sum2"


def _info(n_ch=3, sfreq=100.0):
    return mne.create_info([f"C{i}" for i in range(n_ch)], sfreq, "eeg")


def test_product_computed_once_per_chunk_for_all_steps(counted_product):
    data = np.random.default_rng(0).normal(size=(3, 1000))
    engine = run([_Sum.create(), _Sum2.create({"scale": 2})], ArraySource(data, _info(), sizes=[100, 7, 333]))
    n_chunks = len(list(ArraySource(data, _info(), sizes=[100, 7, 333])))
    assert counted_product.calls == n_chunks  # two steps, one computation per chunk
    assert engine.results["sum"].summary["n"] == 1000
    assert engine.results["sum"].summary["total"] == pytest.approx(data.sum())
    assert engine.results["sum2"].summary["total"] == pytest.approx(2 * data.sum())
    assert set(engine.product_seconds) == {"signal", "_test_counted"}


def test_params_checked_before_any_data():
    with pytest.raises(ParameterError, match="scale"):
        _Sum.create({"scale": -1.0})
    with pytest.raises(ParameterError, match="Allowed values are 'plain', 'abs'"):
        _Sum.create({"how": "square"})
    with pytest.raises(ParameterError, match="sum step parameter"):
        _Sum.create({"scal": 1.0})
    with pytest.raises(ParameterError, match="number"):
        _Sum.create({"scale": "big"})
    assert _Sum.create({"scale": 3}).params_ == {"scale": 3, "how": "plain"}


def test_unknown_product_refused():
    class Bad(_Sum):
        name = "bad"
        requires = ("no_such_product",)

    with pytest.raises(ParameterError, match="unknown product 'no_such_product'"):
        Engine([Bad.create()])


def test_push_mode_partial_and_shape_check(counted_product):
    engine = Engine([_Sum.create()]).start(StreamInfo(_info()))
    engine.push(np.ones((3, 5)))
    engine.push(np.ones((3, 0)))  # an empty chunk is nothing
    engine.push(np.ones((3, 2)))
    assert engine.partial() == {"sum": 7}
    with pytest.raises(ParameterError, match="n_channels=3"):
        engine.push(np.ones((2, 5)))
    assert engine.finish()["sum"].summary == {"total": 21.0, "n": 7}


def test_sources_cover_every_sample_once():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(2, 5003))
    pieces = list(ArraySource(data, _info(2), max_size=97, seed=3))
    sizes = {p[1].shape[1] for p in pieces}
    assert len(sizes) > 10 and max(sizes) <= 97  # random sizes
    assert [p[0] for p in pieces] == list(np.cumsum([0] + [p[1].shape[1] for p in pieces[:-1]]))
    np.testing.assert_array_equal(np.concatenate([p[1] for p in pieces], axis=1), data)
    raw = mne.io.RawArray(data, _info(2), verbose="error")
    source = FileSource(raw, chunk_duration=7.0)
    assert source.info.n_times == 5003
    chunks = list(source)
    assert [c[1].shape[1] for c in chunks] == [700] * 7 + [103]
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks], axis=1), data)


def test_whole_recording_step_runs_at_finish_after_its_inputs():
    results: dict = {}

    class Whole(Step):
        name = "whole"
        whole_recording = True

        def update(self, chunk):  # pragma: no cover - must never be called
            raise AssertionError("a whole-recording step gets no chunks")

        def finish(self):
            return StepResult(summary={"saw_count": results["count"].summary["n"]})

    class Count(Step):
        name = "count"
        requires = ("signal",)

        def start(self, info):
            self.n = 0

        def update(self, chunk):
            self.n += chunk.n_times

        def finish(self):
            return StepResult(summary={"n": self.n})

    engine = run([Count.create(), Whole.create()], ArraySource(np.zeros((1, 50)), _info(1), sizes=9), results=results)
    assert engine.results is results
    assert results["whole"].summary == {"saw_count": 50}
