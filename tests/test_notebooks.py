"""The committed notebooks as a reader sees them: every saved figure shown inline, no path of
the machine that ran them, and no code that belongs in helpers/. Plus: importing helpers
leaves a notebook's plotting backend alone."""

import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import helpers
from helpers.config import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RERUN_PENDING = {  # committed outputs older than the move of their logic into helpers/
    "03_ibug_resnet18.ipynb": "notebook 3 keeps its last full run until it is rerun (issue 16)",
}
ABSOLUTE = re.compile(r"(/work|/home|/tmp|/root|/Users)/")


def _marks(path: Path):
    reason = RERUN_PENDING.get(path.name)
    return [pytest.mark.xfail(reason=reason, strict=True)] if reason else []


CASES = [pytest.param(p, id=p.name, marks=_marks(p)) for p in NOTEBOOKS]


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _text(output: dict) -> str:
    data = output.get("data", {})
    return "".join(output.get("text", "")) + "".join(data.get("text/plain", ""))


@pytest.mark.parametrize("path", CASES)
def test_every_saved_figure_is_shown_inline(path):
    for cell in _code_cells(path):
        saves = "".join(cell["source"]).count("save_figure(")
        shown = sum("image/png" in o.get("data", {}) for o in cell["outputs"])
        assert shown >= saves, f"{path.name}: a cell saves {saves} figures and shows {shown}"


@pytest.mark.parametrize("path", CASES)
def test_no_output_holds_an_absolute_path(path):
    for cell in _code_cells(path):
        for output in cell["outputs"]:
            found = ABSOLUTE.search(_text(output))
            assert not found, f"{path.name}: {_text(output)[:200]!r}"


@pytest.mark.parametrize("path", CASES)
def test_no_cell_defines_a_function_or_class(path):
    for cell in _code_cells(path):
        for line in "".join(cell["source"]).splitlines():
            assert not line.lstrip().startswith(("def ", "class ")), f"{path.name}: {line}"


def test_importing_every_helper_keeps_the_inline_backend():
    names = [f"helpers.{m.name}" for m in pkgutil.iter_modules(helpers.__path__)]
    code = (
        "import matplotlib; matplotlib.use('module://matplotlib_inline.backend_inline'); "
        f"import importlib; [importlib.import_module(n) for n in {names!r}]; "
        "print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "module://matplotlib_inline.backend_inline"
