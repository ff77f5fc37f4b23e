"""Where a model file's network runs: torch, or ONNX Runtime (the well-kept runtime for
inference on CPUs) when it is installed and a verified ONNX export sits beside the file.

The ONNX file is trusted only as far as the model card vouches for it: its SHA-256 must match
the card's "onnx" entry, which helpers.inference.export writes after checking the export
against torch.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import relative
from ..files import sha256_of

try:  # optional: everything runs on torch without it
    import onnxruntime as ort
except ImportError:  # pragma: no cover - exercised by monkeypatching ort to None
    ort = None

RUNTIMES = ("auto", "torch", "onnx")


class OnnxNet(nn.Module):
    """An ONNX Runtime session that takes and returns torch tensors, like the network it was
    exported from (float32 on the CPU)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        super().__init__()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # No busy-waiting between runs: on few cores, spinning threads starve torch's own
        # threads, which crop and decode beside it, and every face gets slower.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input: array})[0])


def onnx_path(weights: Path) -> Path:
    """Where a model file's ONNX export lives: beside it."""
    return Path(weights).with_suffix(".onnx")


def choose(weights: Path, net: nn.Module, runtime: str = "auto") -> tuple[nn.Module, str]:
    """The network to run and the runtime's name: ONNX Runtime for runtime='onnx' (an error
    if it cannot) or 'auto' (when it can), else the torch network as loaded."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
    if runtime == "torch":
        return net, "torch"
    reason = _onnx_unusable(Path(weights))
    if reason is None:
        return OnnxNet(onnx_path(weights)), "onnxruntime"
    if runtime == "onnx":
        raise ValueError(f"cannot run {relative(weights)} on ONNX Runtime: {reason}")
    return net, "torch"


def verified_onnx(weights: Path) -> Path:
    """The ONNX export beside a model file, checked against its card; ValueError says why not."""
    reason = _onnx_unusable(Path(weights))
    if reason is not None:
        raise ValueError(f"{relative(weights)}: {reason}")
    return onnx_path(weights)


def _onnx_unusable(weights: Path) -> str | None:
    """Why the ONNX export of `weights` cannot be used, or None when it can."""
    if ort is None:
        return "onnxruntime is not installed (pip install onnxruntime)"
    path, card = onnx_path(weights), weights.with_suffix(".json")
    if not path.is_file():
        return f"no {path.name} beside it (python -m helpers export writes one)"
    expected = (
        json.loads(card.read_text()).get("onnx", {}).get("sha256") if card.is_file() else None
    )
    if expected is None:
        return f"its card does not list {path.name}"
    if sha256_of(path) != expected:
        warnings.warn(f"{relative(path)}: SHA-256 differs from its card; using torch", stacklevel=3)
        return f"{path.name} differs from its card"
    return None
