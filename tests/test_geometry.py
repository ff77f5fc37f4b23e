"""Coordinate round trips and the geometry helpers."""

import math

import numpy as np
import pytest

from helpers import geometry, plots


@pytest.mark.parametrize(
    "src, dst", [((640, 480), (80, 60)), ((640, 480), (240, 180)), ((300, 417), (224, 224))]
)
def test_resize_round_trip(src, dst):
    pts = np.random.default_rng(0).uniform(0, 1, (58, 2)) * src
    back = geometry.resize_points(geometry.resize_points(pts, src, dst), dst, src)
    assert np.abs(back - pts).max() < 0.5


def test_resize_maps_pixel_centres():
    # The centre of the top-left 8x8 block of a 640x480 image is pixel (0, 0) at 80x60.
    np.testing.assert_allclose(
        geometry.resize_points([[3.5, 3.5]], (640, 480), (80, 60)), [[0, 0]], atol=1e-6
    )


def test_crop_round_trip():
    pts = np.random.default_rng(0).uniform(100, 400, (68, 2))
    box = np.array([90.3, 80.7, 333.3])
    back = geometry.crop_to_box(geometry.box_to_crop(pts, box, 224), box, 224)
    assert np.abs(back - pts).max() < 0.5


def test_mirror_twice_is_identity():
    pts = np.random.default_rng(0).uniform(0, 80, (10, 2))
    np.testing.assert_allclose(
        geometry.mirror_points(geometry.mirror_points(pts, 80), 80), pts, atol=1e-4
    )


def test_mirror_permutation_of_symmetric_shape():
    # Two pairs and one point on the axis.
    shape = np.array([[0.0, 0], [10, 0], [5, 5], [2, 9], [8, 9]])
    np.testing.assert_array_equal(geometry.mirror_permutation(shape), [1, 0, 2, 4, 3])


def test_mirror_in_place_keeps_a_symmetric_shape_on_itself():
    shape = np.array([[20.0, 30], [40, 30], [30, 35], [22, 50], [38, 50]])  # axis at x = 30
    perm = geometry.mirror_permutation(shape)
    np.testing.assert_allclose(geometry.mirror_in_place(shape)[perm], shape, atol=1e-4)
    np.testing.assert_allclose(geometry.mirror_in_place(geometry.mirror_in_place(shape)), shape)


def test_mirror_check_lines_vanish_only_after_reindexing():
    shape = np.array([[20.0, 30], [40, 30], [30, 35], [22, 50], [38, 50]])
    fig = plots.show_mirror_check(shape, geometry.mirror_permutation(shape), labels=(0,))
    before, after = ([np.ptp(line.get_xdata()) for line in ax.lines] for ax in fig.axes[:2])
    assert max(before) == pytest.approx(20) and max(after) == pytest.approx(0, abs=1e-4)


def test_nme_uses_outer_eye_corners():
    true = np.zeros((1, 68, 2))
    true[0, 45] = (100, 0)
    pred = true + [3, 4]
    np.testing.assert_allclose(geometry.nme(pred, true), [0.05])


def test_flip_test_time_augmentation_of_a_mirror_symmetric_model():
    """For a model that is exactly mirror-consistent, flip TTA must change nothing."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from helpers.nets import readout

    class Centroid(torch.nn.Module):
        """Predicts (left half centroid, right half centroid) x, and a fixed y."""

        def forward(self, x):
            w = x.shape[-1]
            cols = torch.arange(w, dtype=torch.float32)
            weights = x.clamp(min=0).sum(dim=(1, 2))
            left = (weights[:, : w // 2] * cols[: w // 2]).sum(1) / weights[:, : w // 2].sum(1)
            right = (weights[:, w // 2 :] * cols[w // 2 :]).sum(1) / weights[:, w // 2 :].sum(1)
            xs = (torch.stack([left, right], 1) + 0.5) / w
            return torch.stack([xs, torch.full_like(xs, 0.5)], -1)

    images = torch.rand(3, 1, 8, 10)
    loader = DataLoader(TensorDataset(images, torch.zeros(3, 2, 2)), batch_size=3)
    plain, _, _ = readout.predict(Centroid(), loader)
    tta, _, _ = readout.predict(Centroid(), loader, perm=np.array([1, 0]))
    np.testing.assert_allclose(plain, tta, atol=1e-5)


def test_nme_by_group_averages_to_overall_nme():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 100, (4, 68, 2))
    pred = true + rng.normal(0, 2, true.shape)
    groups = {"left": list(range(0, 34)), "right": list(range(34, 68))}
    by_group = geometry.nme_by_group(pred, true, groups)
    np.testing.assert_allclose(np.mean(list(by_group.values())), geometry.nme(pred, true).mean())


def test_ced_auc_and_failure_rate_on_known_errors():
    nmes = np.array([0.0, 0.02, 0.04, 0.10])
    np.testing.assert_allclose(geometry.ced(nmes, [0.0, 0.03, 0.08, 0.2]), [0.25, 0.5, 0.75, 1.0])
    # (1 + 0.75 + 0.5 + 0) / 4: each face adds (0.08 - NME) / 0.08, the failure adds nothing
    assert geometry.auc(nmes, 0.08) == pytest.approx(0.5625)
    assert geometry.failure_rate(nmes, 0.08) == 0.25
    assert geometry.auc(np.zeros(5)) == 1.0 and geometry.auc(np.full(5, 0.5)) == 0.0


def test_auc_matches_the_integral_of_the_ced_curve():
    nmes = np.random.default_rng(0).uniform(0, 0.12, 200)
    grid = np.linspace(0, 0.08, 80001)
    integral = np.trapezoid(geometry.ced(nmes, grid), grid) / 0.08
    assert geometry.auc(nmes, 0.08) == pytest.approx(integral, abs=1e-3)


def test_resize_points_to_the_same_size_returns_the_float32_points_exactly():
    # Computed in float64: float32 points just below a power of two (e.g. 127.99) would lose
    # their last bit if the half-pixel shift were added in float32.
    pts = np.random.default_rng(0).uniform(0, 640, (1000, 2)).astype(np.float32)
    out = geometry.resize_points(pts, (640, 480), (640, 480))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, pts)
    halved = geometry.resize_points([[3, 1]], (640, 480), (320, 240))  # (3.5 / 2 - 0.5, ...)
    assert halved.dtype == np.float32
    np.testing.assert_array_equal(halved, [[1.25, 0.25]])


def test_crop_maps_give_float32_pixels_of_the_square():
    box = np.array([10.0, 20.0, 100.0])  # pixels 10..109 by 20..119, into a 50 x 50 crop
    centre = np.array([[59.5, 69.5]])  # the box's centre is the crop's centre, 24.5
    to_crop = geometry.box_to_crop(centre, box, 50)
    assert to_crop.dtype == np.float32
    np.testing.assert_array_equal(to_crop, [[24.5, 24.5]])
    back = geometry.crop_to_box(np.array([[24.5, 24.5], [-0.25, 49.25]]), box, 50)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, [[59.5, 69.5], [10.0, 119.0]])  # first, last pixel


def test_mirror_points_returns_a_float32_copy():
    pts = np.array([[0.0, 5.0], [2.5, 7.0]])  # float64 in, float32 out
    out = geometry.mirror_points(pts, 10)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[9.0, 5.0], [6.5, 7.0]])
    assert pts[0, 0] == 0.0  # the input is untouched
    ints = geometry.mirror_points(np.array([[1, 2]]), 4)
    assert ints.dtype == np.float32 and ints.tolist() == [[2.0, 2.0]]


def test_mirror_permutation_of_a_shape_centred_on_zero():
    # The axis is x = 0: each point mirrors onto its partner, not onto itself.
    shape = np.array([[-5.0, 0], [5, 0], [0, 5], [-3, 9], [3, 9]])
    np.testing.assert_array_equal(geometry.mirror_permutation(shape), [1, 0, 2, 4, 3])


def test_mirror_permutation_mirrors_about_the_mean_x_not_the_mean_y():
    # Mean (3, 4/3). About x = 3: point 0 stays, points 1 and 2 mirror to (6, 0) and (0, 4),
    # 4 px from each other: cost 8. About x = 4/3 the best match would be [1, 0, 2] instead.
    shape = np.array([[3.0, 0], [0, 0], [6, 4]])
    np.testing.assert_array_equal(geometry.mirror_permutation(shape), [0, 2, 1])


def test_mirror_permutation_of_integer_pixels_keeps_the_fractional_axis():
    # Mean x = 10.25, so points 2 and 3 mirror to (10.5, 7) and (8.5, 8): swapped they cost
    # 2 * sqrt(1.5^2 + 1) = 3.61 against 0.5 + 3.5 = 4 unswapped. Truncating the mirrored x to
    # integers, (10, 7) and (8, 8), would keep them apart.
    shape = [[7, 2], [12, 2], [10, 7], [12, 8]]
    np.testing.assert_array_equal(geometry.mirror_permutation(shape), [1, 0, 3, 2])


def test_nme_with_other_eye_corners():
    true = np.array([[[0.0, 0], [10, 0], [5, 5]]])
    pred = true + [0, 2]  # every point 2 px off; the corners 0 and 1 are 10 px apart
    np.testing.assert_allclose(geometry.nme(pred, true, left=0, right=1), [0.2])
    np.testing.assert_allclose(geometry.nme(pred, true, left=0, right=2), [2 / np.hypot(5, 5)])


def test_failure_rate_counts_errors_above_8_percent_by_default():
    # 0.08 itself is not a failure: only errors that exceed the limit count.
    assert geometry.failure_rate(np.array([0.0, 0.08, 0.09, 0.5])) == 0.5
    assert geometry.failure_rate(np.array([0.08, 0.08])) == 0.0


def test_auc_of_float32_errors_is_exact_in_double_precision():
    nmes = np.random.default_rng(0).uniform(0, 0.12, 1000).astype(np.float32)
    exact = math.fsum(max(0.08 - float(v), 0.0) for v in nmes) / len(nmes) / 0.08
    assert geometry.auc(nmes, 0.08) == pytest.approx(exact, rel=1e-12)
