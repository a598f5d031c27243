"""The ward strip's display filters: causal LFF/HFF with state carried across chunks, anti-aliased decimation."""

import numpy as np
import pytest
from scipy.signal import sosfilt

from dbrain.errors import ParameterError
from dbrain.monitor._strip import STRIP_HFF, STRIP_LFF, STRIP_MIN_SFREQ, StripFilter


def _chunked(filt, x, rng):
    out, pos = [], 0
    while pos < x.shape[1]:
        n = int(rng.integers(1, 700))
        out.append(filt.process(x[:, pos : pos + n]))
        pos += n
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("sfreq", [200.0, 256.0, 500.0, 1000.0, 64.0])
def test_random_chunks_equal_one_pass(sfreq):
    rng = np.random.default_rng(int(sfreq))
    n = int(sfreq * 30) + 7
    x = rng.normal(0, 30, (3, n)).cumsum(axis=1) * 0.05 + rng.normal(0, 20, (3, n)) + np.array([[4000.0], [-250.0], [0.0]])
    one = StripFilter(sfreq, 3).process(x)
    for seed in range(3):
        chunked = _chunked(StripFilter(sfreq, 3), x, np.random.default_rng(seed))
        assert chunked.shape == one.shape
        np.testing.assert_allclose(chunked, one, rtol=0, atol=1e-9)
    # One pass = scipy's causal filter from the first sample's steady state, kept every q-th sample.
    f = StripFilter(sfreq, 3)
    q = f.q
    assert f.out_sfreq >= min(sfreq, STRIP_MIN_SFREQ) and (q == 1 or sfreq / (q + 1) < STRIP_MIN_SFREQ)
    from scipy.signal import sosfilt_zi

    ref, _ = sosfilt(f.sos, x, axis=1, zi=sosfilt_zi(f.sos)[:, None, :] * x[None, :, 0, None])
    np.testing.assert_allclose(one, ref[:, q - 1 :: q], atol=1e-9)
    assert f.describe() == {"lff": STRIP_LFF, "hff": min(STRIP_HFF, 0.4 * sfreq)}


def test_offset_and_drift_removed_eeg_kept():
    """A 10 mV offset is gone, a 0.02 Hz drift of ±400 µV shrinks 25-fold (a first-order LFF at 0.5 Hz), and
    a 10 Hz rhythm of 50 µV passes unchanged."""
    sfreq = 256.0
    t = np.arange(int(60 * sfreq)) / sfreq
    alpha = 50 * np.sin(2 * np.pi * 10 * t)
    x = np.vstack([10_000 + alpha, 400 * np.sin(2 * np.pi * 0.02 * t), alpha])
    f = StripFilter(sfreq, 3)
    y = f.process(x)[:, int(5 * f.out_sfreq) :]  # after the first 5 s
    assert 47 < np.abs(y[2]).max() < 51  # the rhythm (HFF and LFF: -0.1 dB at 10 Hz)
    np.testing.assert_allclose(y[0], y[2], atol=0.5)  # the offset: nothing left
    assert np.abs(y[1]).max() < 0.05 * 400  # the drift
    # The offset does not ring in: the filters start from the first sample's steady state.
    y0 = StripFilter(sfreq, 1).process(x[:1, :64])
    assert np.abs(y0).max() < 55


@pytest.mark.parametrize("sfreq", [200.0, 256.0, 500.0])
@pytest.mark.parametrize("freq", [50.0, 60.0])
def test_mains_does_not_alias_into_the_strip(sfreq, freq):
    """100 µV of mains shows as at most 2 µV (the HFF is the anti-aliasing filter); block means let it fold back."""
    t = np.arange(int(20 * sfreq)) / sfreq
    x = 100 * np.sin(2 * np.pi * freq * t)[None]
    f = StripFilter(sfreq, 1)
    y = f.process(x)[:, int(2 * f.out_sfreq) :]
    assert np.abs(y).max() < 2.0
    # The old strip (block means of q samples to ~64 Hz) showed this mains folded back to a slow wave of 7-49 µV.
    q = max(1, int(sfreq // 64))
    blocks = x[:, : x.shape[1] // q * q].reshape(1, -1, q).mean(axis=2)
    assert np.abs(blocks).max() > 5


def test_bad_arguments():
    with pytest.raises(ParameterError, match="n_channels"):
        StripFilter(256.0, 0)
    with pytest.raises(ParameterError, match="below its HFF"):
        StripFilter(256.0, 1, lff=40.0, hff=30.0)
    with pytest.raises(ParameterError, match=r"\(2, n\)"):
        StripFilter(256.0, 2).process(np.zeros((3, 10)))
    off = StripFilter(256.0, 1, lff=None, hff=None)
    assert off.describe() == {"lff": None, "hff": None}
    np.testing.assert_array_equal(off.process(np.arange(8.0)[None]), [[1.0, 3.0, 5.0, 7.0]])
