"""Training losses for heatmap models: Adaptive Wing, weighted MSE, and soft-argmax L1."""

from __future__ import annotations

import torch
from torch import nn

from ..nets.heatmaps import HeatmapCodec, map_to_fractions, soft_argmax


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
    'awing' (Adaptive Wing to Gaussian targets, same weighting). Targets are rendered by the
    codec on the maps' device. point_weights (K,) scale each point's maps (for example more
    weight on the face outline), normalised to a mean of 1 so the loss keeps its scale.
    """

    KINDS = ("integral", "mse", "awing")

    def __init__(
        self,
        kind: str = "awing",
        sigma: float = 1.5,
        foreground_weight: float = 10.0,
        point_weights: torch.Tensor | None = None,
    ):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown heatmap loss {kind!r}; choose one of {self.KINDS}")
        if point_weights is not None and kind == "integral":
            raise ValueError("point_weights apply to the map losses (mse, awing), not integral")
        self.kind, self.weight = kind, foreground_weight
        self.codec = HeatmapCodec(sigma, integral=kind == "integral")
        weights = None if point_weights is None else point_weights / point_weights.mean()
        self.register_buffer("point_weights", weights, persistent=False)

    @property
    def readout(self) -> str:
        """How maps trained with this loss are read (helpers.nets.readout)."""
        return "integral" if self.kind == "integral" else "heatmap"

    def forward(self, maps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        size = (maps.shape[-1], maps.shape[-2])
        if self.kind == "integral":
            return (map_to_fractions(soft_argmax(maps), size) - target).abs().mean()
        return self.to_maps(maps, self.codec.encode(target.to(maps.device), size).to(maps.dtype))

    def to_maps(self, maps: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """The loss to goal maps (Gaussian targets, or a teacher's maps), foreground pixels
        (goal > 0.2) weighted; 'mse' or 'awing' per pixel."""
        weight = 1 + self.weight * (goal > 0.2)
        if self.point_weights is not None:
            weight = weight * self.point_weights.to(maps.device)[:, None, None]
        per_pixel = (maps - goal) ** 2 if self.kind == "mse" else adaptive_wing(maps, goal)
        return (weight * per_pixel).mean()
