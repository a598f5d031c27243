"""The automatic threshold: convergence to the quantile, and the reward-fraction identity."""

import numpy as np
import pytest

from dbrain.nfb import AutoThreshold


@pytest.mark.parametrize("direction", ["up", "down"])
@pytest.mark.parametrize("target", [0.6, 0.7])
def test_converges_to_quantile(direction, target):
    rng = np.random.default_rng(1)
    x = rng.lognormal(0.0, 0.5, 20_000)  # skewed, like band power
    th = AutoThreshold(target, direction, step=0.05, warmup=40)
    rewards = []
    for v in x:
        if th.warming:
            th.observe_warmup(v)
        r = th.rewarded(v)
        th.adapt(r)
        rewards.append(r)
    q = np.quantile(x, 1 - target if direction == "up" else target)
    spread = th.spread
    # Stationary input: the threshold hovers within a fraction of a spread of the true quantile ...
    tail = []
    for v in rng.lognormal(0.0, 0.5, 4000):
        th.adapt(th.rewarded(v))
        tail.append(th.value)
    assert abs(np.mean(tail) - q) < 0.1 * spread
    # ... and the reward fraction after warm-up is on target.
    assert abs(np.mean(rewards[40:]) - target) < 0.02


def test_identity_mean_reward_minus_target():
    """mean(r) - p = d (theta_N - theta_0) / (N gamma), exactly, whatever the signal (even drifting)."""
    rng = np.random.default_rng(2)
    for direction, d in (("up", 1), ("down", -1)):
        th = AutoThreshold(0.65, direction, step=0.05, warmup=20)
        for v in rng.normal(size=20):
            th.observe_warmup(v)
        assert not th.warming
        theta0 = th.value
        x = rng.normal(size=3000) + np.linspace(0, 5, 3000)  # a learner whose feature drifts
        rs = []
        for v in x:
            r = th.rewarded(v)
            th.adapt(r)
            rs.append(r)
        lhs = np.mean(rs) - 0.65
        rhs = d * (th.value - theta0) / (len(x) * th.gamma)
        assert lhs == pytest.approx(rhs, abs=1e-9)
