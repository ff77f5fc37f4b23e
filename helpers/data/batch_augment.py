"""Augmentation of whole batches on the batch's own device (GPU or CPU).

helpers.data.augment.Augment works on one sample at a time on the CPU, which starves a GPU;
BatchAugment takes the same steps in the same order (flip, rotation/scale/shift, colour jitter,
blur, occluding patch) on a (B, C, H, W) batch wherever it lies. Each random quantity is drawn
once per batch as a vector with one value per sample, from one generator.

Points follow the package convention (helpers.geometry): (x, y) pixels with integer values at
pixel centres. The affine is built in those pixels and converted to grid_sample's unit square
in one place (pixel_to_unit).

Where it differs from Augment: pixels are resampled bilinearly, not with nearest neighbours,
so that points follow pixels to a fraction of a pixel; shifts are continuous, not rounded to
whole pixels; the patch holds uniform noise in [0, 1], not standard-normal floats truncated to
uint8 (see Augment); and images stay float between steps (nothing is rounded to uint8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..config import AugmentConfig

LUMA = (0.2989, 0.587, 0.114)  # torchvision's grayscale weights (R, G, B)
BRIGHTNESS, CONTRAST, SATURATION = 0, 1, 2  # columns of the colour factors
BLUR_SIZE = 5
BLUR_SIGMA = (0.3, 1.5)
PATCH_AREA = (0.02, 0.15)  # torchvision RandomErasing's defaults: share of the image's area
PATCH_RATIO = (0.3, 3.3)  # and height / width, drawn log-uniform
PATCH_TRIES = 10  # RandomErasing's tries at a box that fits before it gives up
Size = tuple[int, int]  # (W, H)
Device = torch.device | str | None


def uniform(
    shape: int | tuple[int, ...],
    low: float,
    high: float,
    generator: torch.Generator | None,
    device: Device,
) -> torch.Tensor:
    """Uniform float32 draws in [low, high) from the generator, on the device."""
    return torch.rand(shape, generator=generator, device=device) * (high - low) + low


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float32 in [0, 1]; float images are taken to be in [0, 1] already."""
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


def mirror(points: torch.Tensor, width: int, perm: torch.Tensor) -> torch.Tensor:
    """Points (..., K, 2) mirrored left-right, with left and right indices swapped as
    augment.hflip swaps them: point i of the result is mirrored point perm[i]."""
    mirrored = points.clone()
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    return mirrored[..., perm, :]


def hflip(
    images: torch.Tensor, points: torch.Tensor, flip: torch.Tensor, perm: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the samples where flip (B,) is True, images (B, C, H, W) and points (B, K, 2)."""
    flipped = torch.where(flip[:, None, None, None], images.flip(-1), images)
    moved = torch.where(flip[:, None, None], mirror(points, images.shape[-1], perm), points)
    return flipped, moved


def similarity(
    angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, size: Size
) -> torch.Tensor:
    """Forward pixel matrices (B, 2, 3): rotate by angle degrees (B,) clockwise as seen (y down)
    and scale (B,) about the image centre, then shift by (dx, dy) pixels (B, 2); the map of
    torchvision's affine (which RandomAffine calls) with the same arguments."""
    width, height = size
    centre = shift.new_tensor([(width - 1) / 2, (height - 1) / 2])
    radians = torch.deg2rad(angle)
    cos, sin = torch.cos(radians) * scale, torch.sin(radians) * scale
    linear = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    offset = centre + shift - linear @ centre
    return torch.cat([linear, offset[..., None]], -1)


def invert(matrices: torch.Tensor) -> torch.Tensor:
    """Inverses of affine matrices (..., 2, 3), in closed form (no solver, no device sync)."""
    (a, b, tx), (c, d, ty) = matrices[..., 0, :].unbind(-1), matrices[..., 1, :].unbind(-1)
    det = (a * d - b * c)[..., None, None]
    linear = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det
    offset = -(linear @ torch.stack([tx, ty], -1)[..., None])
    return torch.cat([linear, offset], -1)


def compose(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """The affine map (..., 2, 3) that applies inner, then outer."""
    linear = outer[..., :2] @ inner[..., :2]
    return torch.cat([linear, outer[..., :2] @ inner[..., 2:] + outer[..., 2:]], -1)


def pixel_to_unit(size: Size, device: Device = None) -> torch.Tensor:
    """The affine map (2, 3) from pixels (centres at integers) to grid_sample's coordinates
    with align_corners=True: pixel 0 goes to -1 and pixel W - 1 to +1 (likewise for y)."""
    width, height = size
    return torch.tensor(
        [[2 / (width - 1), 0.0, -1.0], [0.0, 2 / (height - 1), -1.0]], device=device
    )


def move_points(points: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Points (B, K, 2) through each sample's affine matrix (B, 2, 3)."""
    return points @ matrices[:, :, :2].transpose(1, 2) + matrices[:, None, :, 2]


def warp(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Images (B, C, H, W) resampled so that the content at pixel p moves to matrices @ p, as
    move_points moves points; one bilinear grid_sample for the batch, zeros outside."""
    height, width = images.shape[-2:]
    unit = pixel_to_unit((width, height), images.device)
    to_pixels = invert(unit)
    theta = compose(unit, compose(invert(matrices), to_pixels))  # output unit -> input unit
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma (B, 1, H, W) of RGB images with torchvision's weights; a 1-channel image is its own."""
    if images.shape[1] == 1:
        return images
    red, green, blue = images.unbind(1)
    return red.mul(LUMA[0]).add_(green, alpha=LUMA[1]).add_(blue, alpha=LUMA[2])[:, None]


def jitter_colour(images: torch.Tensor, factors: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Brightness, contrast and saturation (factors (B, 3), in that column order) applied in each
    sample's own order (B, 3), each step clamped to [0, 1], as torchvision's ColorJitter does.

    Every step is one blend: factor * image + (1 - factor) * (black, the mean of the grayscale
    image, or the grayscale image), so one pass per step serves all three kinds."""
    per_sample = (-1, 1, 1, 1)
    for step in range(order.shape[1]):
        kind = order[:, step]
        factor = factors.gather(1, kind[:, None])[:, 0]
        rest = 1 - factor
        gray = grayscale(images)
        mean = gray.mean((1, 2, 3), keepdim=True)
        to_mean = torch.where(kind == CONTRAST, rest, 0).view(per_sample)
        to_gray = torch.where(kind == SATURATION, rest, 0).view(per_sample)
        shade = mean * to_mean + gray * to_gray  # one channel: a third of the work
        images = torch.addcmul(shade, images, factor.view(per_sample)).clamp_(0, 1)
    return images


def gaussian_kernels(sigma: torch.Tensor, size: int = BLUR_SIZE) -> torch.Tensor:
    """Normalised 1-D Gaussian kernels (B, size), one per sigma (B,), as torchvision builds them."""
    x = torch.arange(size, dtype=sigma.dtype, device=sigma.device) - (size - 1) / 2
    return torch.softmax(-((x / sigma[:, None]) ** 2) / 2, dim=1)


def identity_kernel(count: int, size: int, device: Device = None) -> torch.Tensor:
    """Kernels (count, size) that leave an image as it is: 1 at the centre."""
    kernel = torch.zeros(count, size, device=device)
    kernel[:, size // 2] = 1
    return kernel


def gaussian_blur(images: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Blur each sample with its own separable kernel (B, k) along x then y, reflecting at the
    borders as torchvision's gaussian_blur does; one depthwise convolution per direction."""
    batch, channels, height, width = images.shape
    size = kernels.shape[1]
    weight = kernels.repeat_interleave(channels, 0)[:, None, None, :]  # (B * C, 1, 1, k)
    flat = F.pad(images.reshape(1, batch * channels, height, width), [size // 2] * 4, "reflect")
    flat = F.conv2d(flat, weight, groups=batch * channels)
    flat = F.conv2d(flat, weight.transpose(2, 3), groups=batch * channels)
    return flat.view(batch, channels, height, width)


def patch_boxes(
    count: int, size: Size, generator: torch.Generator | None = None, device: Device = None
) -> torch.Tensor:
    """Boxes (count, 4) of (top, left, height, width) in whole pixels, as RandomErasing draws
    them with its defaults: up to PATCH_TRIES tries at an area and a log-uniform aspect ratio,
    the first that fits, at a uniform position; height and width 0 where no try fits."""
    width, height = size
    tries = (count, PATCH_TRIES)
    area = uniform(tries, *PATCH_AREA, generator, device) * (width * height)
    ratio = torch.exp(uniform(tries, *map(math.log, PATCH_RATIO), generator, device))
    tall, wide = torch.round(torch.sqrt(area * ratio)), torch.round(torch.sqrt(area / ratio))
    fits = (tall < height) & (wide < width)
    first = fits.to(torch.uint8).argmax(1, keepdim=True)
    found = fits.any(1)
    tall, wide = tall.gather(1, first)[:, 0] * found, wide.gather(1, first)[:, 0] * found
    spare = torch.stack([height - tall, width - wide], 1)  # the last top and left that fit
    corner = torch.minimum(uniform((count, 2), 0, 1, generator, device) * (spare + 1), spare)
    return torch.cat([corner.floor(), tall[:, None], wide[:, None]], 1).long()


def erase(images: torch.Tensor, boxes: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Images with each sample's box (top, left, height, width) replaced by fill (B, C, H, W)."""
    height, width = images.shape[-2:]
    top, left, tall, wide = boxes[:, :, None].unbind(1)
    rows = torch.arange(height, device=images.device)
    cols = torch.arange(width, device=images.device)
    in_rows = (rows >= top) & (rows < top + tall)
    in_cols = (cols >= left) & (cols < left + wide)
    inside = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    return torch.where(inside, fill, images)


@dataclass
class BatchAugment:
    """Augment's random flip, shift/scale/rotation, colour jitter, blur and occluding patch, for
    a whole batch on its own device.

    Takes images (B, C, H, W) uint8 (or float in [0, 1]) with C = 1 or 3, and points (B, K, 2);
    returns float32 images in [0, 1] on the same device, and float32 points. A dataset sample
    is then helpers.crop.prepare_image(images, grayscale), which works on batches, and target
    (points + 0.5) / (W, H).
    """

    perm: torch.Tensor | np.ndarray
    ranges: AugmentConfig = AugmentConfig()
    flip_p: float = 0.5

    @classmethod
    def of(cls, perm: torch.Tensor | np.ndarray, ranges: AugmentConfig) -> BatchAugment:
        """The augmentation with a profile's ranges, as Augment.of makes the per-sample one."""
        return cls(perm, ranges)

    def moves(self) -> bool:
        """Whether the ranges allow any rotation, shift or scaling (else the affine is skipped)."""
        r = self.ranges
        return bool(r.degrees or r.translate or tuple(r.scale) != (1.0, 1.0))

    def __call__(
        self,
        images: torch.Tensor,
        points: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One random augmentation of each sample of a batch, all draws from generator."""
        batch, channels, height, width = images.shape
        device, size, r = images.device, (width, height), self.ranges
        points = points.to(device, torch.float32)

        flip = torch.rand(batch, generator=generator, device=device) < self.flip_p
        perm = torch.as_tensor(self.perm, dtype=torch.long, device=device)
        images, points = hflip(images, points, flip, perm)  # still uint8: fewer bytes to move
        images = to_unit(images)

        if self.moves():
            angle = uniform(batch, -r.degrees, r.degrees, generator, device)
            scale = uniform(batch, *r.scale, generator, device)
            reach = torch.tensor(size, dtype=torch.float32, device=device) * r.translate
            shift = uniform((batch, 2), -1, 1, generator, device) * reach
            matrices = similarity(angle, scale, shift, size)
            images, points = warp(images, matrices), move_points(points, matrices)

        if r.jitter:
            j = r.jitter
            factors = uniform((batch, 3), max(0.0, 1 - j), 1 + j, generator, device)
            if channels == 1:  # torchvision leaves grayscale saturation alone
                factors[:, SATURATION] = 1
            order = torch.rand((batch, 3), generator=generator, device=device).argsort(1)
            images = jitter_colour(images, factors, order)

        if r.blur:
            blurred = torch.rand(batch, generator=generator, device=device) < r.blur
            sigma = uniform(batch, *BLUR_SIGMA, generator, device)
            still = identity_kernel(batch, BLUR_SIZE, device)
            images = gaussian_blur(
                images, torch.where(blurred[:, None], gaussian_kernels(sigma), still)
            )

        if r.occlude:
            hidden = torch.rand(batch, generator=generator, device=device) < r.occlude
            boxes = patch_boxes(batch, size, generator, device) * hidden[:, None]
            noise = torch.rand(images.shape, generator=generator, device=device)
            images = erase(images, boxes, noise)

        return images, points
