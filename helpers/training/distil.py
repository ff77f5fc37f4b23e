"""Distillation, for training the fast model from the shipped one: a training-only wrapper
that runs the frozen teacher beside the student, and a loss that mixes the truth's Gaussian
maps with the teacher's maps. Inference never imports this module."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .losses import HeatmapLoss


class Distiller(nn.Module):
    """A student and a frozen teacher side by side: forward gives both maps stacked on the
    channel axis (N, 2K, h, w), so the plain training loop trains the student alone and its
    checkpoints resume the pair. `student` is the trained model afterwards."""

    def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
        super().__init__()
        self.student, self.teacher = student, teacher.eval()
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> Distiller:
        """Train (or not) the student; the teacher stays in eval mode (its BatchNorm frozen)."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            guide = self.teacher(x)
        maps = self.student(x)
        if maps.shape != guide.shape:
            raise ValueError(f"student maps {tuple(maps.shape)} != teacher's {tuple(guide.shape)}")
        return torch.cat([maps, guide.to(maps.dtype)], dim=1)


def distiller(build: Callable[[], nn.Module], teacher: nn.Module) -> Callable[[], Distiller]:
    """A builder of fresh Distillers (for studies.trial): a new student, the same teacher."""

    def build_pair() -> Distiller:
        return Distiller(build(), teacher)

    return build_pair


class DistillLoss(nn.Module):
    """(1 - weight) x the heatmap loss to the true points + weight x the same loss to the
    teacher's maps (HeatmapLoss.to_maps: foreground pixels, above 0.2, weighted)."""

    def __init__(self, truth: HeatmapLoss, weight: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"distillation weight {weight} is not in [0, 1]")
        if truth.kind == "integral":
            raise ValueError("distillation needs maps trained to Gaussians (mse or awing)")
        self.truth, self.weight = truth, weight

    @property
    def readout(self) -> str:
        return self.truth.readout

    def forward(self, maps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = maps.shape[1] // 2
        student, teacher = maps[:, :k], maps[:, k:].clamp(0, 1)
        guided = self.truth.to_maps(student, teacher)
        return (1 - self.weight) * self.truth(student, target) + self.weight * guided
