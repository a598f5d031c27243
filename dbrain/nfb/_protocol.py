"""Neurofeedback protocols: small YAML files, validated with one-line messages.

A protocol names the reward feature (band power, band-power ratio or slow
cortical potential at one electrode), the inhibits that withhold reward
(band power at electrodes above a multiple of its running median), the
update rate and the automatic-threshold settings. See ``docs/nfb.md``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ParameterError
from ..utils.check import _suggest

FEATURES = ("band_power", "ratio", "scp")
DIRECTIONS = ("up", "down")
#: The channel name an inhibit uses for "the reward electrode, whichever was chosen".
REWARD_CHANNEL = "reward"


@dataclass(frozen=True)
class Reward:
    """The trained feature.

    Attributes
    ----------
    feature : {"band_power", "ratio", "scp"}
        Band power (µV²) in ``band``; ``numerator``/``denominator`` power ratio;
        slow cortical potential shift (µV).
    channel : str
        Electrode (10-20 name).
    substitutes : tuple of str
        Electrodes tried in order when ``channel`` is missing (none by default).
    direction : {"up", "down"}
        Reward when the feature is above (up) or below (down) the threshold.
    band, numerator, denominator : tuple of float | None
        Bands in Hz, ``[low, high)``.
    trial_s, baseline_s, average_s : float
        SCP only: trial length, pre-trial baseline and the averaging window of the shift.
    """

    feature: str
    channel: str
    direction: str
    substitutes: tuple[str, ...] = ()
    band: tuple[float, float] | None = None
    numerator: tuple[float, float] | None = None
    denominator: tuple[float, float] | None = None
    trial_s: float = 8.0
    baseline_s: float = 2.0
    average_s: float = 0.5


@dataclass(frozen=True)
class Inhibit:
    """A condition that withholds reward: band power at any of ``channels`` above ``factor`` × its running median.

    Attributes
    ----------
    name : str
    channels : tuple of str
        Electrodes (``"reward"`` = the reward electrode); those present are used, at least one must be.
    band : tuple of float
        Hz, ``[low, high)``.
    factor : float
        Inhibit when the power exceeds ``factor`` × the median of its last ``history_s`` seconds.
    window_s : float | None
        Analysis window (default: the protocol's).
    history_s : float
        Length of the running median's history.
    max_uv2 : float | None
        Also inhibit above this absolute power (µV²).
    fallback : tuple of str
        Electrodes used only when none of ``channels`` is present (e.g. F7/F8 for blinks without Fp1/Fp2).
    """

    name: str
    channels: tuple[str, ...]
    band: tuple[float, float]
    factor: float = 3.0
    window_s: float | None = None
    history_s: float = 60.0
    max_uv2: float | None = None
    fallback: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThresholdRule:
    """The automatic threshold (see :class:`dbrain.nfb.AutoThreshold`).

    Attributes
    ----------
    target_reward_fraction : float
        Fraction of artifact-free training updates to reward (0.6–0.7 usual; 0.05–0.95 accepted).
    step : float
        Step of the stochastic approximation, in units of the feature's robust spread.
    warmup_s : float
        Seconds of training (when no baseline block precedes it) used to set the first threshold.
    """

    target_reward_fraction: float = 0.65
    step: float = 0.1
    warmup_s: float = 10.0


@dataclass(frozen=True)
class Protocol:
    """A neurofeedback protocol.

    Attributes
    ----------
    name, description : str
    reward : Reward
    inhibits : tuple of Inhibit
    threshold : ThresholdRule
    update_hz : float
        Feedback updates per second (4–32).
    window_s : float
        Analysis window of the reward feature (s).
    indication : str
    references : tuple of str
    source : str
        Where the protocol was read from.
    """

    name: str
    reward: Reward
    inhibits: tuple[Inhibit, ...] = ()
    threshold: ThresholdRule = field(default_factory=ThresholdRule)
    update_hz: float = 4.0
    window_s: float = 2.0
    description: str = ""
    indication: str = ""
    references: tuple[str, ...] = ()
    source: str = ""

    def channels(self) -> list[str]:
        """Every electrode the protocol names (reward first)."""
        out = [self.reward.channel]
        for inh in self.inhibits:
            out += [c for c in (*inh.channels, *inh.fallback) if c != REWARD_CHANNEL and c not in out]
        return out

    def to_dict(self) -> dict:
        """A JSON-serialisable description (as stored in ``session.json``)."""
        return asdict(self)

    def with_target(self, target: float) -> Protocol:
        """The same protocol with another target reward fraction."""
        _number(target, "threshold.target_reward_fraction", 0.05, 0.95, self.name)
        rule = ThresholdRule(float(target), self.threshold.step, self.threshold.warmup_s)
        return Protocol(**{**self.__dict__, "threshold": rule})


def _builtin_dir():
    return resources.files("dbrain.nfb") / "protocols"


def list_protocols() -> dict[str, str]:
    """The built-in protocols.

    Returns
    -------
    protocols : dict of str to str
        Name to one-line description, sorted by name.
    """
    out = {}
    for entry in sorted(_builtin_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            proto = _parse(yaml.safe_load(entry.read_text(encoding="utf-8")), entry.name)
            out[proto.name] = proto.description
    return out


def load_protocol(name_or_path: str | os.PathLike | Protocol) -> Protocol:
    """A built-in protocol by name, or a protocol YAML file.

    Parameters
    ----------
    name_or_path : str | path-like | Protocol
        ``"theta-beta"``, ``"smr"``, ``"alpha"``, ``"scp"`` (see :func:`list_protocols`),
        or the path of a ``.yaml``/``.yml`` file.

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    dbrain.errors.ParameterError
        Unknown name, unreadable file or invalid protocol (one line naming the field).
    """
    if isinstance(name_or_path, Protocol):
        return name_or_path
    if not isinstance(name_or_path, str | os.PathLike):
        raise ParameterError(f"protocol must be a name or a path, got {type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    builtin = _builtin_dir() / f"{text}.yaml"
    if "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml")):
        if not builtin.is_file():
            names = list(list_protocols())
            raise ParameterError(f"unknown protocol {text!r}; built-in: {', '.join(names)}.{_suggest(text, names)}")
        return _parse(yaml.safe_load(builtin.read_text(encoding="utf-8")), f"builtin:{text}")
    path = Path(text)
    if not path.is_file():
        raise ParameterError(f"protocol file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParameterError(f"protocol file '{path}' is not readable YAML: {' '.join(str(exc).split())}") from None
    return _parse(data, str(path))


# --- validation --------------------------------------------------------------------------------------------


def _err(where: str, message: str):
    raise ParameterError(f"protocol {where}: {message}")


def _mapping(value, key: str, where: str, allowed: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        _err(where, f"{key} must be a mapping, got {type(value).__name__}")
    for k in value:
        if k not in allowed:
            _err(where, f"unknown field {key + '.' if key else ''}{k}; allowed: {', '.join(allowed)}.{_suggest(k, allowed)}")
    return value


def _number(value, key: str, low: float, high: float, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _err(where, f"{key} must be a number, got {value!r}")
    if not low <= value <= high:
        _err(where, f"{key} must be in [{low}, {high}], got {value!r}")
    return float(value)


def _band(value, key: str, where: str, nyq_hint: float = 200.0) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        _err(where, f"{key} must be [low, high] in Hz, got {value!r}")
    low = _number(value[0], f"{key}[0]", 0.0, nyq_hint, where)
    high = _number(value[1], f"{key}[1]", 0.0, nyq_hint, where)
    if not low < high:
        _err(where, f"{key} must have low < high, got {list(value)!r}")
    return (low, high)


def _channel(value, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _err(where, f"{key} must be an electrode name, got {value!r}")
    return value.strip()


def _channels(value, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        _err(where, f"{key} must be a non-empty list of electrode names, got {value!r}")
    return tuple(_channel(v, f"{key}[{i}]", where) for i, v in enumerate(value))


_TOP = ("name", "description", "indication", "references", "update_hz", "window_s", "reward", "threshold", "inhibits")
_REWARD = (
    "feature",
    "channel",
    "substitutes",
    "direction",
    "band",
    "numerator",
    "denominator",
    "trial_s",
    "baseline_s",
    "average_s",
)
_INHIBIT = ("name", "channels", "fallback", "band", "factor", "window_s", "history_s", "max_uv2")
_THRESHOLD = ("target_reward_fraction", "step", "warmup_s")


def _parse(data, where: str) -> Protocol:
    where = f"'{where}'"
    data = _mapping(data, "", where, _TOP)
    for key in ("name", "reward"):
        if key not in data:
            _err(where, f"missing field {key}")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        _err(where, f"name must be a word (no spaces), got {name!r}")
    update_hz = _number(data.get("update_hz", 4), "update_hz", 4, 32, where)
    window_s = _number(data.get("window_s", 2.0), "window_s", 0.5, 10.0, where)

    r = _mapping(data["reward"], "reward", where, _REWARD)
    for key in ("feature", "channel", "direction"):
        if key not in r:
            _err(where, f"missing field reward.{key}")
    feature = r["feature"]
    if feature not in FEATURES:
        _err(where, f"reward.feature must be one of {', '.join(FEATURES)}, got {feature!r}.{_suggest(feature, FEATURES)}")
    if r["direction"] not in DIRECTIONS:
        _err(where, f"reward.direction must be 'up' or 'down', got {r['direction']!r}")
    needed = {"band_power": ("band",), "ratio": ("numerator", "denominator"), "scp": ()}[feature]
    for key in needed:
        if key not in r:
            _err(where, f"reward.{key} is required for feature {feature!r}")
    for key in ("band", "numerator", "denominator"):
        if key in r and key not in needed:
            _err(where, f"reward.{key} does not apply to feature {feature!r}")
    for key in ("trial_s", "baseline_s", "average_s"):
        if key in r and feature != "scp":
            _err(where, f"reward.{key} only applies to feature 'scp'")
    reward = Reward(
        feature=feature,
        channel=_channel(r["channel"], "reward.channel", where),
        direction=r["direction"],
        substitutes=_channels(r["substitutes"], "reward.substitutes", where) if r.get("substitutes") else (),
        band=_band(r["band"], "reward.band", where) if "band" in r else None,
        numerator=_band(r["numerator"], "reward.numerator", where) if "numerator" in r else None,
        denominator=_band(r["denominator"], "reward.denominator", where) if "denominator" in r else None,
        trial_s=_number(r.get("trial_s", 8.0), "reward.trial_s", 1.0, 60.0, where),
        baseline_s=_number(r.get("baseline_s", 2.0), "reward.baseline_s", 0.25, 10.0, where),
        average_s=_number(r.get("average_s", 0.5), "reward.average_s", 0.1, 5.0, where),
    )
    if feature == "scp" and reward.average_s > reward.trial_s:
        _err(where, "reward.average_s must not exceed reward.trial_s")

    t = _mapping(data.get("threshold") or {}, "threshold", where, _THRESHOLD)
    threshold = ThresholdRule(
        target_reward_fraction=_number(
            t.get("target_reward_fraction", 0.65), "threshold.target_reward_fraction", 0.05, 0.95, where
        ),
        step=_number(t.get("step", 0.1), "threshold.step", 1e-4, 1.0, where),
        warmup_s=_number(t.get("warmup_s", 10.0), "threshold.warmup_s", 2.0, 300.0, where),
    )

    raw_inhibits = data.get("inhibits") or []
    if not isinstance(raw_inhibits, list):
        _err(where, f"inhibits must be a list, got {type(raw_inhibits).__name__}")
    inhibits, names = [], set()
    for i, item in enumerate(raw_inhibits):
        key = f"inhibits[{i}]"
        item = _mapping(item, key, where, _INHIBIT)
        for k in ("name", "channels", "band"):
            if k not in item:
                _err(where, f"missing field {key}.{k}")
        iname = item["name"]
        if not isinstance(iname, str) or not iname.isidentifier():
            _err(where, f"{key}.name must be a word of letters, digits or _, got {iname!r}")
        if iname in names:
            _err(where, f"inhibit name {iname!r} is used twice")
        names.add(iname)
        inhibits.append(
            Inhibit(
                name=iname,
                channels=_channels(item["channels"], f"{key}.channels", where),
                band=_band(item["band"], f"{key}.band", where),
                factor=_number(item.get("factor", 3.0), f"{key}.factor", 1.0, 1000.0, where),
                window_s=_number(item["window_s"], f"{key}.window_s", 0.5, 10.0, where)
                if item.get("window_s") is not None
                else None,
                history_s=_number(item.get("history_s", 60.0), f"{key}.history_s", 5.0, 3600.0, where),
                max_uv2=_number(item["max_uv2"], f"{key}.max_uv2", 0.0, 1e12, where) if item.get("max_uv2") is not None else None,
                fallback=_channels(item["fallback"], f"{key}.fallback", where) if item.get("fallback") else (),
            )
        )
    refs = data.get("references") or []
    if not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
        _err(where, "references must be a list of strings")
    for key in ("description", "indication"):
        if not isinstance(data.get(key, ""), str):
            _err(where, f"{key} must be text")
    return Protocol(
        name=name,
        reward=reward,
        inhibits=tuple(inhibits),
        threshold=threshold,
        update_hz=update_hz,
        window_s=window_s,
        description=data.get("description", ""),
        indication=data.get("indication", ""),
        references=tuple(refs),
        source=where.strip("'"),
    )
