"""Neurofeedback: protocols, the streaming feedback step, sessions (``docs/nfb.md``).

* :func:`load_protocol` / :func:`list_protocols` — YAML protocols (built-in ``theta-beta`` at Cz,
  ``smr`` at C4, ``alpha`` at Pz, ``scp`` slow cortical potential at Cz), validated with one-line errors;
* :class:`NFBStep` — a streaming :class:`dbrain.engine.Step`: reward feature, inhibits, signal quality
  and the automatic threshold (:class:`AutoThreshold`) at ``update_hz`` ≥ 4 per second;
* :func:`run_session` — a whole session from ``synthetic``, ``file:PATH`` or ``lsl:NAME``, with a block
  plan (baseline / training / transfer), a feedback callback and the sham arm, writing
  ``session.json`` and ``feedback.parquet``;
* :func:`course_summary` — the sessions of a course and the learning curve of the trained feature.
"""

from ._course import course_summary
from ._protocol import Inhibit, Protocol, Reward, ThresholdRule, list_protocols, load_protocol
from ._session import SessionResult, run_session
from ._sources import LSLSource, ReplaySource, open_source
from ._step import BLOCK_KINDS, Block, NFBStep, SessionControl, parse_blocks
from ._threshold import AutoThreshold

__all__ = [
    "BLOCK_KINDS",
    "AutoThreshold",
    "Block",
    "Inhibit",
    "LSLSource",
    "NFBStep",
    "Protocol",
    "ReplaySource",
    "Reward",
    "SessionControl",
    "SessionResult",
    "ThresholdRule",
    "course_summary",
    "list_protocols",
    "load_protocol",
    "open_source",
    "parse_blocks",
    "run_session",
]
