"""Mirrored test-time averaging: predict an image and its mirror, map the mirror back, average.

Used by inference (helpers.inference.predict) and by evaluation during training alike, so it imports
nothing from either.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def mirrored_average(
    model: nn.Module, images: torch.Tensor, unmirror: Callable[[torch.Tensor], torch.Tensor] | None
) -> torch.Tensor:
    """Model outputs for one batch, on the CPU. With `unmirror`, the outputs for the mirrored
    images, mapped back onto the originals by it, are averaged in."""
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    out = model(images.to(dev)).float().cpu()
    if unmirror is None:
        return out
    return (out + unmirror(model(images.flip(-1).to(dev)).float().cpu())) / 2


def unmirror_points(out: torch.Tensor, perm: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Point outputs (fractions) of mirrored images as points of the originals: left and right
    indices swapped back, x mirrored."""
    points = out[:, torch.as_tensor(perm)]  # indexing copies: safe to edit in place
    points[..., 0] = 1 - points[..., 0]
    return points


def unmirror_maps(maps: torch.Tensor, perm: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Heatmaps (N, K, H, W) of mirrored images as maps of the originals: flipped left-right
    and re-indexed so that left and right points swap back."""
    return maps.flip(-1)[:, torch.as_tensor(perm)]
