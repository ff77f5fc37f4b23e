"""The heatmap codec, losses and mirrored TTA: round trips within the tolerances that matter."""

import numpy as np
import pytest
import torch

from helpers import geometry
from helpers.nets import heatmaps, readout, tta
from helpers.training import losses

MAP = (32, 24)  # heatmap (W, H): a 128x96 input at stride 4


def test_rendered_targets_decode_to_their_points_within_a_tenth_of_a_pixel():
    rng = np.random.default_rng(0)
    points = torch.tensor(
        rng.uniform([2, 2], [MAP[0] - 3, MAP[1] - 3], (50, 2)), dtype=torch.float32
    )
    decoded, confidence = heatmaps.decode_peaks(heatmaps.render(points, MAP, sigma=1.5))
    assert (decoded - points).abs().max() < 0.1
    # a point between pixel centres peaks below 1: at worst exp(-0.5 / (2 * 1.5**2)) = 0.895
    assert confidence.min() > 0.88


@pytest.mark.parametrize("point", [(0.2, 5.0), (0.0, 0.0), (31.0, 23.0), (30.6, 0.4), (15.5, 23.3)])
def test_points_at_the_border_decode_correctly(point):
    target = torch.tensor([point], dtype=torch.float32)
    decoded, _ = heatmaps.decode_peaks(heatmaps.render(target, MAP, sigma=1.5))
    assert (decoded - target).abs().max() < 0.1


def test_a_flat_map_has_low_confidence():
    flat = torch.full((1, 3, MAP[1], MAP[0]), 0.3)
    noisy = flat + 0.01 * torch.rand_like(flat)
    _, confidence = heatmaps.decode_peaks(torch.cat([flat, noisy]))
    assert confidence.max() < 0.02


def test_a_map_that_overshoots_its_target_has_confidence_one_at_most():
    target = heatmaps.render(torch.tensor([[10.0, 8.0]]), MAP, sigma=1.5)
    _, confidence = heatmaps.decode_peaks(torch.cat([target, 1.4 * target]))
    assert confidence.tolist() == [1.0, 1.0]


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
    torch.testing.assert_close(tta.unmirror_maps(tta.unmirror_maps(maps, perm), perm), maps)


def test_mirrored_maps_flipped_back_land_on_the_original_points():
    # Points of the mirrored image, rendered and flipped back, must decode to the original
    # points in input pixels: no half-pixel drift between the flip and the coordinates.
    size, stride, perm = (128, 96), 4, np.array([1, 0, 3, 2])
    points = np.array([[30.2, 40.0], [97.8, 40.5], [50.0, 70.3], [77.7, 69.9]], np.float32)
    mirrored = geometry.mirror_points(points, size[0])[perm]
    maps = heatmaps.render(
        torch.from_numpy(heatmaps.to_heatmap_coords(mirrored, size, stride)), MAP, 1.5
    )
    decoded, _ = heatmaps.decode_peaks(tta.unmirror_maps(maps[None], perm)[0])
    back = heatmaps.from_heatmap_coords(decoded.numpy(), size, stride)
    np.testing.assert_allclose(back, points, atol=0.1 * stride)
    assert np.abs(back - points).max() < 0.1


def test_predict_maps_averages_the_mirrored_prediction():
    class Echo(torch.nn.Module):  # returns its input as 2 'maps': flips are easy to follow
        def forward(self, x):
            return x[:, :2]

    images = torch.rand(1, 2, MAP[1], MAP[0])
    perm = np.array([1, 0])
    averaged = readout.predict_maps(Echo(), images, perm)
    expected = (images + images.flip(-1).flip(-1)[:, perm]) / 2
    torch.testing.assert_close(averaged, expected)


def test_soft_argmax_finds_a_sharp_peak_and_round_trips_through_fractions():
    points = torch.tensor([[3.0, 4.0], [20.25, 10.5]])
    # log of a narrow Gaussian: the softmax is that Gaussian, whose mean is the point
    logits = heatmaps.render(points, MAP, sigma=0.8).clamp(min=1e-12).log()
    torch.testing.assert_close(heatmaps.soft_argmax(logits), points, atol=0.01, rtol=0)
    fractions = heatmaps.map_to_fractions(points, MAP)
    torch.testing.assert_close(heatmaps.fractions_to_map(fractions, MAP), points)


@pytest.mark.parametrize("kind", losses.HeatmapLoss.KINDS)
def test_each_loss_is_lowest_for_maps_that_put_every_point_right(kind):
    torch.manual_seed(0)
    target = torch.rand(2, 5, 2) * 0.8 + 0.1  # fractions of the input
    perfect = heatmaps.render(heatmaps.fractions_to_map(target, MAP), MAP, 1.5)
    if kind == "integral":
        perfect = perfect.clamp(min=1e-12).log()
    shifted = perfect.roll(3, dims=-1)  # every point 3 map pixels to the right
    loss = losses.HeatmapLoss(kind, sigma=1.5)
    assert loss(perfect, target) < 0.2 * loss(shifted, target)
    if kind != "integral":
        assert loss(perfect, target) < 1e-6


def test_adaptive_wing_is_zero_at_the_target_and_continuous_at_theta():
    target = torch.full((3,), 0.7)
    assert losses.adaptive_wing(target, target).abs().max() < 1e-6
    theta = 0.5
    below = losses.adaptive_wing(target - theta + 1e-4, target)
    above = losses.adaptive_wing(target - theta - 1e-4, target)
    torch.testing.assert_close(below, above, atol=1e-2, rtol=0)


def test_an_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown heatmap loss"):
        losses.HeatmapLoss("l2")


@pytest.mark.parametrize("integral", [False, True])
def test_the_codec_round_trips_fractions_through_its_maps(integral):
    # encode -> (log, for maps trained through a soft-argmax) -> decode gives the points back
    rng = np.random.default_rng(1)
    # a soft-argmax is pulled inwards where a map cuts its Gaussian off: stay 3 sigma inside
    target = torch.tensor(rng.uniform(0.15, 0.85, (3, 17, 2)), dtype=torch.float32)
    codec = heatmaps.HeatmapCodec(sigma=1.0, integral=integral)
    maps = codec.encode(target, MAP)
    assert maps.shape == (3, 17, MAP[1], MAP[0])
    if integral:  # the log of a Gaussian: its softmax is that Gaussian, centred on the point
        maps = maps.clamp(min=1e-12).log()
    decoded, confidence = codec.decode(maps)
    error_px = ((decoded - target) * torch.tensor(MAP)).abs()  # in map pixels
    assert error_px.max() < 0.1
    assert confidence.min() > 0.75  # a peak between pixel centres: at worst exp(-0.25) = 0.78


def test_the_integral_display_is_a_softmax_over_the_whole_map():
    # Rows of a map must not be normalised on their own: each whole map sums to one.
    logits = torch.randn(2, 5, MAP[1], MAP[0])
    shown = heatmaps.HeatmapCodec(integral=True).display(logits)
    torch.testing.assert_close(shown.sum((-2, -1)), torch.ones(2, 5))
    assert heatmaps.HeatmapCodec().display(logits) is logits


def test_the_codec_renders_targets_on_their_own_device():
    target = torch.rand(1, 4, 2, device="meta")
    assert heatmaps.HeatmapCodec().encode(target, MAP).device.type == "meta"


def test_point_weights_scale_each_points_share_of_the_loss_at_a_mean_of_one():
    torch.manual_seed(0)
    target = torch.rand(2, 4, 2) * 0.8 + 0.1
    perfect = heatmaps.render(heatmaps.fractions_to_map(target, MAP), MAP, 1.5)
    wrong_first = perfect.clone()
    wrong_first[:, 0] = perfect[:, 0].roll(3, dims=-1)  # only point 0 is off
    plain = losses.HeatmapLoss("awing", 1.5)
    weighted = losses.HeatmapLoss("awing", 1.5, point_weights=torch.tensor([3.0, 1.0, 1.0, 1.0]))
    # point 0 weighs 3 / mean(3, 1, 1, 1) = 2 against plain's 1
    torch.testing.assert_close(weighted(wrong_first, target), 2 * plain(wrong_first, target))
    assert weighted(perfect, target) < 1e-6
    with pytest.raises(ValueError, match="not integral"):
        losses.HeatmapLoss("integral", point_weights=torch.ones(4))


def test_map_size_divides_the_input_by_the_stride_in_whole_pixels():
    size = heatmaps.map_size((128, 96), 4)
    assert size == (32, 24)
    assert all(type(n) is int for n in size)  # a shape for tensors, not 32.0


def test_render_draws_a_separable_gaussian_of_sigma_pixels_with_its_peak_at_the_point():
    points = torch.tensor([[2.0, 3.0], [10.0, 5.0]], dtype=torch.float64)
    maps = heatmaps.render(points, (12, 8), sigma=1.5)  # 2 * sigma**2 = 4.5
    assert maps.shape == (2, 8, 12) and maps.dtype == torch.float32
    assert maps[0, 3, 2] == 1 and maps[1, 5, 10] == 1
    expected = [np.exp(-1 / 4.5), np.exp(-4 / 4.5), np.exp(-5 / 4.5)]  # dx=1; dy=2; both
    got = [maps[0, 3, 3], maps[0, 5, 2], maps[1, 6, 8]]
    torch.testing.assert_close(torch.stack(got), torch.tensor(expected, dtype=torch.float32))


def test_the_taylor_step_is_the_top_of_the_parabola_clipped_and_zero_without_a_maximum():
    logs = np.array(
        [
            [0.0, 1.0, 0.5],  # a maximum: the top of the parabola at (0 - 0.5) / (2 * -1.5)
            [0.0, 1.0, 2.0],  # a straight line: no maximum
            [1.0, 1.0, 1.0],  # flat: no maximum
            [0.0, 1.0, 1.9],  # a maximum 9.5 pixels to the right: clipped to 1.5
            [1.9, 1.0, 0.0],  # and to the left
            [-1e-6, 0.0, 0.0],  # curvature exactly -1e-6 is not below the threshold
        ]
    )
    with np.errstate(all="raise"):  # no division by a zero curvature, not even one discarded
        offsets = heatmaps._vertex(logs)
        heatmaps.decode_peaks(torch.full((2, 4, 5), 0.3))
    np.testing.assert_allclose(offsets, [1 / 6, 0, 0, 1.5, -1.5, 0], atol=1e-12)


def test_confidence_is_the_peak_above_the_lower_median_of_every_fourth_pixel_of_each_map():
    maps = torch.zeros(2, 4, 5)  # 20 pixels: every fourth is flat index 0, 4, 8, 12, 16
    maps.view(2, -1)[0, [0, 4, 8, 12, 16]] = torch.tensor([0.5, 0.1, 0.4, 0.2, 0.3])
    maps.view(2, -1)[1, [0, 4, 8, 12, 16]] = torch.tensor([0.6, 0.9, 0.65, 0.8, 0.7])
    maps.view(2, -1)[:, 7] = 1.0  # the peak, away from every fourth (and every fifth) pixel
    points, confidence = heatmaps.decode_peaks(maps)
    # medians 0.3 and 0.7, each of its own map
    torch.testing.assert_close(confidence, torch.tensor([0.7, 0.3]))
    assert points.shape == (2, 2) and points.dtype == confidence.dtype == torch.float32


def test_decoded_points_and_confidences_land_on_the_maps_device():
    class OnMeta:  # CPU maps that say they live elsewhere: the results must be sent there
        def __init__(self, maps):
            self.maps, self.shape, self.device = maps, maps.shape, torch.device("meta")

        def detach(self):
            return self.maps

    points, confidence = heatmaps.decode_peaks(OnMeta(torch.rand(3, MAP[1], MAP[0])))
    assert points.device.type == confidence.device.type == "meta"


def test_soft_argmax_and_fractions_stay_on_the_maps_device():
    logits = torch.zeros(1, 2, MAP[1], MAP[0], device="meta")
    assert heatmaps.soft_argmax(logits).device.type == "meta"
    points = torch.zeros(2, 2, device="meta")
    assert heatmaps.map_to_fractions(points, MAP).device.type == "meta"


def test_integral_confidence_scales_each_map_on_its_own_and_maps_need_no_batch_dimension():
    # One spike of height L on a flat zero logit map: its softmax over its own peak is e**-L
    # everywhere else, so the confidence is 1 - e**-L, whatever the other maps hold.
    logits = torch.zeros(2, MAP[1], MAP[0])  # (K, H, W): no batch
    logits[0, 7, 5], logits[1, 15, 20] = 30.0, 1.0
    found, confidence = heatmaps.HeatmapCodec(integral=True).decode(logits)
    torch.testing.assert_close(confidence, torch.tensor([1.0, 1 - np.exp(-1)], dtype=torch.float32))
    # the sharp spike's soft-argmax is its pixel (5, 7): ((5 + 0.5) / W, (7 + 0.5) / H)
    torch.testing.assert_close(found[0], torch.tensor([5.5 / MAP[0], 7.5 / MAP[1]]))
