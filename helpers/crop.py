"""How a face becomes model input, and how its points come back to the photo.

box (left, top, width, height) -> square (left, top, side) -> uint8 crop (3, size, size)
-> model input float in [-0.5, 0.5] -> model output (fractions of the crop) -> crop pixels
-> image pixels. Points follow the package's pixel convention (helpers.geometry).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F
from torchvision.transforms.v2 import functional as TF

from .geometry import crop_to_box


def crop_square(box: np.ndarray, factor: float, shift: float = 0.0) -> np.ndarray:
    """The square (left, top, side), in whole pixels, around a box enlarged by `factor`.

    `shift` moves the centre down by that fraction of the box height (detector boxes sit
    high on the face: they cut the chin more than the brows). The arithmetic is in float64
    whatever the box's dtype, so every caller, and the browser page, rounds to the same pixels.
    """
    left, top, width, height = (float(v) for v in box)
    side = round(max(width, height) * factor)
    cx, cy = left + width / 2, top + height / 2 + shift * height
    return np.array([round(cx - side / 2), round(cy - side / 2), side], dtype=np.float32)


def to_chw_uint8(image: np.ndarray, contiguous: bool = True) -> torch.Tensor:
    """HxW or HxWxC uint8 array to a (3, H, W) uint8 tensor; contiguous=False keeps the array's
    own layout (a view, channels last in memory) and copies nothing."""
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    if tensor.ndim == 2:
        tensor = tensor[None].expand(3, -1, -1)
    else:
        tensor = tensor[..., :3].permute(2, 0, 1)
    return tensor.contiguous() if contiguous else tensor


def crop_face(image: np.ndarray, square: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (3, size, size) crop of an image; areas outside it are black.

    Only the part of the image inside the square is copied, so a face in a 6000x4000 photo
    costs its own crop, never a converted copy of the whole photo. It is resized channels last,
    as the photo's pixels lie: 2-3x faster than resizing (3, H, W) planes, with the same values
    (tests/test_crop.py).
    """
    left, top, side = (int(v) for v in square)
    height, width = image.shape[:2]
    x0, y0 = min(max(left, 0), width), min(max(top, 0), height)
    x1, y1 = min(max(left + side, 0), width), min(max(top + side, 0), height)
    if x1 <= x0 or y1 <= y0:  # the square misses the image
        return torch.zeros(3, size, size, dtype=torch.uint8)
    region = to_chw_uint8(image[y0:y1, x0:x1], contiguous=False)[None]  # channels last
    padding = (x0 - left, left + side - x1, y0 - top, top + side - y1)  # black outside it
    if any(padding):  # most squares lie inside the image: no padded copy
        region = F.pad(region, padding)
    crop = region.contiguous(memory_format=torch.channels_last)
    return F.interpolate(crop, (size, size), mode="bilinear", antialias=True)[0]


def prepare_image(image: torch.Tensor, grayscale: bool) -> torch.Tensor:
    """uint8 (3, H, W) to the model's float input in [-0.5, 0.5]."""
    if grayscale:
        image = TF.rgb_to_grayscale(image)
    return TF.to_dtype(image, torch.float32, scale=True) - 0.5


def target_to_pixels(target: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Model outputs or targets (fractions) to pixels at an image of size (W, H)."""
    target = np.asarray(target, dtype=np.float32).reshape(*np.shape(target)[:-1], 2)
    return target * np.asarray(size, dtype=np.float32) - 0.5


def crops_to_image(pred: np.ndarray, squares: np.ndarray, size: int) -> np.ndarray:
    """Model outputs (fractions of a size x size crop) to original-image pixels, per face."""
    pixels = target_to_pixels(pred, (size, size))
    return np.stack([crop_to_box(p, s, size) for p, s in zip(pixels, squares, strict=True)])
