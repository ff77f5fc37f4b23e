"""Run the notebooks top to bottom in a profile, saving outputs, figures and results.

Usage: python -m helpers notebooks [--profile quick|full|course] [--output DIR] [NOTEBOOK ...]
In place by default (the committed outputs, figures and results); with --output DIR the executed
notebooks, figures, results and models go under DIR instead, and the committed ones stay as
they are.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

from ..config import PROFILES, REPO_ROOT, pin_data_root


def kernel_config(folder: Path) -> Config:
    """The kernel talks to this process over local sockets in `folder` (an absolute path: the
    kernel runs in the notebook's folder), not TCP: nothing listens on a port, and the kernel
    has no "running over TCP without encryption" warning to print."""
    return Config({"KernelManager": {"transport": "ipc", "ip": str(folder.resolve() / "kernel")}})


WIDGET = "application/vnd.jupyter.widget-view+json"


def without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without progress-bar widgets: a saved widget has no state to show, so a git
    host or nbviewer shows a stale "0%" bar; the printed results stay."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    return nb


def run_notebook(path: Path, profile: str, output: Path | None = None) -> float:
    """Execute one notebook in a fresh kernel, in place or into output/notebooks/; return the
    seconds it took."""
    os.environ["FKD_PROFILE"] = profile
    nb = nbformat.read(path, as_version=4)
    if output is not None:
        os.environ["FKD_OUTPUT_DIR"] = str(output.resolve())
        path = output / "notebooks" / path.name
        path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as sockets:
        client = NotebookClient(
            nb,
            timeout=None,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            config=kernel_config(Path(sockets)),
        )
        try:
            client.execute()
        finally:
            nbformat.write(without_widgets(nb), path)  # keep what ran, even when a cell fails
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default=os.environ.get("FKD_PROFILE", "quick")
    )
    parser.add_argument("--output", type=Path, default=None, help="run copies; outputs go here")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    pin_data_root()
    paths = args.notebooks or sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"running {path.name} ({args.profile} profile) ...", flush=True)
        print(f"  done in {run_notebook(path, args.profile, args.output):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
