"""The core install reads, analyses and reports without the server and batch extras."""

import subprocess
import sys
from pathlib import Path

import pytest

import dbrain
from dbrain.utils._extras import EXTRAS

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"

# Run Python as if the extras were not installed: their modules cannot be found.
_BLOCK = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, _Block())
import importlib.util
_find = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BLOCKED else _find(name, *a)
"""


def _run(code: str, blocked, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_BLOCK.format(blocked=sorted(blocked)) + code)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)


@pytest.mark.slow
def test_analyze_runs_without_server_and_batch_extras(tmp_path):
    blocked = {m for mods in EXTRAS.values() for m in mods}
    code = (
        "import dbrain\n"
        f"out = dbrain.analyze({str(SAMPLE)!r}, {str(tmp_path / 'out')!r}, only=['recording', 'qeeg', 'seizures'])\n"
        "assert out.report_pdf.is_file()\n"
        f"assert not any(m.split('.')[0] in {sorted(blocked)!r} for m in sys.modules), 'an extra was imported'\n"
    )
    done = _run("import sys\n" + code, blocked, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize(("extra", "statement"), [("server", "import dbrain.server"), ("batch", "import dbrain.batch")])
def test_missing_extra_names_the_install_command(extra, statement, tmp_path):
    code = (
        "from dbrain.utils._extras import MissingExtraError\n"
        f"try:\n    {statement}\nexcept MissingExtraError as exc:\n    print(exc)\n"
    )
    done = _run(code, set(EXTRAS[extra]), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"pip install 'dbrain[{extra}]'" in done.stdout


def test_cli_says_which_extra_is_missing(tmp_path):
    code = "import sys\nfrom dbrain.cli import main\nsys.argv = ['dbrain', 'serve', '--port', '0']\nmain()\n"
    done = _run(code, set(EXTRAS["server"]), tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "dbrain[server]" in done.stderr and "Traceback" not in done.stderr
