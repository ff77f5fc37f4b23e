"""Coarse head pose (yaw, pitch, roll) from 68 2D landmarks and a generic 3D mean face.

    from helpers.inference.pose import head_pose, pose_axes
    pose = head_pose(face.points, (width, height))   # pose.yaw, pose.pitch, pose.roll (degrees)
    axes = pose_axes(pose, (width, height))          # (4, 2): nose, then the x, y, z axis ends

Coarse: one mean shape for every face, no expression and an assumed camera. Landmark-plus-
mean-model pose errs by roughly 8-16 degrees on benchmarks (the Hopenet paper, arXiv
1710.00925), so it suits frontal-or-not, "looking left" and drawing an axis, not gaze or AR.

The 3D mean face. From SPIGA (Prados-Torreblanca, Buenaposada and Baumela, BMVC 2022),
github.com/andresprados/SPIGA, file spiga/data/models3D/mean_face_3D_98.txt (commit
3db8da83902872710a6ecbcb888ddeb4346615e7), BSD 3-Clause License, Copyright (c) 2022, aprados.
That file gives the 98 WFLW points, one per line in WFLW order. The 68 iBUG 300-W points are
the WFLW points of the standard WFLW -> 300-W index map (WFLW_TO_300W below): every second jaw
point 0, 2, ..., 32; the upper edge of each brow, 33-37 and 42-46; the nose, 51-59; the eye
corners and the lid points beside the lid middles, 60 61 63 64 65 67 and 68 69 71 72 73 75; and
the whole mouth, 76-95. SPIGA's own 68-point file (data/models3D/mean_face_3D_68.txt, commit
80a665e045b55b23e6a2ba70fae2e39d4992a74c, matched to 300-W order by the ldm_ids of its
data/annotations/300wpublic/db_info.json) agrees with this selection to 1e-11. The numbers are
SPIGA's, rounded to 6 decimals; the code here is this package's own.

Frame of the shape (model frame): right-handed, x toward the image's right on a frontal face
(the face's own left), y up (brows above the chin), z out of the face toward the camera. Origin
at the nose tip (point 30, exactly (0, 0, 0) in SPIGA's data). Units are SPIGA's: 0.84 between
the outer eye corners and 1.42 across the jaw, so roughly decimetres on an adult face; the
translation of a Pose is in these units. At import the shape is made exactly left-right
symmetric (averaged with its mirror image, which moves no point by more than 0.051 units), so
a mirrored photo gives exactly the mirrored pose.

Camera: a pinhole with focal length max(W, H) pixels, the principal point at the image centre
((W - 1) / 2, (H - 1) / 2) in this package's convention (integer values at pixel centres), no
distortion. Camera frame: x to the image's right, y up the image, z toward the viewer, so the
camera looks along -z and a face in front of it has translation z < 0 (the OpenGL convention;
a frontal face has rotation = identity). A model point X lands at camera point R X + t.

Angles, in degrees, with R = Rz(-roll) @ Ry(yaw) @ Rx(-pitch) (rotations about the camera's
axes: pitch first, then yaw, then roll in the image plane):
- yaw > 0: the face turns toward the image's right (its nose moves right of its eyes' middle;
  that is the person's own left).
- pitch > 0: the face looks up (the nose tip moves up toward the eyes).
- roll > 0: the head tilts clockwise in the image (the image-right eye, 42-47, drops below the
  image-left eye, 36-41).

Only the rigid points are fitted: the nose 27-35, the eye corners 36, 39, 42, 45 and the mouth
corners 48, 54; the jaw and the lids and lips move with expression. The fit starts from the
closed-form scaled-orthographic solution (the affine camera's nearest rotation, by SVD) and
refines the rotation vector and translation by least squares on the perspective reprojection
error in pixels (scipy.optimize.least_squares).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

# SPIGA's mean face (see the module doc), in 300-W order, model frame, before symmetrising.
# Its licence, which its redistribution here keeps:
#
# BSD 3-Clause License
#
# Copyright (c) 2022, aprados
# All rights reserved.
#
# Redistribution and use in source and binary forms, with or without
# modification, are permitted provided that the following conditions are met:
#
# 1. Redistributions of source code must retain the above copyright notice, this
#    list of conditions and the following disclaimer.
#
# 2. Redistributions in binary form must reproduce the above copyright notice,
#    this list of conditions and the following disclaimer in the documentation
#    and/or other materials provided with the distribution.
#
# 3. Neither the name of the copyright holder nor the names of its
#    contributors may be used to endorse or promote products derived from
#    this software without specific prior written permission.
#
# THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
# AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
# IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
# DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
# FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
# DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
# SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
# CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
# OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
# OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
# fmt: off
_SPIGA_68 = np.array([
    (-0.710461, 0.393345, -0.853184), (-0.685410, 0.169751, -0.878623),  # jaw 0-16
    (-0.607672, -0.059797, -0.922355), (-0.545665, -0.262499, -0.920837),
    (-0.446215, -0.439045, -0.863139), (-0.334436, -0.566050, -0.728913),
    (-0.236168, -0.653698, -0.585459), (-0.128307, -0.712045, -0.488222),
    (-0.003548, -0.737996, -0.461364), (0.131199, -0.733136, -0.466262),
    (0.257374, -0.666488, -0.560782), (0.359824, -0.569595, -0.666665),
    (0.455879, -0.475273, -0.762200), (0.583151, -0.255441, -0.895445),
    (0.635035, -0.076593, -0.925025), (0.688563, 0.127096, -0.906247),
    (0.711883, 0.332170, -0.901990),
    (-0.552169, 0.483792, -0.466457), (-0.459811, 0.561780, -0.308161),  # brows 17-26
    (-0.360179, 0.566291, -0.216753), (-0.249770, 0.530337, -0.148695),
    (-0.101941, 0.482472, -0.124216), (0.097976, 0.465936, -0.131674),
    (0.214281, 0.497130, -0.135681), (0.373011, 0.520379, -0.223000),
    (0.501607, 0.500371, -0.319252), (0.573625, 0.457842, -0.465084),
    (0.008435, 0.416311, -0.139142), (0.007312, 0.267156, -0.106472),  # nose 27-35
    (0.001902, 0.142360, -0.054454), (0.000000, 0.000000, 0.000000),
    (-0.118903, -0.079278, -0.235538), (-0.050430, -0.104665, -0.171210),
    (0.003127, -0.111845, -0.154139), (0.068754, -0.099546, -0.173275),
    (0.148989, -0.073785, -0.238513),
    (-0.406303, 0.360389, -0.383328), (-0.344774, 0.384294, -0.310254),  # eye 36-41
    (-0.261522, 0.396021, -0.286645), (-0.160788, 0.371046, -0.330243),
    (-0.245622, 0.334422, -0.323106), (-0.328092, 0.331973, -0.339943),
    (0.163881, 0.340747, -0.314141), (0.250845, 0.392491, -0.279031),  # eye 42-47
    (0.340770, 0.378981, -0.285842), (0.432352, 0.348665, -0.377158),
    (0.333468, 0.328034, -0.318531), (0.246621, 0.335053, -0.313137),
    (-0.222983, -0.277628, -0.354306), (-0.157063, -0.248738, -0.270219),  # outer lip 48-59
    (-0.081635, -0.236185, -0.225238), (-0.003916, -0.244998, -0.212610),
    (0.062942, -0.230775, -0.208501), (0.135508, -0.240646, -0.235471),
    (0.240381, -0.283710, -0.332282), (0.143707, -0.329461, -0.283978),
    (0.084140, -0.355355, -0.256464), (0.008137, -0.360357, -0.250423),
    (-0.077826, -0.349041, -0.269661), (-0.157112, -0.311972, -0.322384),
    (-0.182660, -0.278378, -0.341171), (-0.075943, -0.283520, -0.270854),  # inner lip 60-67
    (-0.002670, -0.286918, -0.254428), (0.068506, -0.285631, -0.257846),
    (0.194170, -0.279641, -0.314606), (0.068986, -0.288077, -0.258697),
    (-0.002739, -0.289157, -0.256229), (-0.076699, -0.286312, -0.273028),
])

# Index i of the 68 points is WFLW point WFLW_TO_300W[i] (the standard 98 -> 68 map).
WFLW_TO_300W = np.array([
    *range(0, 33, 2), 33, 34, 35, 36, 37, 42, 43, 44, 45, 46, *range(51, 60),
    60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75, *range(76, 96),
])

# The 300-W left-right swap: point i of a face is point MIRROR_68[i] of its mirror image.
MIRROR_68 = np.array([
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
    27, 28, 29, 30, 35, 34, 33, 32, 31,
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
    64, 63, 62, 61, 60, 67, 66, 65,
])
# fmt: on

# The points the pose is fitted to: nose, eye corners, mouth corners (not the jaw).
RIGID = np.array([27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45, 48, 54])
NOSE_TIP = 30


def _symmetric(shape: np.ndarray) -> np.ndarray:
    """The shape averaged with its mirror image (x negated, left and right swapped)."""
    mirrored = shape[MIRROR_68] * np.array([-1.0, 1.0, 1.0])
    return (shape + mirrored) / 2


MEAN_FACE_3D = _symmetric(_SPIGA_68)
MEAN_FACE_3D.setflags(write=False)


@dataclass(frozen=True)
class Pose:
    """A head pose: angles in degrees (see the module doc for the signs), the rotation and
    translation that take the model frame to the camera frame, and the rms reprojection error
    in pixels over the rigid points."""

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray
    translation: np.ndarray
    rms_px: float


def camera_matrix(image_size: tuple[int, int]) -> tuple[float, float, float]:
    """The assumed pinhole camera (focal, cx, cy) in pixels for an image of size (W, H)."""
    width, height = image_size
    return float(max(width, height)), (width - 1) / 2, (height - 1) / 2


def project(
    points3d: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray,
    image_size: tuple[int, int],
) -> np.ndarray:
    """Model-frame points (N, 3) to image pixels (N, 2) through the assumed camera."""
    focal, cx, cy = camera_matrix(image_size)
    camera = np.asarray(points3d, dtype=np.float64) @ np.asarray(rotation).T + translation
    depth = -camera[:, 2]  # distance in front of the camera, which looks along -z
    return np.stack([cx + focal * camera[:, 0] / depth, cy - focal * camera[:, 1] / depth], axis=1)


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation matrix of the documented yaw, pitch and roll (degrees)."""
    return Rotation.from_euler("ZYX", [-roll, yaw, -pitch], degrees=True).as_matrix()


def angles_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation matrix; the inverse of rotation_from_angles."""
    z, y, x = Rotation.from_matrix(rotation).as_euler("ZYX", degrees=True)
    return float(y), float(-x), float(-z)


def _check(points: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The points as float64 (68, 2), or ValueError for a wrong shape, NaN or a bad size."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"head_pose needs 68 points (68, 2), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("head_pose needs finite points; got NaN or infinity")
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"image_size must be (W, H), both positive; got {image_size}")
    return points


def _normalised(points: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Pixels to camera-plane coordinates at unit depth (x right, y up)."""
    focal, cx, cy = camera_matrix(image_size)
    return np.stack([points[:, 0] - cx, cy - points[:, 1]], axis=1) / focal


def _orthographic_start(model: np.ndarray, plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form scaled-orthographic pose (R, t) of model (N, 3) seen at plane (N, 2)."""
    model_mean, plane_mean = model.mean(0), plane.mean(0)
    affine = np.linalg.lstsq(model - model_mean, plane - plane_mean, rcond=None)[0].T  # 2x3
    u, s, vt = np.linalg.svd(affine, full_matrices=False)
    if not s.min() > 1e-9 * max(s.max(), 1e-300):
        raise ValueError("head_pose needs the rigid points spread out, not on one point or line")
    rows = u @ vt  # the nearest pair of orthonormal rows
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    scale = s.mean()  # focal-normalised: 1 / depth of the model's centroid
    centroid = np.array([plane_mean[0] / scale, plane_mean[1] / scale, -1 / scale])
    return rotation, centroid - rotation @ model_mean


def _residuals(
    params: np.ndarray, model: np.ndarray, points: np.ndarray, image_size: tuple[int, int]
) -> np.ndarray:
    """Reprojection error in pixels, flattened, for params (rotation vector, translation)."""
    rotation = Rotation.from_rotvec(params[:3]).as_matrix()
    return (project(model, rotation, params[3:], image_size) - points).ravel()


def orthographic_pose(
    points: np.ndarray, image_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form (rotation, translation) of 68 points under scaled orthography: head_pose's
    start, exact in the limit of a face far from the camera."""
    points = _check(points, image_size)[RIGID]
    return _orthographic_start(MEAN_FACE_3D[RIGID], _normalised(points, image_size))


def head_pose(points: np.ndarray, image_size: tuple[int, int]) -> Pose:
    """The head pose of one face's 68 points (x, y) in an image of size (W, H)."""
    rotation, translation = orthographic_pose(points, image_size)
    points, model = np.asarray(points, dtype=np.float64)[RIGID], MEAN_FACE_3D[RIGID]
    start = np.concatenate([Rotation.from_matrix(rotation).as_rotvec(), translation])
    fit = least_squares(_residuals, start, method="lm", args=(model, points, image_size))
    rotation = Rotation.from_rotvec(fit.x[:3]).as_matrix()
    rms = float(np.sqrt((fit.fun.reshape(-1, 2) ** 2).sum(1).mean()))
    yaw, pitch, roll = angles_from_rotation(rotation)
    return Pose(yaw, pitch, roll, rotation, fit.x[3:].copy(), rms)


def pose_axes(pose: Pose, image_size: tuple[int, int], length: float = 0.5) -> np.ndarray:
    """Pixels (4, 2) of the nose tip and the ends of the model's x, y and z axes, for drawing.

    `length` is in model units (about 0.84 between the outer eye corners): x points to the
    face's own left, y up the face, z out of the face along the nose."""
    ends = np.vstack([np.zeros(3), length * np.eye(3)]) + MEAN_FACE_3D[NOSE_TIP]
    return project(ends, pose.rotation, pose.translation, image_size)
