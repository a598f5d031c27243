"""Protocol files: the built-ins load, bad files fail with one line naming the field."""

import pytest
import yaml

from dbrain.errors import ParameterError
from dbrain.nfb import list_protocols, load_protocol


def test_builtins():
    names = list_protocols()
    assert set(names) == {"theta-beta", "smr", "alpha", "scp"}
    expect = {"theta-beta": ("ratio", "Cz", "down"), "smr": ("band_power", "C4", "up"),
              "alpha": ("band_power", "Pz", "up"), "scp": ("scp", "Cz", "down")}  # fmt: skip
    for name in expect:
        p = load_protocol(name)
        assert (p.reward.feature, p.reward.channel, p.reward.direction) == expect[name]
        assert p.update_hz >= 4
        assert 0.6 <= p.threshold.target_reward_fraction <= 0.7
        assert p.references, name
        assert {"emg", "blink"} <= {i.name for i in p.inhibits}
    tb = load_protocol("theta-beta")
    assert tb.reward.numerator == (4.0, 8.0) and tb.reward.denominator == (13.0, 21.0)
    assert load_protocol(tb) is tb


def _write(tmp_path, data):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


GOOD = {
    "name": "mine",
    "reward": {"feature": "band_power", "channel": "Cz", "band": [12, 15], "direction": "up"},
    "inhibits": [{"name": "emg", "channels": ["reward"], "band": [30, 45]}],
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"reward": {"feature": "band", "channel": "Cz", "band": [1, 2], "direction": "up"}}, "reward.feature must be one of"),
        ({"reward": {"feature": "band_power", "channel": "Cz", "band": [15, 12], "direction": "up"}}, "low < high"),
        ({"reward": {"feature": "band_power", "channel": "Cz", "direction": "up"}}, "reward.band is required"),
        (
            {"reward": {"feature": "ratio", "channel": "Cz", "numerator": [4, 8], "direction": "up"}},
            "reward.denominator is required",
        ),
        ({"reward": {"feature": "band_power", "channel": "Cz", "band": [1, 2], "direction": "sideways"}}, "reward.direction"),
        ({"update_hz": 2}, "update_hz must be in [4"),
        ({"threshold": {"target_reward_fraction": 1.5}}, "target_reward_fraction must be in"),
        ({"threshold": {"target": 0.6}}, "unknown field threshold.target"),
        ({"inhibits": [{"name": "emg", "channels": [], "band": [30, 45]}]}, "inhibits[0].channels must be a non-empty list"),
        ({"inhibits": [{"name": "a", "channels": ["Cz"], "band": [30, 45]}] * 2}, "used twice"),
        ({"colour": "red"}, "unknown field colour"),
    ],
)
def test_invalid_files_one_line(tmp_path, change, message):
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(ParameterError) as exc:
        load_protocol(path)
    text = str(exc.value)
    assert message in text and "\n" not in text and str(path) in text


def test_good_file_and_bad_names(tmp_path):
    assert load_protocol(_write(tmp_path, GOOD)).name == "mine"
    with pytest.raises(ParameterError, match="unknown protocol 'theta_beta'.*Did you mean 'theta-beta'"):
        load_protocol("theta_beta")
    with pytest.raises(ParameterError, match="does not exist"):
        load_protocol(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ParameterError, match="not readable YAML"):
        load_protocol(bad)
