"""Data augmentation that moves keypoints with the image (torchvision.transforms.v2).

torchvision's affine and resize kernels treat a point as a continuous coordinate whose
pixel centres sit at i + 0.5, while this package puts pixel centres at integers; the
conversion happens here, at the edges, and nowhere else. The horizontal flip is ours,
because it must also swap left and right indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..config import AugmentConfig
from ..geometry import mirror_points


def to_tv(points: torch.Tensor, height: int, width: int) -> tv_tensors.KeyPoints:
    """Package points (centres at integers) as torchvision KeyPoints (centres at i + 0.5)."""
    return tv_tensors.KeyPoints(points + 0.5, canvas_size=(height, width))


def from_tv(keypoints: torch.Tensor) -> torch.Tensor:
    """Plain package-convention points from torchvision KeyPoints."""
    return keypoints.as_subclass(torch.Tensor) - 0.5


def hflip(image: torch.Tensor, points: torch.Tensor, perm: np.ndarray):
    """Mirror an image (C, H, W) and its points, swapping left and right indices."""
    width = image.shape[-1]
    flipped = torch.as_tensor(mirror_points(points.numpy(), width))[torch.as_tensor(perm)]
    return TF.horizontal_flip(image), flipped


def rotate(image: torch.Tensor, points: torch.Tensor, degrees: float):
    """Rotate an image and its points about the image centre (counter-clockwise)."""
    height, width = image.shape[-2:]
    out_image, kp = TF.rotate(image, degrees), TF.rotate(to_tv(points, height, width), degrees)
    return out_image, from_tv(kp)


@dataclass
class Augment:
    """Random flip, shift/scale/rotation and colour jitter for (image, points) pairs.

    Images are uint8 or float tensors (C, H, W); points are (K, 2) float tensors.
    """

    perm: np.ndarray
    flip_p: float = 0.5
    degrees: float = 15.0
    translate: float = 0.08
    scale: tuple[float, float] = (0.9, 1.1)
    jitter: float = 0.3
    occlude: float = 0.0
    blur: float = 0.0

    def __post_init__(self) -> None:
        self.affine = v2.RandomAffine(
            degrees=self.degrees, translate=(self.translate,) * 2, scale=self.scale
        )
        j = self.jitter
        self.color = v2.ColorJitter(brightness=j, contrast=j, saturation=j)
        self.gray_color = v2.ColorJitter(brightness=j, contrast=j)
        # A patch over 2-15% of the crop (a hand, a microphone, hair). RandomErasing fills it
        # with standard-normal floats, which the uint8 crop truncates: 0-2, and 253-255 where
        # negatives wrap as they do on x86 (ARM saturates them to 0), so a dark patch with
        # bright specks. The release model was trained so; a new recipe should draw uint8 noise.
        self.patch = v2.RandomErasing(p=1.0, scale=(0.02, 0.15), value="random")
        self.blurring = v2.GaussianBlur(5, sigma=(0.3, 1.5))

    @classmethod
    def of(cls, perm: np.ndarray, ranges: AugmentConfig) -> Augment:
        """The augmentation with a profile's ranges (helpers.config.AugmentConfig)."""
        r = ranges
        return cls(perm, 0.5, r.degrees, r.translate, r.scale, r.jitter, r.occlude, r.blur)

    def __call__(self, image: torch.Tensor, points: torch.Tensor):
        """One random augmentation of an (image, points) pair."""
        if torch.rand(()) < self.flip_p:
            image, points = hflip(image, points, self.perm)
        height, width = image.shape[-2:]
        image, kp = self.affine(image, to_tv(points, height, width))
        image = self.color(image) if image.shape[0] == 3 else self.gray_color(image)
        if self.blur and torch.rand(()) < self.blur:  # no draw at 0: older streams unchanged
            image = self.blurring(image)
        if self.occlude and torch.rand(()) < self.occlude:
            image = self.patch(image)
        return image, from_tv(kp)
