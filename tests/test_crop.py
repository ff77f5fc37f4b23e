"""The face crop: box to square to crop to model input, and points back to the photo."""

import numpy as np
import pytest
import torch

from helpers import crop, geometry


def test_crop_square_round_trip_within_half_pixel():
    rng = np.random.default_rng(0)
    for _ in range(20):
        box = np.array([*rng.uniform(0, 300, 2), *rng.uniform(50, 400, 2)])
        square = crop.crop_square(box, 1.5, 0.05)
        pts = rng.uniform(box[:2], box[:2] + box[2:], (68, 2))
        back = geometry.crop_to_box(geometry.box_to_crop(pts, square, 224), square, 224)
        assert np.abs(back - pts).max() < 0.5


def test_crop_face_pads_outside_the_image():
    image = np.full((50, 60, 3), 200, np.uint8)
    face = crop.crop_face(image, np.array([-10, -10, 40]), 20)
    assert face.shape == (3, 20, 20)
    assert face[:, 0, 0].max() == 0 and face[:, -1, -1].min() == 200


def test_crops_to_image_inverts_the_dataset_targets():
    rng = np.random.default_rng(0)
    squares = np.array([[10, 20, 150], [-30, 5, 400]], dtype=np.float32)
    pts = rng.uniform(50, 150, (2, 68, 2))
    in_crop = np.stack([geometry.box_to_crop(p, s, 224) for p, s in zip(pts, squares, strict=True)])
    fractions = (in_crop + 0.5) / 224  # what KeypointDataset serves as targets
    np.testing.assert_allclose(crop.crops_to_image(fractions, squares, 224), pts, atol=1e-3)


def test_crop_face_copies_only_the_crop_and_matches_cropping_the_whole_image():
    from torchvision.transforms.v2 import functional as TF

    from helpers.crop import to_chw_uint8

    rng = np.random.default_rng(0)
    colour = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    rgba = np.concatenate([colour, np.full((90, 120, 1), 255, np.uint8)], -1)
    for image in (colour, colour[..., 0], rgba):
        for square in ([-20, 10, 70], [100, 60, 50], [5, 5, 30], [-50, -50, 300], [130, 10, 20]):
            left, top, side = square
            whole = TF.crop(to_chw_uint8(image), top, left, side, side)
            expected = TF.resize(whole, [32, 32], antialias=True)
            found = crop.crop_face(image, np.array(square), 32)
            assert torch.equal(found, expected), (image.shape, square)


def test_crop_square_centres_the_enlarged_box_and_shifts_it_down():
    box = np.array([10.0, 20.0, 40.0, 60.0])  # centre (30, 50); side round(60 * 1.5) = 90
    square = crop.crop_square(box, 1.5)
    assert square.dtype == np.float32
    np.testing.assert_array_equal(square, [-15, 5, 90])
    # shift 0.1 moves the centre down by 0.1 of the box height: 6 px, to y = 56
    np.testing.assert_array_equal(crop.crop_square(box, 1.5, 0.1), [-15, 11, 90])
    np.testing.assert_array_equal(crop.crop_square(box, 1.5, -0.25), [-15, -10, 90])


def test_crops_to_image_refuses_a_square_per_face_mismatch():
    pred = np.full((2, 68, 2), 0.5)
    squares = np.array([[0, 0, 100]] * 3, dtype=np.float32)
    with pytest.raises(ValueError):
        crop.crops_to_image(pred, squares, 224)


def test_crop_face_of_a_square_that_misses_the_image_is_black():
    image = np.full((50, 60, 3), 200, np.uint8)
    far = [[-40, 10, 30], [10, -40, 30], [70, 10, 20], [10, 60, 20]]  # left, above, right, below
    touching = [[-30, 10, 30], [10, -30, 30], [60, 10, 20], [10, 50, 20]]  # the 60 x 50 edges
    for square in far + touching:
        face = crop.crop_face(image, np.array(square), 8)
        assert face.dtype == torch.uint8 and face.shape == (3, 8, 8), square
        assert face.max() == 0, square


def test_prepare_image_scales_to_plus_minus_a_half_and_weights_grey():
    from helpers.crop import prepare_image

    image = torch.tensor([[[0, 255]], [[0, 51]], [[0, 102]]], dtype=torch.uint8)  # (3, 1, 2)
    colour = prepare_image(image, grayscale=False)
    assert colour.dtype == torch.float32 and colour.shape == (3, 1, 2)
    expected = torch.tensor([[[-0.5, 0.5]], [[-0.5, -0.3]], [[-0.5, -0.1]]])
    torch.testing.assert_close(colour, expected)
    grey = prepare_image(image, grayscale=True)
    assert grey.dtype == torch.float32 and grey.shape == (1, 1, 2)
    # ITU-R 601 luma of (255, 51, 102): 0.2989 * 255 + 0.587 * 51 + 0.114 * 102 = 117.8,
    # within one grey level
    torch.testing.assert_close(
        grey, torch.tensor([[[-0.5, 117.8 / 255 - 0.5]]]), atol=1 / 255, rtol=0
    )


def test_crop_face_resizes_the_photos_own_pixels_without_a_copy(monkeypatch):
    # A full-width square inside the image is one contiguous block of the photo: the resize
    # must read it in place, channels last (a (3, H, W) copy first costs about 7x the time).
    image = np.random.default_rng(0).integers(0, 255, (100, 60, 3), dtype=np.uint8)
    seen = []
    interpolate = crop.F.interpolate

    def spy(crop, *args, **kwargs):
        seen.append(crop)
        return interpolate(crop, *args, **kwargs)

    monkeypatch.setattr(crop.F, "interpolate", spy)
    face = crop.crop_face(image, np.array([0, 20, 60]), 16)
    assert face.shape == (3, 16, 16) and len(seen) == 1
    assert seen[0].data_ptr() == image[20].ctypes.data
    torch.testing.assert_close(seen[0][0], torch.from_numpy(image[20:80]).permute(2, 0, 1))
