"""Pure keypoint geometry: resizing, crops, mirror permutations and errors.

All points follow the package convention (helpers.config): (x, y) pixels, integer values at
pixel centres. Sizes are (W, H).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def resize_points(points: np.ndarray, src_size: tuple[int, int], dst_size: tuple[int, int]):
    """Move points from an image of src_size to the same image resized to dst_size."""
    scale = np.asarray(dst_size, dtype=np.float64) / np.asarray(src_size, dtype=np.float64)
    return ((np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)


def box_to_crop(points: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Points in image pixels to a size x size crop of the square box (left, top, side)."""
    left, top, side = box
    return ((np.asarray(points) + 0.5 - [left, top]) * (size / side) - 0.5).astype(np.float32)


def crop_to_box(points: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Inverse of box_to_crop: crop pixels back to original-image pixels."""
    left, top, side = box
    return ((np.asarray(points) + 0.5) * (side / size) - 0.5 + [left, top]).astype(np.float32)


def mirror_points(points: np.ndarray, width: int) -> np.ndarray:
    """Mirror points left-right in an image of the given width (indices unchanged)."""
    out = np.array(points, dtype=np.float32, copy=True)
    out[..., 0] = width - 1 - out[..., 0]
    return out


def mirror_in_place(shape: np.ndarray) -> np.ndarray:
    """Mirror a (K, 2) shape about its own vertical axis (mean x), so it stays where it is."""
    return mirror_points(shape, 2 * np.asarray(shape)[:, 0].mean() + 1)


def mirror_permutation(mean_shape: np.ndarray) -> np.ndarray:
    """Index permutation that swaps left and right points, derived from a mean shape.

    Mirror the shape about its own vertical axis and match each mirrored point to the
    nearest original point with an optimal one-to-one assignment. perm[i] is the index
    that point i becomes after a horizontal flip.
    """
    shape = np.asarray(mean_shape, dtype=np.float64)
    mirrored = shape.copy()
    mirrored[:, 0] = 2 * shape[:, 0].mean() - shape[:, 0]
    cost = np.linalg.norm(mirrored[:, None, :] - shape[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(shape), dtype=np.int64)
    perm[rows] = cols
    if not np.array_equal(perm[perm], np.arange(len(shape))):
        raise ValueError("Derived mirror permutation is not an involution; check the mean shape")
    return perm


def point_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Euclidean distance per point, shape (..., K)."""
    return np.linalg.norm(np.asarray(pred) - np.asarray(true), axis=-1)


def normalized_errors(pred: np.ndarray, true: np.ndarray, left: int = 36, right: int = 45):
    """Per-point errors over each face's outer-eye-corner distance (iBUG 68: 36 and 45)."""
    true = np.asarray(true)
    interocular = np.linalg.norm(true[:, left] - true[:, right], axis=-1)
    return point_errors(pred, true) / interocular[:, None]


def nme(pred: np.ndarray, true: np.ndarray, left: int = 36, right: int = 45) -> np.ndarray:
    """Per-face normalised mean error: mean point error over the outer-eye-corner distance."""
    return normalized_errors(pred, true, left, right).mean(axis=-1)


def nme_by_group(pred: np.ndarray, true: np.ndarray, groups: dict[str, list[int]]) -> dict:
    """Mean NME of each named group of points."""
    errors = normalized_errors(pred, true)
    return {name: float(errors[:, idx].mean(1).mean()) for name, idx in groups.items()}


def ced(nmes: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative error distribution: the fraction of faces with NME <= each threshold."""
    nmes = np.asarray(nmes, dtype=np.float64)
    return (nmes[None, :] <= np.asarray(thresholds, dtype=np.float64)[:, None]).mean(axis=1)


def auc(nmes: np.ndarray, limit: float = 0.08) -> float:
    """Area under the CED curve from 0 to `limit`, over `limit` (1 is perfect, 0 all failed).

    Exact: each face contributes (limit - NME) / limit, or 0 beyond the limit.
    """
    nmes = np.asarray(nmes, dtype=np.float64)
    return float(np.clip(limit - nmes, 0, None).mean() / limit)


def failure_rate(nmes: np.ndarray, limit: float = 0.08) -> float:
    """The fraction of faces whose NME exceeds `limit` (8% is the 300-W convention)."""
    return float((np.asarray(nmes) > limit).mean())
