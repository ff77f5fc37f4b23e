"""Keypoints as heatmaps: one codec object encodes points to Gaussian maps and decodes maps
to sub-pixel points with a confidence (after mmpose's MSRAHeatmap and DARK).

A heatmap at stride s covers an input of size (W, H) with (W/s, H/s) pixels. With this
package's convention (pixel centres at integers), heatmap pixel u covers input pixels
[u*s - 0.5, (u+1)*s - 0.5], so an input point x sits at u = (x + 0.5)/s - 0.5 in the map:
geometry.resize_points does exactly this bookkeeping, in both directions. Dataset targets
are fractions f of the input, so in map pixels u = f * w - 0.5 for a map w pixels wide.

Training losses live in helpers.training.losses; this module is all that inference needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import resize_points


def to_heatmap_coords(points: np.ndarray, input_size: tuple[int, int], stride: int) -> np.ndarray:
    """Input-pixel points (..., 2) to heatmap-pixel points for maps at `stride`."""
    return resize_points(points, input_size, map_size(input_size, stride))


def from_heatmap_coords(points: np.ndarray, input_size: tuple[int, int], stride: int):
    """Heatmap-pixel points (..., 2) back to input pixels."""
    return resize_points(points, map_size(input_size, stride), input_size)


def map_size(input_size: tuple[int, int], stride: int) -> tuple[int, int]:
    """The (W, H) of maps at `stride` for an input of (W, H); the stride must divide it."""
    width, height = input_size
    if width % stride or height % stride:
        raise ValueError(f"input size {input_size} is not a multiple of the stride {stride}")
    return width // stride, height // stride


def render(points: torch.Tensor, size: tuple[int, int], sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (..., K, H, W) on the points' device, peak 1 at each sub-pixel point
    (..., K, 2) given in heatmap pixels; a point far outside the map gives (near) zeros."""
    width, height = size
    xs = torch.arange(width, dtype=torch.float32, device=points.device)
    ys = torch.arange(height, dtype=torch.float32, device=points.device)
    px, py = points[..., 0, None].float(), points[..., 1, None].float()
    gx = torch.exp(-((xs - px) ** 2) / (2 * sigma**2))  # (..., K, W)
    gy = torch.exp(-((ys - py) ** 2) / (2 * sigma**2))  # (..., K, H)
    return gy[..., :, None] * gx[..., None, :]


def _vertex(samples: np.ndarray) -> np.ndarray:
    """Offset from the middle sample to the top of the parabola through three samples
    (..., 3) (a Taylor step on the log heatmap); 0 where they do not form a maximum."""
    left, mid, right = samples[..., 0], samples[..., 1], samples[..., 2]
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / np.minimum(curvature, -1e-6)
    return np.clip(np.where(curvature < -1e-6, offset, 0), -1.5, 1.5)


def decode_peaks(maps: torch.Tensor, eps: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (..., K, 2) in heatmap pixels and confidences (..., K) from heatmaps (..., K, H, W):
    float32, without gradients, on the maps' device (the work is done on the CPU).

    The argmax is refined to sub-pixel precision by a DARK-style Taylor step on the log
    heatmap, separately in x and y. Near a border the three-sample stencil moves inside the
    map (for a Gaussian the log is a parabola, so any three samples find the same top).
    Confidence is the peak's height above the median of every fourth pixel (the median of all
    would cost more than the rest of the read-out), at most 1: 1 for a clean target (a model's
    map may overshoot it), about 0 for a flat map. It runs in NumPy, all six stencil samples
    in one gather, because at batch 1 the fixed cost of each torch call outweighs the work.
    """
    flat = maps.detach().float().cpu().flatten(-2).numpy()  # a view of float32 CPU maps
    height, width = maps.shape[-2:]
    peak = flat.argmax(-1)
    top = np.take_along_axis(flat, peak[..., None], -1)[..., 0]
    px, py = peak % width, peak // width
    cx, cy = np.clip(px, 1, width - 2), np.clip(py, 1, height - 2)  # stencil centres, inside
    xs = np.stack([cx - 1, cx, cx + 1, px, px, px], -1)  # three samples along x, three along y
    ys = np.stack([py, py, py, cy - 1, cy, cy + 1], -1)
    samples = np.take_along_axis(flat, ys * width + xs, -1)  # the log of these six only
    logs = np.log(np.maximum(samples, np.float32(eps))).reshape(*samples.shape[:-1], 2, 3)
    points = (np.stack([cx, cy], -1) + _vertex(logs)).astype(np.float32)
    quarter = flat[..., ::4]  # a quarter of the pixels: the same floor, for far less work
    middle = (quarter.shape[-1] - 1) // 2  # the lower middle value, as torch.median takes
    median = np.partition(quarter, middle, axis=-1)[..., middle]
    confidence = np.minimum(top - median, np.float32(1))
    return torch.from_numpy(points).to(maps.device), torch.from_numpy(confidence).to(maps.device)


def spatial_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Each map (..., H, W) turned into a probability over all of its pixels (sums to 1)."""
    return logits.flatten(-2).softmax(-1).view_as(logits)


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Expected position (..., K, 2) in heatmap pixels under each map's spatial softmax:
    differentiable, so a loss on coordinates can train the maps (integral regression)."""
    prob = spatial_softmax(logits)
    height, width = logits.shape[-2:]
    x = (prob.sum(-2) * torch.arange(width, dtype=prob.dtype, device=prob.device)).sum(-1)
    y = (prob.sum(-1) * torch.arange(height, dtype=prob.dtype, device=prob.device)).sum(-1)
    return torch.stack([x, y], dim=-1)


def fractions_to_map(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Dataset targets (fractions of the input's width and height) to heatmap pixels."""
    return target * torch.tensor(size, dtype=target.dtype, device=target.device) - 0.5


def map_to_fractions(points: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Heatmap pixels to fractions of the input: the inverse of fractions_to_map."""
    return (points + 0.5) / torch.tensor(size, dtype=points.dtype, device=points.device)


def _size_of(maps: torch.Tensor) -> tuple[int, int]:
    return maps.shape[-1], maps.shape[-2]


@dataclass(frozen=True)
class HeatmapCodec:
    """Points to heatmaps and back, in the datasets' unit (fractions of the input).

    integral=False: Gaussian targets of `sigma` map pixels, read by argmax and a Taylor step.
    integral=True: maps trained through a soft-argmax, read by it; the confidence is then the
    decoded peak of each map's spatial softmax, scaled to a peak of 1.
    """

    sigma: float = 1.5
    integral: bool = False

    def encode(self, target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Gaussian maps (..., K, H, W) of (W, H) = `size` for targets (..., K, 2), rendered on
        the targets' device."""
        return render(fractions_to_map(target, size), size, self.sigma)

    def decode(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Points as fractions of the input (..., K, 2) and confidences (..., K) from maps."""
        if self.integral:
            prob = spatial_softmax(maps)
            confidence = decode_peaks(prob / prob.amax((-2, -1), keepdim=True))[1]
            return map_to_fractions(soft_argmax(maps), _size_of(maps)), confidence
        found, confidence = decode_peaks(maps)
        return map_to_fractions(found, _size_of(maps)), confidence

    def display(self, maps: torch.Tensor) -> torch.Tensor:
        """Maps as a person should see them: the softmax over each whole map when integral."""
        return spatial_softmax(maps) if self.integral else maps
