"""A course of sessions: one row per session and the learning curve of the trained feature."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError


def _mean(blocks: list[dict], kind: str, key: str) -> float:
    """Update-weighted mean of ``key`` over the blocks of ``kind`` (NaN when none)."""
    rows = [(b[key], b["n_updates"]) for b in blocks if b["kind"] == kind and b.get(key) is not None and b["n_updates"]]
    if not rows:
        return float("nan")
    values, weights = np.array(rows, dtype=float).T
    return float(np.average(values, weights=weights))


def course_summary(sessions) -> tuple[pd.DataFrame, dict]:
    """The sessions of one course, in order, and the learning curve of the trained feature.

    Parameters
    ----------
    sessions : list of path-like | dict
        Session folders (or their ``session.json`` files, or the loaded dicts), in course order.

    Returns
    -------
    table : pandas.DataFrame
        One row per session: ``session`` (1-based), ``started_at``, ``protocol``, ``reward_channel``,
        ``duration_s``, ``baseline_feature``, ``training_feature``, ``transfer_feature`` (update-weighted
        means over blocks of that kind), ``reward_fraction``, ``reward_fraction_delivered``,
        ``artifact_fraction``, ``threshold_final``.
    curve : dict
        ``slope_per_session`` of the training feature (least squares, feature unit per session),
        ``relative_slope`` (slope / mean of the first session's training feature), ``direction`` (the
        protocol's), ``towards_target`` (the slope has the sign of the trained direction; None with fewer
        than 2 sessions).

    Raises
    ------
    dbrain.errors.ParameterError
        A session that cannot be read, or sessions of different protocols.
    """
    if isinstance(sessions, str | os.PathLike | dict):
        sessions = [sessions]
    rows, direction, protocols = [], None, set()
    for i, item in enumerate(sessions):
        if isinstance(item, dict):
            s = item
        else:
            path = Path(item)
            path = path / "session.json" if path.is_dir() else path
            try:
                s = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ParameterError(f"session {i + 1}: cannot read '{path}': {' '.join(str(exc).split())[:100]}") from None
        try:
            blocks = s["blocks"]
            protocols.add(s["protocol"])
            direction = s["protocol_definition"]["reward"]["direction"]
            rows.append(
                {
                    "session": i + 1,
                    "started_at": s.get("started_at"),
                    "protocol": s["protocol"],
                    "reward_channel": s.get("reward_channel"),
                    "duration_s": s.get("duration_s"),
                    "baseline_feature": _mean(blocks, "baseline", "feature_mean"),
                    "training_feature": _mean(blocks, "training", "feature_mean"),
                    "transfer_feature": _mean(blocks, "transfer", "feature_mean"),
                    "reward_fraction": s.get("reward_fraction"),
                    "reward_fraction_delivered": s.get("reward_fraction_delivered"),
                    "artifact_fraction": s.get("artifact_fraction"),
                    "threshold_final": (s.get("thresholds") or {}).get("final"),
                }
            )
        except (KeyError, TypeError):
            raise ParameterError(f"session {i + 1} is not a dbrain nfb session.json") from None
    if len(protocols) > 1:
        raise ParameterError(f"a course has one protocol; got {', '.join(sorted(protocols))}")
    table = pd.DataFrame(rows)
    curve = {"direction": direction, "slope_per_session": None, "relative_slope": None, "towards_target": None}
    y = table["training_feature"].to_numpy(dtype=float) if len(table) else np.array([])
    ok = np.isfinite(y)
    if ok.sum() >= 2:
        x = table["session"].to_numpy(dtype=float)[ok]
        slope = float(np.polyfit(x, y[ok], 1)[0])
        first = y[ok][0]
        curve["slope_per_session"] = slope
        curve["relative_slope"] = slope / abs(first) if first else None
        curve["towards_target"] = bool(slope > 0) if direction == "up" else bool(slope < 0)
    return table, curve
