"""From model outputs to points: a regression readout or a heatmap codec, optionally with the
mirrored test-time average. Points come out as fractions of the input (the datasets' unit).

readout names a model's output kind, as saved with it: 'regression' (K x 2 coordinates),
'heatmap' (Gaussian maps) or 'integral' (maps trained through a soft-argmax).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .heatmaps import HeatmapCodec
from .tta import mirrored_average, unmirror_maps, unmirror_points

READOUTS = ("regression", "heatmap", "integral")


def codec_for(readout: str) -> HeatmapCodec | None:
    """The heatmap codec that reads a model's maps; None for a regressor."""
    if readout not in READOUTS:
        raise ValueError(f"unknown readout {readout!r}; choose one of {READOUTS}")
    return None if readout == "regression" else HeatmapCodec(integral=readout == "integral")


def predict_maps(model: nn.Module, images: torch.Tensor, perm=None) -> torch.Tensor:
    """Model heatmaps for a batch, on the CPU; with `perm`, averaged with the maps of the
    mirrored images flipped back."""
    return mirrored_average(
        model, images, None if perm is None else partial(unmirror_maps, perm=perm)
    )


def predict_batch(
    model: nn.Module, images: torch.Tensor, readout: str = "regression", perm=None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Points (N, K, 2, fractions) and, for heatmaps, confidences (N, K) for one batch."""
    codec = codec_for(readout)
    if codec is None:
        unmirror = None if perm is None else partial(unmirror_points, perm=perm)
        return mirrored_average(model, images, unmirror), None
    return codec.decode(predict_maps(model, images, perm))


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: DataLoader,
    readout: str = "regression",
    perm: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Points (fractions), confidences (None for a regressor) and targets for a whole loader."""
    model.eval()
    points, confidences, targets = [], [], []
    for images, target in loader:
        found, confidence = predict_batch(model, images, readout, perm)
        points.append(found)
        confidences.append(confidence)
        targets.append(target)
    confidence = None if confidences[0] is None else torch.cat(confidences).numpy()
    return torch.cat(points).numpy(), confidence, torch.cat(targets).numpy()
