"""Heatmap targets, decoding and mirrored TTA: round trips within the tolerances that matter."""

import numpy as np
import pytest
import torch

from helpers import geometry, heatmaps

MAP = (32, 24)  # heatmap (W, H): a 128x96 input at stride 4


def test_rendered_targets_decode_to_their_points_within_a_tenth_of_a_pixel():
    rng = np.random.default_rng(0)
    points = torch.tensor(
        rng.uniform([2, 2], [MAP[0] - 3, MAP[1] - 3], (50, 2)), dtype=torch.float32
    )
    decoded, confidence = heatmaps.decode(heatmaps.render(points, MAP, sigma=1.5))
    assert (decoded - points).abs().max() < 0.1
    # a point between pixel centres peaks below 1: at worst exp(-0.5 / (2 * 1.5**2)) = 0.895
    assert confidence.min() > 0.88


@pytest.mark.parametrize("point", [(0.2, 5.0), (0.0, 0.0), (31.0, 23.0), (30.6, 0.4), (15.5, 23.3)])
def test_points_at_the_border_decode_correctly(point):
    target = torch.tensor([point], dtype=torch.float32)
    decoded, _ = heatmaps.decode(heatmaps.render(target, MAP, sigma=1.5))
    assert (decoded - target).abs().max() < 0.1


def test_a_flat_map_has_low_confidence():
    flat = torch.full((1, 3, MAP[1], MAP[0]), 0.3)
    noisy = flat + 0.01 * torch.rand_like(flat)
    _, confidence = heatmaps.decode(torch.cat([flat, noisy]))
    assert confidence.max() < 0.02


def test_heatmap_coordinates_round_trip_with_the_half_pixel_bookkeeping():
    points = np.array([[0.0, 0.0], [127.0, 95.0], [63.3, 40.7]], np.float32)
    in_map = heatmaps.to_heatmap_coords(points, (128, 96), 4)
    np.testing.assert_allclose(in_map[0], [-0.375, -0.375])  # pixel 0 is a quarter of map pixel 0
    back = heatmaps.from_heatmap_coords(in_map, (128, 96), 4)
    np.testing.assert_allclose(back, points, atol=1e-4)
    with pytest.raises(ValueError, match="multiple of the stride"):
        heatmaps.to_heatmap_coords(points, (130, 96), 4)


def test_flipping_maps_twice_is_the_identity():
    maps = torch.rand(2, 4, MAP[1], MAP[0])
    perm = np.array([1, 0, 3, 2])
    torch.testing.assert_close(heatmaps.flip_maps(heatmaps.flip_maps(maps, perm), perm), maps)


def test_mirrored_maps_flipped_back_land_on_the_original_points():
    # Points of the mirrored image, rendered and flipped back, must decode to the original
    # points in input pixels: no half-pixel drift between the flip and the coordinates.
    size, stride, perm = (128, 96), 4, np.array([1, 0, 3, 2])
    points = np.array([[30.2, 40.0], [97.8, 40.5], [50.0, 70.3], [77.7, 69.9]], np.float32)
    mirrored = geometry.mirror_points(points, size[0])[perm]
    maps = heatmaps.render(
        torch.from_numpy(heatmaps.to_heatmap_coords(mirrored, size, stride)), MAP, 1.5
    )
    decoded, _ = heatmaps.decode(heatmaps.flip_maps(maps[None], perm)[0])
    back = heatmaps.from_heatmap_coords(decoded.numpy(), size, stride)
    np.testing.assert_allclose(back, points, atol=0.1 * stride)
    assert np.abs(back - points).max() < 0.1


def test_predict_maps_averages_the_mirrored_prediction():
    class Echo(torch.nn.Module):  # returns its input as 2 'maps': flips are easy to follow
        def forward(self, x):
            return x[:, :2]

    images = torch.rand(1, 2, MAP[1], MAP[0])
    perm = np.array([1, 0])
    averaged = heatmaps.predict_maps(Echo(), images, perm)
    expected = (images + images.flip(-1).flip(-1)[:, perm]) / 2
    torch.testing.assert_close(averaged, expected)
