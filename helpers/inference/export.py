"""Export a landmark model file to ONNX, beside it, checked against torch and listed on its
card (file, SHA-256, opset, largest difference), so that helpers.inference.runtime trusts it.

Usage: python -m helpers export [--model PATH]   (default: the shipped model)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..config import relative
from ..files import atomic_write, sha256_of
from .modelfile import DEFAULT_MODEL, ModelFileError, card_path, load_landmarker
from .runtime import OnnxNet, onnx_path

OPSET = 18
TOLERANCE = 1e-4  # largest output difference allowed between ONNX Runtime and torch


def export(weights: Path = DEFAULT_MODEL) -> Path:
    """Write <weights>.onnx (dynamic batch), check it on random crops, record it on the card."""
    model, settings = load_landmarker(weights)
    size, channels = settings.crop_size, settings.in_channels
    example = torch.rand(2, channels, size, size) - 0.5
    path = onnx_path(weights)
    batch = torch.export.Dim("batch", min=1, max=4096)

    def write_checked(tmp: Path) -> None:
        torch.onnx.export(
            model, (example,), tmp, input_names=["crops"], output_names=["outputs"],
            dynamic_shapes=({0: batch},), opset_version=OPSET, dynamo=True, verbose=False,
            external_data=False,  # one self-contained file, weights inside
        )  # fmt: skip
        check = torch.rand(5, channels, size, size) - 0.5
        with torch.no_grad():
            difference = float((OnnxNet(tmp)(check) - model(check)).abs().max())
        if difference > TOLERANCE:
            raise ModelFileError(f"ONNX export differs from torch by {difference:.2g}: not written")
        checked.append(difference)

    checked: list[float] = []  # the largest difference, for the card
    atomic_write(path, write_checked)
    difference = checked[0]
    card = json.loads(card_path(weights).read_text()) if card_path(weights).is_file() else {}
    card["onnx"] = {
        "file": path.name,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "opset": OPSET,
        "max_abs_difference": float(f"{difference:.3g}"),
    }
    atomic_write(card_path(weights), json.dumps(card, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    try:
        path = export(args.model)
    except (OSError, ModelFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    print(f"wrote {relative(path)} ({path.stat().st_size / 1e6:.1f} MB), listed on its card")
    return 0


if __name__ == "__main__":
    sys.exit(main())
