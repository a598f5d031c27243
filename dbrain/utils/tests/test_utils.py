"""Validation helpers, atomic outputs, DBRAIN_HOME and the verbose decorator."""

import logging

import pytest

from dbrain.errors import OutputError, ParameterError
from dbrain.utils import _check_option, _check_range, _validate_type, dbrain_home, logger, verbose
from dbrain.utils._atomic import atomic_dir, atomic_file


def test_check_option_message():
    with pytest.raises(ParameterError, match=r"'montage' parameter\. Allowed values are 'a', 'b', but got 'c'"):
        _check_option("montage", "c", ["a", "b"])
    assert _check_option("m", "a", ["a"]) == "a"


def test_check_range_and_type():
    with pytest.raises(ParameterError, match=r"duration must be in \[0, 10\], got 11"):
        _check_range("duration", 11, 0, 10)
    with pytest.raises(ParameterError, match="must be an instance of int, got bool"):
        _validate_type(True, int, "n")
    assert _check_range("x", 5, 0, None) == 5
    with pytest.raises(ParameterError, match=r"x must be in \(0, inf\)"):
        _check_range("x", 0, 0, None, inclusive=False)


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "results"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(out) as tmp:
        (tmp / "ok.txt").write_text("x")
    assert (out / "ok.txt").exists()
    with pytest.raises(OutputError, match="not empty"):
        with atomic_dir(out):
            pass


def test_atomic_file(tmp_path):
    target = tmp_path / "a.edf"
    with pytest.raises(ValueError):
        with atomic_file(target) as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError
    assert list(tmp_path.iterdir()) == []
    with atomic_file(target) as tmp:
        tmp.write_bytes(b"ok")
    assert target.stat().st_mode & 0o044, "outputs are not private to their owner"


def test_dbrain_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DBRAIN_HOME", str(tmp_path / "h"))
    assert dbrain_home() == tmp_path / "h" and (tmp_path / "h").is_dir()


def test_verbose_restores_level():
    @verbose
    def f(verbose=None):
        return logger.level

    before = logger.level
    assert f(verbose="DEBUG") == logging.DEBUG
    assert logger.level == before
