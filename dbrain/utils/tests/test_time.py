import datetime as dt

import pytest

from dbrain.utils._time import format_time, is_multiday

START = dt.datetime(2026, 3, 1, 22, 30, 0)


@pytest.mark.parametrize(
    ("seconds", "start", "multiday", "decimals", "expected"),
    [
        (0.0, None, False, 0, "+0:00:00"),
        (3723.4, None, False, 0, "+1:02:03"),
        (3723.46, None, False, 1, "+1:02:03.5"),
        (259200.0, None, False, 0, "+72:00:00"),
        (59.96, None, False, 1, "+0:01:00.0"),
        (0.0, START, False, 0, "22:30:00"),
        (26000.0, START, True, 0, "D2 05:43:20"),
        (5399.0, START, True, 0, "D1 23:59:59"),
        (5400.0, START, True, 0, "D2 00:00:00"),
        (2 * 86400 + 1.25, START, True, 2, "D3 22:30:01.25"),
        (0.96, START, False, 1, "22:30:01.0"),
    ],
)
def test_format_time(seconds, start, multiday, decimals, expected):
    assert format_time(seconds, start, multiday=multiday, decimals=decimals) == expected


def test_no_scientific_notation():
    assert "e" not in format_time(2.6e4, START, multiday=True)
    assert format_time(2.6e4) == "+7:13:20"


def test_is_multiday():
    assert not is_multiday(None, 3 * 86400)
    assert not is_multiday(dt.datetime(2026, 3, 1, 8), 3600)
    assert is_multiday(START, 5400)
    assert not is_multiday(START, 5399)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "12"])
def test_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="finite"):
        format_time(bad)
