"""The project's commands: `python -m helpers` lists them, `python -m helpers <command> ...`
runs one (each takes --help). The module beside each command is its code."""

from __future__ import annotations

import importlib
import sys

# command: (module, what it does)
COMMANDS = {
    "download": ("helpers.data.download", "fetch and verify the IMM and 300-W datasets"),
    "pack": ("helpers.data.pack", "the release's 300-W crops in one verified file that travels"),
    "predict": (
        "helpers.inference.predict",
        "68 landmarks on photos: JSON, annotated PNGs",
    ),
    "video": ("helpers.inference.video", "landmarks on a video file or a camera, tracked"),
    "export": ("helpers.inference.export", "export a model file to ONNX, checked against torch"),
    "release": ("helpers.training.release", "train a shipped model's release recipe (resumable)"),
    "gpu-results": (
        "helpers.training.gpu_results",
        "check, score and ship the models a GPU job (tools/gpu_job.py) brought back",
    ),
    "recipe-study": ("helpers.training.recipe_study", "release recipes at equal wall-clock time"),
    "notebooks": ("helpers.reports.run_notebooks", "run the notebooks in a profile"),
    "writeup": ("helpers.reports.writeup", "build the course write-up page from results/"),
    "benchmark": ("helpers.reports.benchmark", "training and inference speed, memory on photos"),
    "clip": ("helpers.reports.clip", "tracking on a video clip with known true points"),
    "quantize": ("helpers.reports.quantize", "what int8 buys the shipped models"),
    "confidence": (
        "helpers.reports.confidence",
        "what a point's confidence says: its error, and points hidden under a patch",
    ),
    "pose-check": (
        "helpers.reports.pose_check",
        "how well the head pose comes back: synthetic faces, and the clip's rotation",
    ),
    "demo": ("helpers.reports.demo", "the README's demo figures"),
    "web": ("helpers.reports.web", "the browser demo: your photo and your webcam, served here"),
    "web-check": (
        "helpers.reports.web_check",
        "the browser demo in headless Chromium: its points, search and speed against Python's",
    ),
}


def usage() -> str:
    """The list of commands, one line each."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {line}" for name, (_, line) in COMMANDS.items()]
    return "usage: python -m helpers <command> [--help | options]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the named command with the rest of the arguments; list the commands otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    command = importlib.import_module(COMMANDS[name][0])
    sys.argv = [f"python -m helpers {name}", *rest]  # argparse names the command in its usage
    return command.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
