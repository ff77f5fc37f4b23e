"""Face detection for a person's own photos: scikit-image's LBP frontal-face cascade.

It ships with scikit-image, so it works offline. Its boxes are framed differently from the
dlib boxes the landmark model was trained on, so they are calibrated to them (see
fit_calibration) before cropping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage import color, data, feature, transform

DETECT_MAX_SIDE = 800  # detection runs on a copy downscaled to this size, for speed


def _cascade() -> feature.Cascade:
    """The frontal-face LBP cascade bundled with scikit-image."""
    return feature.Cascade(data.lbp_frontal_face_cascade_filename())


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def detect_faces(image: np.ndarray, min_relative_size: float = 0.6) -> list[np.ndarray]:
    """Face boxes (left, top, width, height) in image pixels, largest first.

    Boxes smaller than min_relative_size of the largest are dropped: the cascade's false
    alarms are mostly small patches of texture, while faces in one photo have similar sizes.
    """
    gray = color.rgb2gray(image[..., :3]) if image.ndim == 3 else image.astype(float) / 255
    scale = min(1.0, DETECT_MAX_SIDE / max(gray.shape))
    if scale < 1:
        gray = transform.rescale(gray, scale, anti_aliasing=True)
    side = min(gray.shape)
    raw = _cascade().detect_multi_scale(
        img=gray,
        scale_factor=1.1,
        step_ratio=1,
        min_size=(max(24, side // 12),) * 2,
        max_size=(side, side),
    )
    boxes = [np.array([d["c"], d["r"], d["width"], d["height"]], float) / scale for d in raw]
    boxes.sort(key=lambda b: -b[2])
    return [b for b in boxes if b[2] >= min_relative_size * boxes[0][2]]


def fit_calibration(detected: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> list[float]:
    """[dx, dy, scale]: median centre offset (in detector widths) and size ratio to reference."""
    det, ref = np.asarray(detected, float), np.asarray(reference, float)
    centre = lambda b: b[:, :2] + b[:, 2:] / 2  # noqa: E731
    offset = (centre(ref) - centre(det)) / det[:, 2:3]
    ratio = ref[:, 2] / det[:, 2]
    return [float(np.median(offset[:, 0])), float(np.median(offset[:, 1])), float(np.median(ratio))]


def calibrate(box: np.ndarray, calibration: Sequence[float]) -> np.ndarray:
    """A detector box moved and scaled to frame the face like the training boxes."""
    dx, dy, scale = calibration
    left, top, width, height = box
    cx, cy = left + width / 2 + dx * width, top + height / 2 + dy * width
    side = width * scale
    return np.array([cx - side / 2, cy - side / 2, side, side], dtype=np.float32)


def calibrate_on(images_and_boxes, min_iou: float = 0.3) -> tuple[list[float], int]:
    """Fit the calibration on (image, reference box) pairs; returns it and the pairs matched."""
    pairs = []
    for image, reference in images_and_boxes:
        found = detect_faces(image)
        best = max(found, key=lambda b: iou(b, reference), default=None)
        if best is not None and iou(best, reference) > min_iou:
            pairs.append((best, reference))
    if not pairs:
        return [0.0, 0.0, 1.0], 0
    return fit_calibration([p[0] for p in pairs], [p[1] for p in pairs]), len(pairs)


def finds(detections: Sequence[np.ndarray], reference: np.ndarray) -> bool:
    """Whether any detection finds a reference face: its centre lies inside the reference box
    and its size (square root of the area) is between 0.5x and 2x the box's."""
    left, top, width, height = reference
    for box in detections:
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        ratio = np.sqrt(box[2] * box[3] / (width * height))
        if left <= cx <= left + width and top <= cy <= top + height and 0.5 <= ratio <= 2:
            return True
    return False
