"""Replay the fuzzing regression corpus (issue #25): every input once found to crash, hang or
blow up memory must now end cleanly (success or a DbrainError) within the time limit.

The corpus lives in ``dbrain/tests/fuzz_corpus/<target>/`` (``index.json`` says what each file
once did); ``benchmarks/fuzz.py`` adds to it. Inputs whose target needs ``../shared/data`` (the
rest of a multi-file recording) skip when it is absent.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from dbrain.tests.fuzz_targets import SHARED_DATA, TARGETS

CORPUS = Path(__file__).parent / "fuzz_corpus"
#: The campaign's hang limit (benchmarks/fuzz.py --timeout).
SECONDS = 10


def _cases() -> list[tuple[str, str]]:
    cases = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []:
        cases += [(folder.name, f.name) for f in sorted(folder.iterdir()) if f.is_file() and f.name != "index.json"]
    return cases


def test_corpus_index_names_every_file():
    for folder in (p for p in CORPUS.iterdir() if p.is_dir()):
        index = json.loads((folder / "index.json").read_text()) if (folder / "index.json").is_file() else {}
        files = {f.name for f in folder.iterdir() if f.is_file() and f.name != "index.json"}
        assert files == set(index), f"{folder.name}: corpus files and index.json disagree"
        assert folder.name in TARGETS


@pytest.mark.parametrize(("target", "name"), _cases() or [("(none)", "(none)")])
def test_replay(target, name, tmp_path):
    if target == "(none)":
        pytest.skip("empty corpus")
    t = TARGETS[target]
    if t.needs_shared_data() and not SHARED_DATA.is_dir():
        pytest.skip(f"{target} needs ../shared/data")
    data = (CORPUS / target / name).read_bytes()

    def too_slow(signum, frame):
        raise TimeoutError(f"{target}/{name} took more than {SECONDS} s")

    old = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(SECONDS)
    t0 = time.time()
    try:
        t(data, tmp_path)  # raises anything but a DbrainError
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert time.time() - t0 < SECONDS
