"""Keypoint transforms: round trips, image/point agreement and the mirror permutations."""

import numpy as np
import pytest
import torch

from helpers import geometry
from helpers.data import augment, imm


def blob_image(point, size=(96, 72)) -> torch.Tensor:
    """A dark RGB image with one bright Gaussian blob centred on point (x, y)."""
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    blob = np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * 2.0**2))
    return torch.from_numpy((blob * 255).astype(np.uint8))[None].repeat(3, 1, 1)


def blob_centre(image: torch.Tensor) -> np.ndarray:
    """Intensity-weighted centre (x, y) of an image's first channel."""
    weight = image[0].double().numpy()
    weight = np.where(weight > 0.3 * weight.max(), weight, 0)
    ys, xs = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def test_flip_twice_is_identity():
    image = torch.randint(0, 255, (3, 20, 30), dtype=torch.uint8)
    points = torch.rand(5, 2) * 20
    perm = np.array([1, 0, 2, 4, 3])
    img2, pts2 = augment.hflip(*augment.hflip(image, points, perm), perm)
    assert torch.equal(img2, image)
    torch.testing.assert_close(pts2, points)


@pytest.mark.parametrize("theta", [5.0, 15.0, -12.0])
def test_rotate_and_back_within_half_pixel(theta):
    image = torch.zeros(3, 120, 160, dtype=torch.uint8)
    points = torch.tensor([[30.0, 40.0], [80.0, 60.0], [140.5, 100.25]])
    _, there = augment.rotate(image, points, theta)
    _, back = augment.rotate(image, there, -theta)
    assert (back - points).abs().max() < 0.5


@pytest.mark.parametrize("flip_p", [0.0, 1.0])
def test_points_follow_the_image(flip_p):
    torch.manual_seed(0)
    aug = augment.Augment(perm=np.array([0]), flip_p=flip_p, jitter=0.0)
    for point in [(30.0, 30.0), (60.0, 45.0)]:
        image, moved = aug(blob_image(point), torch.tensor([point]))
        assert np.abs(blob_centre(image) - moved[0].numpy()).max() < 1.0


def test_rotation_about_the_centre_moves_the_blob_with_the_point():
    image, moved = augment.rotate(blob_image((70.0, 20.0)), torch.tensor([[70.0, 20.0]]), 15)
    assert np.abs(blob_centre(image) - moved[0].numpy()).max() < 1.0


def test_imm_mirror_permutation(data_root):
    faces, _ = imm.split(imm.load_imm())
    mean = np.stack([f.points for f in faces]).mean(0)
    perm = geometry.mirror_permutation(mean)
    assert np.array_equal(perm[perm], np.arange(58))
    assert perm[imm.NOSE_TIP] == imm.NOSE_TIP
    assert list(perm[:13]) == list(range(12, -1, -1))  # the jaw line reverses
    for group in imm.GROUPS.values():  # left/right swaps stay inside a feature type
        assert set(perm[group]) == set(group)
    flipped = geometry.mirror_points(mean, 640)[perm]
    centred = lambda s: s - s.mean(0)  # noqa: E731
    assert np.abs(centred(flipped) - centred(mean)).max() < 8.0


def test_occlusion_and_blur_change_the_image_and_leave_the_points():
    still = dict(flip_p=0.0, degrees=0.0, translate=0.0, scale=(1.0, 1.0), jitter=0.0)
    image, point = blob_image((40.0, 30.0)), torch.tensor([[40.0, 30.0]])
    for kind in ("occlude", "blur"):
        torch.manual_seed(0)
        out, moved = augment.Augment(np.array([0]), **still, **{kind: 1.0})(image, point)
        assert out.dtype == image.dtype and out.shape == image.shape
        assert not torch.equal(out, image), kind  # each changes the image on its own
        torch.testing.assert_close(moved, point, atol=1e-3, rtol=0)  # and moves no point


def test_without_occlusion_and_blur_the_random_stream_is_the_one_before_them():
    aug = augment.Augment(np.array([0]))
    image, point = blob_image((40.0, 30.0)), torch.tensor([[40.0, 30.0]])
    torch.manual_seed(0)
    out, moved = aug(image, point)
    after = torch.get_rng_state()
    torch.manual_seed(0)  # the draws of the augmentation as it was before occlude and blur
    if torch.rand(()) < aug.flip_p:
        image, point = augment.hflip(image, point, aug.perm)
    old, kp = aug.affine(image, augment.to_tv(point, *image.shape[-2:]))
    old = aug.color(old)
    assert torch.equal(after, torch.get_rng_state())
    assert torch.equal(out, old) and torch.equal(moved, augment.from_tv(kp))
