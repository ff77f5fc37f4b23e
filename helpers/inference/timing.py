"""How long a landmark model takes per face, measured so that rows of one table compare:
medians, after a warm-up, in rounds that interleave the rows so a slow spell hits them alike."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..progress import progress
from . import runtime
from .modelfile import ModelSettings
from .predict import Landmarker

ROUNDS = 3  # batch-1 timings are interleaved in rounds, so a slow spell hits every row alike


def ms_per_face(
    model: nn.Module, settings: ModelSettings, batch: int, mirrored: bool, repeats: int
) -> float:
    """Milliseconds per face from model-ready crops to points (model and readout) on random
    crops: the median over `repeats` calls after one warm-up call (a latency, so the typical
    call, not the mean)."""
    size = settings.crop_size
    crops = torch.rand(batch, settings.in_channels, size, size) - 0.5
    squares = np.tile(np.float32([0, 0, size]), (batch, 1))
    identity = tuple(range(68))  # the timing does not depend on the permutation
    settings = replace(settings, flip_perm=(settings.flip_perm or identity) if mirrored else None)
    landmarker = Landmarker(model, settings, batch_size=batch)
    landmarker.from_crops(crops, squares)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        landmarker.from_crops(crops, squares)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)) / batch


def ms_per_face_in_images(
    model: nn.Module, settings: ModelSettings, samples, repeats: int
) -> float:
    """Milliseconds per face from an image and its box to 68 points in the image (crop, model,
    readout, back to image pixels; no mirror): what dlib's predictor is timed on, the median
    over `repeats` passes over the (uint8 image, box) samples after one warm-up pass."""
    landmarker = Landmarker(model, settings, mirrored=False)
    times = []
    for rep in range(repeats + 1):
        for image, box in samples:
            start = time.perf_counter()
            landmarker.in_boxes(image, [box])
            if rep:
                times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def onnx_or_none(path: Path, model: nn.Module) -> nn.Module | None:
    """The model's verified ONNX export on ONNX Runtime, or None (and why, printed)."""
    try:
        return runtime.choose(path, model, "onnx")[0]
    except ValueError as err:
        print(f"{path.name} on onnxruntime: skipped ({err})")
        return None


def interleaved(
    timers: dict[str, Callable[[], float]], rounds: int | None = None
) -> dict[str, float]:
    """Each timer's median over `rounds` (default ROUNDS) rounds that run every timer in turn,
    so that a slow spell of the machine hits every row alike."""
    times = defaultdict(list)
    for _ in progress(range(ROUNDS if rounds is None else rounds), desc="rounds", leave=False):
        for row, timer in timers.items():
            times[row].append(timer())
    return {row: float(np.median(values)) for row, values in times.items()}
