"""The package's layout: layers that import downward only, inference free of data parsing and
training, and one front door that lists and runs every command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.__main__ import COMMANDS, main

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
# bottom up; a module may import from its own layer and the layers below it, and data and
# inference, side by side, not from each other
RANK = {"": 0, "nets": 1, "data": 2, "inference": 2, "training": 3, "reports": 4}


def _layer(module: str) -> str:
    """helpers.inference.predict -> 'inference'; helpers.crop -> '' (the ground layer)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def _imports(path: Path) -> set[str]:
    """The helpers modules a file imports at run time (not under `if TYPE_CHECKING:`)."""
    package = ".".join(path.relative_to(HELPERS.parent).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or id(node) in typing_only:
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if not module.startswith("helpers"):
            continue
        names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
        found.update(names)
    return found


def test_every_module_imports_from_its_own_layer_or_below():
    upward = []
    for path in sorted(HELPERS.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        here = _layer(".".join(path.relative_to(HELPERS.parent).with_suffix("").parts))
        for module in _imports(path):
            there = _layer(module) if module.count(".") >= 2 else module.split(".")[1]
            there = there if there in RANK else ""  # `from .. import crop`: the ground layer
            if RANK[there] > RANK[here] or (RANK[there] == RANK[here] and there != here):
                upward.append(f"{path.relative_to(HELPERS.parent)} imports {module}")
    assert not upward, upward


def test_the_inference_entry_point_loads_no_data_parsing_or_training_module():
    code = (
        "import sys; import helpers.inference.predict, helpers.inference.video; "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('helpers'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    modules = loaded.stdout.split()
    assert "helpers.inference.predict" in modules and "helpers.crop" in modules
    leaked = [m for m in modules if _layer(m) in ("data", "training", "reports")]
    assert not leaked, leaked


def test_the_front_door_lists_every_command_module_and_each_has_a_main(capsys):
    assert main([]) == 0
    listing = capsys.readouterr().out
    commands = {path.stem for path in HELPERS.rglob("*.py") if "__main__" in path.read_text()}
    commands -= {"__init__", "__main__"}
    assert {module.rsplit(".", 1)[1] for module, _ in COMMANDS.values()} == commands
    for name in COMMANDS:
        assert f"  {name} " in listing
    assert main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "notebooks"])
def test_a_command_runs_through_the_front_door(command):
    run = subprocess.run(
        [sys.executable, "-m", "helpers", command, "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: python -m helpers {command}")
