"""Coordinate round trips and the geometry helpers."""

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

    from helpers import readout

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
