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
from tqdm.auto import tqdm

from .geometry import resize_points
from .imm import ImmFace, read_image

AugmentFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def to_chw_uint8(image: np.ndarray, contiguous: bool = True) -> torch.Tensor:
    """HxW or HxWxC uint8 array to a (3, H, W) uint8 tensor; contiguous=False keeps the array's
    own layout (a view, channels last in memory) and copies nothing."""
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    if tensor.ndim == 2:
        tensor = tensor[None].expand(3, -1, -1)
    else:
        tensor = tensor[..., :3].permute(2, 0, 1)
    return tensor.contiguous() if contiguous else tensor


def prepare_image(image: torch.Tensor, grayscale: bool) -> torch.Tensor:
    """uint8 (3, H, W) to the model's float input in [-0.5, 0.5]."""
    if grayscale:
        image = TF.rgb_to_grayscale(image)
    return TF.to_dtype(image, torch.float32, scale=True) - 0.5


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


def target_to_pixels(target: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Model outputs or targets (fractions) to pixels at an image of size (W, H)."""
    target = np.asarray(target, dtype=np.float32).reshape(*np.shape(target)[:-1], 2)
    return target * np.asarray(size, dtype=np.float32) - 0.5


def imm_dataset(
    faces: Sequence[ImmFace],
    size: tuple[int, int],
    point_ids: Sequence[int] | None = None,
    grayscale: bool = True,
) -> KeypointDataset:
    """Decode and resize IMM faces once; keep all points or only point_ids."""
    images, points = [], []
    for face in tqdm(faces, desc=f"decode {len(faces)} images", leave=False):
        image = to_chw_uint8(read_image(face.image_path))
        images.append(TF.resize(image, [size[1], size[0]], antialias=True))
        pts = face.points if point_ids is None else face.points[list(point_ids)]
        points.append(torch.from_numpy(resize_points(pts, face.size, size)))
    return KeypointDataset(torch.stack(images), torch.stack(points), grayscale)


def to_original(pred: np.ndarray, faces: Sequence[ImmFace], size: tuple[int, int]) -> np.ndarray:
    """Model outputs (fractions of the input size) to pixels of each face's original image."""
    pixels = target_to_pixels(pred, size)
    return np.stack([resize_points(p, size, f.size) for p, f in zip(pixels, faces, strict=True)])
