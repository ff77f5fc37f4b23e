"""Torch datasets that decode and resize every image once, then serve (image, points).

A sample is (image, target): image float (C, H, W) in [-0.5, 0.5]; target (K, 2) are the
keypoints as fractions of the input width and height, so one loss fits every resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from ..crop import prepare_image, target_to_pixels, to_chw_uint8
from ..geometry import resize_points
from ..progress import progress
from .imm import ImmFace, read_image

AugmentFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class KeypointDataset(Dataset):
    """In-memory images (uint8, at the model's size) with keypoints, optionally augmented."""

    def __init__(
        self,
        images: torch.Tensor,
        points: torch.Tensor,
        grayscale: bool,
        augment: AugmentFn | None = None,
    ) -> None:
        self.images, self.points = images, points
        self.grayscale, self.augment = grayscale, augment
        self.size = (images.shape[-1], images.shape[-2])  # (W, H)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image, points = self.images[i], self.points[i]
        if self.augment is not None:
            image, points = self.augment(image, points)
        scale = torch.tensor(self.size, dtype=torch.float32)
        return prepare_image(image, self.grayscale), (points + 0.5) / scale

    def mean_target(self) -> torch.Tensor:
        """The mean un-augmented target (K, 2): a baseline, and where a model can start."""
        scale = torch.tensor(self.size, dtype=torch.float32)
        return ((self.points.float() + 0.5) / scale).mean(0)

    def subset(self, indices: Sequence[int]) -> KeypointDataset:
        """Some of the samples, with the same augmentation (mean_target works on it)."""
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return KeypointDataset(self.images[index], self.points[index], self.grayscale, self.augment)

    def with_augment(self, augment: AugmentFn | None) -> KeypointDataset:
        """The same cached data with another augmentation (no re-decoding)."""
        return KeypointDataset(self.images, self.points, self.grayscale, augment)


def imm_dataset(
    faces: Sequence[ImmFace],
    size: tuple[int, int],
    point_ids: Sequence[int] | None = None,
    grayscale: bool = True,
) -> KeypointDataset:
    """Decode and resize IMM faces once; keep all points or only point_ids."""
    images, points = [], []
    for face in progress(faces, desc=f"decode {len(faces)} images", leave=False):
        image = to_chw_uint8(read_image(face.image_path))
        images.append(TF.resize(image, [size[1], size[0]], antialias=True))
        pts = face.points if point_ids is None else face.points[list(point_ids)]
        points.append(torch.from_numpy(resize_points(pts, face.size, size)))
    return KeypointDataset(torch.stack(images), torch.stack(points), grayscale)


def to_original(pred: np.ndarray, faces: Sequence[ImmFace], size: tuple[int, int]) -> np.ndarray:
    """Model outputs (fractions of the input size) to pixels of each face's original image."""
    pixels = target_to_pixels(pred, size)
    return np.stack([resize_points(p, size, f.size) for p, f in zip(pixels, faces, strict=True)])
