"""Head pose from 68 points: synthetic faces made from the 3D mean shape with this file's own
camera and rotations, recovered by the fit; the sign conventions pinned by faces whose turn is
checked in the image itself."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from helpers.geometry import mirror_permutation
from helpers.inference.pose import (
    MEAN_FACE_3D,
    MIRROR_68,
    RIGID,
    angles_from_rotation,
    head_pose,
    orthographic_pose,
    pose_axes,
)

SIZE = (640, 480)
CENTRE = np.array([(SIZE[0] - 1) / 2, (SIZE[1] - 1) / 2])
# At this distance the jaw (points 0-16) of a frontal face spans about 150 px in SIZE.
DEPTH = 5.3
GRID = list(itertools.product((-60, -30, 0, 30, 60), (-60, -30, 0, 30, 60), (-45, 0, 45)))


def _rx(a: float) -> np.ndarray:
    """Rotation by a degrees about the x axis (right-hand rule)."""
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    """Rotation by a degrees about the y axis (right-hand rule)."""
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    """Rotation by a degrees about the z axis (right-hand rule)."""
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The documented convention, written out: Rz(-roll) @ Ry(yaw) @ Rx(-pitch)."""
    return _rz(-roll) @ _ry(yaw) @ _rx(-pitch)


def _face(
    rotation: np.ndarray, shift: tuple[float, float] = (0.0, 0.0), depth: float = DEPTH
) -> np.ndarray:
    """The mean shape turned by rotation, depth in front of a pinhole camera (f = 640, y up in
    the camera, y down in the image), projected to (68, 2) pixels."""
    camera = MEAN_FACE_3D @ rotation.T + [shift[0], shift[1], -depth]
    focal = max(SIZE)
    return CENTRE + focal * camera[:, :2] / -camera[:, 2:] * [1, -1]


def _errors(pose, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Absolute angle errors (yaw, pitch, roll) in degrees."""
    return np.abs([pose.yaw - yaw, pose.pitch - pitch, pose.roll - roll])


def test_the_synthetic_face_has_the_stated_size():
    points = _face(np.eye(3))
    assert 145 < points[16, 0] - points[0, 0] < 155


@pytest.mark.parametrize("shift", [(0.0, 0.0), (1.5, -1.0)])
def test_exact_projections_give_back_their_angles_over_the_grid(shift):
    worst = max(_errors(head_pose(_face(_rotation(*a), shift), SIZE), *a).max() for a in GRID)
    assert worst < 1e-3


def test_one_pixel_noise_moves_the_angles_by_a_degree_or_two():
    """Seeded 1 px Gaussian noise on every coordinate, face 150 px wide. Measured: mean errors
    0.6 (yaw), 0.9 (pitch), 0.7 (roll) degrees, worst 2.0 / 3.5 / 3.0 over the 75 poses: with
    1 px noise and a 95 px eye distance a per-pose bound of 2 degrees does not hold."""
    rng = np.random.default_rng(0)
    errors = np.array(
        [
            _errors(head_pose(_face(_rotation(*a)) + rng.normal(0, 1, (68, 2)), SIZE), *a)
            for a in GRID
        ]
    )
    assert (errors.mean(0) < 1.0).all(), errors.mean(0)
    assert (np.sqrt((errors**2).mean(0)) < 2.0).all()
    assert errors.max() < 4.5, errors.max(0)


def test_the_closed_form_start_is_exact_far_away_and_near_enough_close_up():
    for depth, tolerance in ((200.0, 0.25), (DEPTH, 10.0)):
        for angles in GRID:
            rotation, translation = orthographic_pose(_face(_rotation(*angles), depth=depth), SIZE)
            assert np.abs(np.subtract(angles_from_rotation(rotation), angles)).max() < tolerance
            assert abs(translation[2] + depth) < 0.03 * depth


def test_the_jaw_brows_lids_and_lips_do_not_move_the_pose():
    points = _face(_rotation(25, -15, 10))
    moved = points + np.random.default_rng(3).normal(0, 20, points.shape)
    moved[RIGID] = points[RIGID]
    one, other = head_pose(points, SIZE), head_pose(moved, SIZE)
    assert np.allclose([one.yaw, one.pitch, one.roll], [other.yaw, other.pitch, other.roll])
    assert sorted(RIGID) == [*range(27, 36), 36, 39, 42, 45, 48, 54]


def test_the_reprojection_error_is_zero_for_an_exact_face_and_about_the_noise_otherwise():
    points = _face(_rotation(20, -10, 5))
    assert head_pose(points, SIZE).rms_px < 1e-4
    noisy = points + np.random.default_rng(1).normal(0, 1, points.shape)
    assert 0.7 < head_pose(noisy, SIZE).rms_px < 1.8


def test_a_frontal_face_has_angles_near_zero():
    pose = head_pose(_face(np.eye(3)), SIZE)
    assert _errors(pose, 0, 0, 0).max() < 1e-3
    assert np.allclose(pose.rotation, np.eye(3), atol=1e-5)
    assert np.allclose(pose.translation, [0, 0, -DEPTH], atol=1e-4)


def test_a_mirrored_face_has_opposite_yaw_and_roll_and_the_same_pitch():
    rng = np.random.default_rng(2)
    for yaw, pitch, roll in [(35, 10, 15), (-50, -25, 30), (20, 40, -40)]:
        points = _face(_rotation(yaw, pitch, roll), (0.4, 0.2)) + rng.normal(0, 1, (68, 2))
        mirrored = points[MIRROR_68].copy()
        mirrored[:, 0] = SIZE[0] - 1 - mirrored[:, 0]
        one, other = head_pose(points, SIZE), head_pose(mirrored, SIZE)
        assert abs(one.yaw + other.yaw) < 1e-4 and abs(one.roll + other.roll) < 1e-4
        assert abs(one.pitch - other.pitch) < 1e-4
        assert _errors(other, -yaw, pitch, -roll).max() < 2.5


def test_the_mirror_map_is_the_one_the_mean_shape_implies():
    assert np.array_equal(mirror_permutation(MEAN_FACE_3D), MIRROR_68)
    assert np.allclose(MEAN_FACE_3D[MIRROR_68] * [-1, 1, 1], MEAN_FACE_3D)


def test_a_face_turned_toward_the_image_right_has_positive_yaw():
    points = _face(_ry(30))
    assert points[30, 0] > points[[36, 45], 0].mean() + 20  # the nose is right of the eyes
    assert abs(head_pose(points, SIZE).yaw - 30) < 1e-3


def test_a_face_looking_up_has_positive_pitch():
    frontal, up = _face(np.eye(3)), _face(_rx(-20))
    drop = [p[30, 1] - p[[36, 45], 1].mean() for p in (frontal, up)]  # nose below the eyes
    assert drop[1] < drop[0] - 10  # the nose tip has risen toward the eyes
    assert abs(head_pose(up, SIZE).pitch - 20) < 1e-3


def test_a_head_tilted_clockwise_in_the_image_has_positive_roll():
    angle = np.radians(20)  # clockwise on screen, since the image's y points down
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (_face(np.eye(3)) - CENTRE) @ turn.T + CENTRE
    assert points[45, 1] > points[36, 1] + 20  # the image-right eye has dropped
    pose = head_pose(points, SIZE)
    assert _errors(pose, 0, 0, 20).max() < 1e-3


def test_the_axes_start_at_the_nose_and_point_right_up_and_out():
    pose = head_pose(_face(np.eye(3)), SIZE)
    origin, x_end, y_end, z_end = pose_axes(pose, SIZE, length=0.5)
    assert np.allclose(origin, CENTRE, atol=1e-3)  # the nose tip is on the optical axis
    assert x_end[0] > origin[0] + 50 and abs(x_end[1] - origin[1]) < 1e-3
    assert y_end[1] < origin[1] - 50 and abs(y_end[0] - origin[0]) < 1e-3
    assert np.allclose(z_end, origin, atol=1e-3)  # seen end on
    turned = head_pose(_face(_ry(30)), SIZE)
    assert np.allclose(pose_axes(turned, SIZE)[0], _face(_ry(30))[30], atol=1e-3)
    assert pose_axes(turned, SIZE)[3, 0] > pose_axes(turned, SIZE)[0, 0] + 10


@pytest.mark.parametrize(
    "points",
    [np.zeros((67, 2)), np.zeros((68, 3)), np.zeros((2, 68, 2))],
    ids=["67 points", "3 columns", "a batch"],
)
def test_a_wrong_shape_is_refused(points):
    with pytest.raises(ValueError, match="68 points"):
        head_pose(points, SIZE)


def test_nan_points_or_a_bad_size_are_refused():
    points = _face(np.eye(3))
    points[31, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        head_pose(points, SIZE)
    with pytest.raises(ValueError, match="image_size"):
        head_pose(_face(np.eye(3)), (0, 480))


def test_points_all_on_one_spot_or_one_line_are_refused():
    line = np.zeros((68, 2))
    line[:, 0] = np.arange(68)
    for points in (np.full((68, 2), 100.0), line):
        with pytest.raises(ValueError, match="spread out"):
            head_pose(points, SIZE)
