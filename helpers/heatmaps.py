"""Keypoints as heatmaps: Gaussian targets, losses, sub-pixel decoding with confidence and
mirrored test-time augmentation.

A heatmap at stride s covers an input of size (W, H) with (W/s, H/s) pixels. With this
package's convention (pixel centres at integers), heatmap pixel u covers input pixels
[u*s - 0.5, (u+1)*s - 0.5], so an input point x sits at u = (x + 0.5)/s - 0.5 in the map:
geometry.resize_points does exactly this bookkeeping, in both directions.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .geometry import resize_points
from .train import mirrored_average


def to_heatmap_coords(points: np.ndarray, input_size: tuple[int, int], stride: int) -> np.ndarray:
    """Input-pixel points (..., 2) to heatmap-pixel points for maps at `stride`."""
    return resize_points(points, input_size, _map_size(input_size, stride))


def from_heatmap_coords(points: np.ndarray, input_size: tuple[int, int], stride: int):
    """Heatmap-pixel points (..., 2) back to input pixels."""
    return resize_points(points, _map_size(input_size, stride), input_size)


def _map_size(input_size: tuple[int, int], stride: int) -> tuple[int, int]:
    width, height = input_size
    if width % stride or height % stride:
        raise ValueError(f"input size {input_size} is not a multiple of the stride {stride}")
    return width // stride, height // stride


def render(points: torch.Tensor, map_size: tuple[int, int], sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (..., K, H, W), peak 1 at each sub-pixel point (..., K, 2) given in
    heatmap pixels; a point far outside the map gives a channel of (near) zeros."""
    width, height = map_size
    xs = torch.arange(width, dtype=torch.float32)
    ys = torch.arange(height, dtype=torch.float32)
    px, py = points[..., 0, None], points[..., 1, None]
    gx = torch.exp(-((xs - px) ** 2) / (2 * sigma**2))  # (..., K, W)
    gy = torch.exp(-((ys - py) ** 2) / (2 * sigma**2))  # (..., K, H)
    return gy[..., :, None] * gx[..., None, :]


def _vertex(left: torch.Tensor, mid: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Offset from the middle sample to the top of the parabola through three samples
    (a Taylor step on the log heatmap); 0 where they do not form a maximum."""
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / curvature.clamp(max=-1e-6)
    return torch.where(curvature < -1e-6, offset, torch.zeros_like(offset)).clamp(-1.5, 1.5)


def decode(maps: torch.Tensor, eps: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (..., K, 2) in heatmap pixels and confidences (..., K) from heatmaps (..., K, H, W).

    The argmax is refined to sub-pixel precision by a DARK-style Taylor step on the log
    heatmap, separately in x and y. Near a border the three-sample stencil moves inside the
    map (for a Gaussian the log is a parabola, so any three samples find the same top).
    Confidence is the peak's height above the map's median: 1 for a clean target, about 0 for
    a flat map.
    """
    height, width = maps.shape[-2:]
    flat = maps.flatten(-2)
    peak = flat.argmax(-1)
    px, py = peak % width, peak // width
    logs = maps.clamp(min=eps).log()
    cx, cy = px.clamp(1, width - 2), py.clamp(1, height - 2)  # stencil centres, inside the map

    def sample(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return logs.flatten(-2).gather(-1, (y * width + x)[..., None])[..., 0]

    x = cx + _vertex(sample(cx - 1, py), sample(cx, py), sample(cx + 1, py))
    y = cy + _vertex(sample(px, cy - 1), sample(px, cy), sample(px, cy + 1))
    confidence = flat.max(-1).values - flat.median(-1).values
    return torch.stack([x, y], dim=-1).float(), confidence


def flip_maps(maps: torch.Tensor, perm: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Heatmaps (N, K, H, W) of a mirrored image turned into maps of the original image:
    flipped left-right and re-indexed so that left and right points swap back."""
    return maps.flip(-1)[:, torch.as_tensor(perm)]


def predict_maps(model: torch.nn.Module, images: torch.Tensor, perm=None) -> torch.Tensor:
    """Model heatmaps for a batch, on the CPU; with `perm`, averaged with the maps of the
    mirrored images flipped back (mirrored test-time augmentation)."""
    return mirrored_average(model, images, None if perm is None else partial(flip_maps, perm=perm))


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Expected position (..., K, 2) in heatmap pixels under each map's spatial softmax:
    differentiable, so a loss on coordinates can train the maps (integral regression)."""
    height, width = logits.shape[-2:]
    prob = logits.flatten(-2).softmax(-1).unflatten(-1, (height, width))
    x = (prob.sum(-2) * torch.arange(width, dtype=prob.dtype, device=prob.device)).sum(-1)
    y = (prob.sum(-1) * torch.arange(height, dtype=prob.dtype, device=prob.device)).sum(-1)
    return torch.stack([x, y], dim=-1)


def fractions_to_map(target: torch.Tensor, map_size: tuple[int, int]) -> torch.Tensor:
    """Dataset targets (fractions of the input's width and height) to heatmap pixels."""
    return target * torch.tensor(map_size, dtype=target.dtype, device=target.device) - 0.5


def map_to_fractions(points: torch.Tensor, map_size: tuple[int, int]) -> torch.Tensor:
    """Heatmap pixels to fractions of the input: the inverse of fractions_to_map."""
    return (points + 0.5) / torch.tensor(map_size, dtype=points.dtype, device=points.device)


def adaptive_wing(
    pred: torch.Tensor, target: torch.Tensor, alpha=2.1, omega=14.0, eps=1.0, theta=0.5
):
    """Adaptive Wing loss per pixel (Wang et al. 2019): steep near the Gaussian's foreground,
    where small errors move the peak, and flat on the background."""
    delta = (target - pred).abs()
    power = alpha - target
    a = omega / (1 + (theta / eps) ** power) * power * (theta / eps) ** (power - 1) / eps
    c = theta * a - omega * torch.log1p((theta / eps) ** power)
    return torch.where(delta < theta, omega * torch.log1p((delta / eps) ** power), a * delta - c)


class HeatmapLoss(nn.Module):
    """Loss between predicted maps (N, K, h, w) and dataset targets (N, K, 2 fractions).

    kind: 'integral' (L1 between the soft-argmax and the point, in fractions like Part 3's
    L1), 'mse' (squared error to Gaussian targets, foreground pixels weighted x10) or
    'awing' (Adaptive Wing to Gaussian targets, same weighting).
    """

    KINDS = ("integral", "mse", "awing")

    def __init__(self, kind: str = "integral", sigma: float = 1.5, foreground_weight: float = 10.0):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown heatmap loss {kind!r}; choose one of {self.KINDS}")
        self.kind, self.sigma, self.weight = kind, sigma, foreground_weight

    def forward(self, maps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        map_size = (maps.shape[-1], maps.shape[-2])
        if self.kind == "integral":
            return (map_to_fractions(soft_argmax(maps), map_size) - target).abs().mean()
        goal = render(fractions_to_map(target, map_size).cpu(), map_size, self.sigma).to(maps)
        weight = 1 + self.weight * (goal > 0.2)
        per_pixel = (maps - goal) ** 2 if self.kind == "mse" else adaptive_wing(maps, goal)
        return (weight * per_pixel).mean()


def points_from_maps(maps: torch.Tensor, integral: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (..., K, 2) in heatmap pixels and confidences (..., K) from model maps: the
    soft-argmax for maps trained by it, else the argmax with the Taylor step (decode)."""
    if not integral:
        return decode(maps)
    prob = maps.flatten(-2).softmax(-1).view_as(maps)
    return soft_argmax(maps), decode(prob / prob.amax((-2, -1), keepdim=True))[1]


def fractions_from_maps(maps: torch.Tensor, integral: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Points as fractions of the input (..., K, 2), the datasets' and regressors' unit, and
    confidences (..., K), from model maps (points_from_maps)."""
    found, confidence = points_from_maps(maps, integral)
    return map_to_fractions(found, (maps.shape[-1], maps.shape[-2])), confidence


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, integral: bool, perm: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (fractions of the input, like train.predict), per-point confidences and
    targets for a whole loader; with `perm`, mirrored test-time augmentation on the maps."""
    model.eval()
    points, confidences, targets = [], [], []
    for images, target in loader:
        found, confidence = fractions_from_maps(predict_maps(model, images, perm), integral)
        points.append(found)
        confidences.append(confidence)
        targets.append(target)
    return (torch.cat(points).numpy(), torch.cat(confidences).numpy(), torch.cat(targets).numpy())
