"""Batch augmentation on the batch's device: points follow pixels, flips match augment.hflip,
each step matches torchvision's for the same parameters, and the random shares are as set."""

import math

import numpy as np
import pytest
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from helpers import geometry
from helpers.config import STRONG_AUGMENT, AugmentConfig
from helpers.crop import prepare_image
from helpers.data import augment
from helpers.data import batch_augment as ba

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
STILL = dict(flip_p=0.0, degrees=0.0, translate=0.0, scale=(1.0, 1.0), jitter=0.0)


def make(perm, flip_p: float = 0.5, **ranges) -> ba.BatchAugment:
    """A batch augmentation with these ranges (AugmentConfig's fields) and flip probability."""
    return ba.BatchAugment(np.asarray(perm), AugmentConfig(**ranges), flip_p)


def seeded(seed: int, device: str = "cpu") -> torch.Generator:
    """A generator on the device, seeded."""
    return torch.Generator(device).manual_seed(seed)


def blob_batch(points: torch.Tensor, size: int, sigma: float = 1.5) -> torch.Tensor:
    """uint8 RGB images (B, 3, size, size), black with a Gaussian blob on each point (B, K, 2)."""
    grid = torch.arange(size, dtype=torch.float64)
    dx = grid[None, None, None, :] - points[..., 0, None, None].double()
    dy = grid[None, None, :, None] - points[..., 1, None, None].double()
    blobs = torch.exp(-(dx**2 + dy**2) / (2 * sigma**2)).sum(1)
    return (blobs * 255).round().to(torch.uint8)[:, None].repeat(1, 3, 1, 1)


def centroid(image: torch.Tensor, near: torch.Tensor, radius: int = 9) -> torch.Tensor:
    """Intensity-weighted centre (x, y) of an image (H, W) in a window around the point near."""
    x0, y0 = (int(round(float(v))) - radius for v in near)
    window = image[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1].double()
    ys, xs = torch.meshgrid(
        torch.arange(y0, y0 + 2 * radius + 1, dtype=torch.float64),
        torch.arange(x0, x0 + 2 * radius + 1, dtype=torch.float64),
        indexing="ij",
    )
    return torch.stack([(xs * window).sum(), (ys * window).sum()]) / window.sum()


@pytest.mark.parametrize("device", DEVICES)
def test_points_follow_pixels_through_flips_rotation_scale_and_shift(device):
    points = torch.tensor([[48.3, 50.6], [80.7, 49.2], [63.1, 78.4]]).repeat(32, 1, 1)
    images = blob_batch(points, 128).to(device)
    aug = make([1, 0, 2], 0.5, degrees=30.0, translate=0.1, scale=(0.8, 1.2), jitter=0.0)
    out, moved = aug(images, points.to(device), seeded(0, device))
    assert out.dtype == moved.dtype == torch.float32 and out.device == images.device
    out, moved = out[:, 0].cpu(), moved.cpu()
    assert (moved - points).abs().max() > 10  # the test moves the points a lot
    for image, shape in zip(out, moved, strict=True):
        for point in shape:
            assert (centroid(image, point) - point.double()).abs().max() < 0.1


def test_a_flip_mirrors_the_image_exactly_and_the_points_as_augment_hflip():
    images = torch.randint(0, 256, (4, 3, 20, 30), dtype=torch.uint8)
    points = torch.rand(4, 5, 2) * 20
    perm = np.array([1, 2, 0, 4, 3])  # not its own inverse: the direction of the swap shows
    out, moved = make(perm, **{**STILL, "flip_p": 1.0})(images, points)
    assert torch.equal(out, torch.flip(images, [-1]).float() / 255)
    for image, shape, flipped in zip(images, points, moved, strict=True):
        assert torch.equal(flipped, augment.hflip(image, shape, perm)[1])


def test_a_flipped_symmetric_face_keeps_its_shape_with_left_and_right_swapped():
    # symmetric about x = 32, the centre of a 65-pixel-wide image: left eye, right eye, nose,
    # left and right mouth corners
    shape = torch.tensor([[20.0, 30.0], [44.0, 30.0], [32.0, 40.0], [24.0, 50.0], [40.0, 50.0]])
    perm = geometry.mirror_permutation(shape.numpy())
    assert list(perm) == [1, 0, 2, 4, 3]
    images = torch.zeros(1, 3, 64, 65, dtype=torch.uint8)
    _, moved = make(perm, **{**STILL, "flip_p": 1.0})(images, shape[None])
    mirrored = geometry.mirror_points(shape.numpy(), 65)
    assert np.array_equal(moved[0, 0].numpy(), mirrored[1])  # the left eye, where the right was
    assert torch.equal(moved[0], shape)  # so the face is where it was, each point on its own


def test_with_every_range_zero_the_batch_comes_back_as_it_went_in():
    images = torch.randint(0, 256, (6, 3, 16, 24), dtype=torch.uint8)
    points = torch.rand(6, 4, 2) * 16
    out, moved = make(np.arange(4), **STILL)(images, points, seeded(0))
    torch.testing.assert_close(out, images / 255, atol=1e-6, rtol=0)
    assert torch.equal(moved, points)


def test_the_identity_matrix_resamples_every_pixel_onto_itself():
    images = torch.rand(3, 2, 16, 24)
    identity = torch.eye(2, 3).expand(3, 2, 3)
    # to float32 rounding of the grid: a few units in the last place
    torch.testing.assert_close(ba.warp(images, identity), images, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("angle", "scale", "shift"), [(17.0, 1.1, (3.0, -2.0)), (-25.0, 0.85, (0.0, 5.0))]
)
def test_the_affine_is_torchvisions_for_the_same_parameters(angle, scale, shift):
    images = torch.rand(1, 3, 48, 64)
    points = torch.tensor([[[10.0, 20.0], [50.0, 7.5], [31.5, 23.5]]])
    matrices = ba.similarity(
        torch.tensor([angle]), torch.tensor([scale]), torch.tensor([shift]), (64, 48)
    )
    args = dict(angle=angle, translate=list(shift), scale=scale, shear=[0.0, 0.0])
    keypoints = TF.affine(augment.to_tv(points[0], 48, 64), **args)
    torch.testing.assert_close(ba.move_points(points, matrices)[0], augment.from_tv(keypoints))
    pixels = TF.affine(images, **args, interpolation=InterpolationMode.BILINEAR)
    torch.testing.assert_close(ba.warp(images, matrices), pixels, atol=1e-4, rtol=0)


def test_shares_of_flips_patches_and_blurs_are_the_configured_ones():
    count, size = 2000, 8
    points = torch.tensor([[1.0, 2.0], [5.0, 3.0]]).expand(count, 2, 2)
    grey = torch.full((count, 3, size, size), 128, dtype=torch.uint8)
    _, moved = make(np.array([1, 0]), **{**STILL, "flip_p": 0.3})(grey, points, seeded(0))
    flipped = (moved[:, 0] == torch.tensor([size - 1 - 5.0, 3.0])).all(1)
    assert ((moved == points).all((1, 2)) | flipped).all()
    assert abs(flipped.float().mean() - 0.3) < 0.04

    out, _ = make(np.arange(2), **STILL, occlude=0.4)(grey, points, seeded(1))
    patched = (out != grey / 255).any(3).any(2).any(1)
    assert abs(patched.float().mean() - 0.4) < 0.04

    dot = torch.zeros(count, 3, size, size, dtype=torch.uint8)
    dot[..., 4, 4] = 255
    out, _ = make(np.arange(2), **STILL, blur=0.3)(dot, points, seeded(2))
    change = (out - dot / 255).abs().amax((1, 2, 3))
    blurred = change > 1e-3
    assert (blurred | (change < 1e-6)).all()
    assert abs(blurred.float().mean() - 0.3) < 0.04


def test_rotations_scales_and_shifts_stay_within_their_ranges_and_fill_them():
    count, width, height = 2000, 12, 8
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2])
    points = torch.stack([centre, centre + torch.tensor([3.0, 0.0])]).expand(count, 2, 2)
    aug = make(np.arange(2), 0.0, degrees=20.0, translate=0.1, scale=(0.9, 1.1), jitter=0.0)
    _, moved = aug(torch.zeros(count, 1, height, width, dtype=torch.uint8), points, seeded(0))
    arm = moved[:, 1] - moved[:, 0]
    angle = torch.rad2deg(torch.atan2(arm[:, 1], arm[:, 0]))
    scale = arm.norm(dim=1) / 3
    assert angle.abs().max() <= 20.0 + 1e-3 and angle.abs().max() > 19.0
    assert abs(angle.mean()) < 1.0  # both ways
    assert (
        scale.min() >= 0.9 - 1e-5 and scale.max() <= 1.1 + 1e-5 and scale.max() - scale.min() > 0.19
    )
    reach = (moved[:, 0] - centre).abs().amax(0)  # the centre moves by the shift alone
    assert (reach <= 0.1 * torch.tensor([width, height]) + 1e-5).all()
    assert (reach > 0.09 * torch.tensor([width, height])).all()


def test_patches_cover_two_to_fifteen_percent_with_torchvisions_aspect_ratios():
    width, height = 640, 480
    boxes = ba.patch_boxes(4000, (width, height), seeded(0)).double()
    top, left, tall, wide = boxes.unbind(1)
    area = tall * wide / (width * height)
    assert area.min() > 0.019 and area.max() < 0.151 and area.max() - area.min() > 0.12
    ratio = tall / wide
    assert ratio.min() > 0.29 and ratio.max() < 3.4 and (ratio < 0.4).any() and (ratio > 3).any()
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + tall <= height).all() and (left + wide <= width).all()
    assert (top + tall == height).any() and (top == 0).any()  # positions reach both edges


def test_a_patch_that_fits_nowhere_is_no_patch():
    boxes = ba.patch_boxes(50, (1, 100), seeded(0))  # one pixel wide: no box is narrower
    assert (boxes[:, 2:] == 0).all()


def test_the_same_seed_gives_the_same_batch_and_another_seed_another():
    images = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    points = torch.rand(16, 3, 2) * 8
    aug = ba.BatchAugment.of(np.array([1, 0, 2]), STRONG_AUGMENT)
    assert aug.ranges == STRONG_AUGMENT and aug.flip_p == 0.5
    first, again, other = (aug(images, points, seeded(seed)) for seed in (0, 0, 1))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[1], other[1])


def test_colour_jitter_stays_in_range_and_keeps_grey_grey():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    images[32:] = images[32:, :1]  # the second half grey
    aug = make(np.arange(1), **{**STILL, "jitter": 0.9})
    out, _ = aug(images, torch.zeros(64, 1, 2), seeded(0))
    assert out.min() >= 0 and out.max() <= 1 and (out == 0).any() and (out == 1).any()
    assert torch.equal(out[32:, 0], out[32:, 1]) and torch.equal(out[32:, 0], out[32:, 2])
    assert not torch.equal(out[:32], images[:32] / 255)


@pytest.mark.parametrize("channels", [3, 1])
def test_colour_jitter_is_torchvisions_in_each_samples_order(channels):
    images = torch.rand(6, channels, 8, 8)
    factors = torch.tensor([[1.3, 0.7, 1.5], [0.6, 1.4, 0.2]]).repeat(3, 1)
    order = torch.tensor([[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1]])
    steps = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation]
    expected = []
    for image, factor, kinds in zip(images, factors, order, strict=True):
        for kind in kinds:
            image = steps[kind](image, float(factor[kind]))
        expected.append(image)
    if channels == 1:  # the batch leaves grayscale saturation alone by its factor
        factors[:, ba.SATURATION] = 1
    jittered = ba.jitter_colour(images, factors, order)
    torch.testing.assert_close(jittered, torch.stack(expected), atol=1e-6, rtol=0)


def test_blur_is_torchvisions_gaussian_blur_with_each_samples_sigma():
    images = torch.rand(3, 3, 12, 10)
    sigma = torch.tensor([0.3, 0.9, 1.5])
    blurred = ba.gaussian_blur(images, ba.gaussian_kernels(sigma))
    for image, s, mine in zip(images, sigma, blurred, strict=True):
        expected = TF.gaussian_blur(image, [5, 5], [float(s)] * 2)
        torch.testing.assert_close(mine, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("grayscale", [False, True])
def test_prepare_image_turns_the_batch_into_the_datasets_model_input(grayscale):
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    out, _ = make(np.arange(1), **STILL)(images, torch.zeros(4, 1, 2))
    per_sample = torch.stack([prepare_image(image, grayscale) for image in images])
    # the dataset's grayscale is rounded to uint8 before it is scaled
    tolerance = 1 / 255 if grayscale else 1e-6
    torch.testing.assert_close(prepare_image(out, grayscale), per_sample, atol=tolerance, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_the_whole_strong_augmentation_runs_on_the_batchs_device(device):
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, device=device)
    points = torch.rand(8, 3, 2, device=device) * 32
    aug = ba.BatchAugment.of(torch.tensor([1, 0, 2]), STRONG_AUGMENT)
    out, moved = aug(images, points, seeded(0, device))
    assert out.shape == images.shape and moved.shape == points.shape
    assert out.device == images.device and moved.device == images.device
    assert out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    assert math.isfinite(float(moved.sum()))
