"""The automatic threshold: a quantile tracked by stochastic approximation.

Rule (``docs/nfb.md``). With target reward fraction ``p`` and direction
``d`` (+1 up: reward when ``x > θ``; −1 down: reward when ``x < θ``):

* **warm-up** (the first ``warmup_s`` of training, or a baseline block before it):
  ``θ`` is the empirical quantile of the values so far that rewards a fraction
  ``p`` (the ``1 − p`` quantile going up, the ``p`` quantile going down);
  at its end the step ``γ = step × s`` is fixed, ``s`` the robust spread
  (IQR / 1.349) of the warm-up values;
* **afterwards**, on each artifact-free training update with reward
  ``r ∈ {0, 1}``: ``θ ← θ + d·γ·(r − p)`` (Robbins & Monro 1951; the
  quantile-tracking form of e.g. Tierney 1983).

Summing the update over ``N`` updates gives an identity, whatever the signal:
``mean(r) − p = d·(θ_N − θ_0) / (N·γ)``; the reward fraction misses the
target by the threshold's net drift over ``N·γ``. For a stationary feature
with a density ``f > 0`` at the quantile, ``θ`` is mean-reverting around the
quantile with fluctuations of order ``sqrt(γ/f)``; with a decreasing step
(``γ_n ∝ 1/n``) it would converge almost surely, but a fixed step is kept so
that the threshold follows a learner whose EEG changes over the session.
"""

from __future__ import annotations

import numpy as np


class AutoThreshold:
    """Holds a target reward fraction by moving the threshold.

    Parameters
    ----------
    target : float
        Target reward fraction ``p`` (0 < p < 1).
    direction : {"up", "down"}
    step : float
        Step in units of the warm-up values' robust spread.
    warmup : int
        Number of values that set the first threshold (the empirical quantile).

    Attributes
    ----------
    value : float
        The current threshold (NaN before the first value).
    gamma : float | None
        The fixed step, once the warm-up is over.
    """

    def __init__(self, target: float, direction: str, step: float, warmup: int):
        self.target = float(target)
        self.d = 1.0 if direction == "up" else -1.0
        self.step = float(step)
        self.warmup = max(2, int(warmup))
        self.value = np.nan
        self.gamma: float | None = None
        self.spread: float | None = None
        self.theta0: float | None = None
        self.n_adapted = 0
        self.n_rewarded = 0
        #: A threshold set by hand (a therapist): held, not adapted, until released.
        self.manual = False
        self._warm: list[float] = []

    @property
    def warming(self) -> bool:
        return self.gamma is None

    def _quantile(self) -> float:
        q = 1.0 - self.target if self.d > 0 else self.target
        return float(np.quantile(self._warm, q))

    def observe_warmup(self, x: float, *, auto_end: bool = True) -> None:
        """Add a warm-up value and set the threshold to the quantile so far.

        With ``auto_end`` the warm-up ends after ``warmup`` values; a baseline block passes False and
        ends it itself (:meth:`end_warmup`), so that the whole baseline sets the first threshold.
        """
        if not self.warming:
            return
        self._warm.append(float(x))
        if not self.manual:
            self.value = self._quantile()
        if auto_end and len(self._warm) >= self.warmup:
            self.end_warmup()

    def end_warmup(self) -> None:
        """Fix the step from the warm-up values (called early when a baseline block ends)."""
        if not self.warming or not self._warm:
            return
        q75, q25 = np.quantile(self._warm, [0.75, 0.25])
        spread = (q75 - q25) / 1.349
        if not np.isfinite(spread) or spread <= 0:
            spread = float(np.std(self._warm)) or max(abs(float(np.mean(self._warm))) * 1e-3, 1e-12)
        self.spread = float(spread)
        self.gamma = self.step * self.spread
        if not self.manual:
            self.value = self._quantile()
        self.theta0 = self.value

    def set_manual(self, value: float | None) -> None:
        """Hold the threshold at ``value`` (None: back to automatic, tracking on from the current value)."""
        if value is None:
            self.manual = False
            if not self.warming:
                self.theta0, self.n_adapted, self.n_rewarded = self.value, 0, 0  # the identity restarts here
        else:
            self.manual, self.value = True, float(value)

    def set_target(self, target: float) -> None:
        """A new target reward fraction from the next update on (the identity restarts here)."""
        self.target = float(target)
        if not self.warming:
            self.theta0, self.n_adapted, self.n_rewarded = self.value, 0, 0

    def rewarded(self, x: float) -> bool:
        """Whether ``x`` passes the current threshold."""
        if not np.isfinite(self.value):
            return False
        return bool(x > self.value) if self.d > 0 else bool(x < self.value)

    def adapt(self, reward: bool) -> None:
        """One stochastic-approximation step after an artifact-free training update."""
        if self.warming or self.manual:
            return
        self.value += self.d * self.gamma * (float(reward) - self.target)
        self.n_adapted += 1
        self.n_rewarded += int(reward)

    def level(self, x: float) -> float:
        """Feedback level in [0, 1]: 0.5 at the threshold, logistic in spreads beyond it."""
        if not np.isfinite(self.value):
            return 0.0
        s = self.spread if self.spread else (float(np.std(self._warm)) if len(self._warm) > 1 else 0.0)
        if not s:
            return 1.0 if self.rewarded(x) else 0.0
        z = np.clip(2.0 * self.d * (x - self.value) / s, -50, 50)
        return float(1.0 / (1.0 + np.exp(-z)))

    def state(self) -> dict:
        """Facts for ``session.json``."""
        return {
            "rule": "stochastic-approximation quantile tracking: theta += d*gamma*(reward - p) per artifact-free training update",
            "target_reward_fraction": self.target,
            "direction": "up" if self.d > 0 else "down",
            "step_in_spreads": self.step,
            "spread": self.spread,
            "gamma": self.gamma,
            "initial": self.theta0,
            "final": None if not np.isfinite(self.value) else float(self.value),
            "n_warmup": len(self._warm),
            "n_adapted": self.n_adapted,
            "manual": self.manual,
        }
