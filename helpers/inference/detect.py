"""Face detection for a person's own photos: dlib's HOG + linear SVM frontal-face detector.

dlib's detector made the 300-W training boxes, so its boxes frame faces exactly as the
landmark models expect (the calibration below measures this and stays near the identity).
Its model is compiled into the dlib wheel (`dlib-bin`, 4 MB): nothing downloads at run time.
On the 358 faces of the 300-W test XML it finds 95%+, where scikit-image's LBP cascade found
88% (python -m helpers benchmark --inference).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import dlib
import numpy as np

from .photos import DETECT_MAX_SIDE, downscale

UPSAMPLE = 1  # dlib upsamples once so faces down to about 40 px (of the copy) are found


_local = threading.local()


def _detector():
    """dlib's frontal-face detector (built into the library), one per thread: dlib's objects
    are not thread-safe, and one shared by several threads returns other calls' faces."""
    if not hasattr(_local, "detector"):
        _local.detector = dlib.get_frontal_face_detector()
    return _local.detector


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def detect(
    image: np.ndarray, threshold: float = 0.0, upsample: int = UPSAMPLE
) -> tuple[np.ndarray, np.ndarray]:
    """Face boxes (N, 4) as (left, top, width, height) in image pixels and their detector
    scores (N,), best first, for scores above `threshold`. `image` is uint8 RGB (H, W, 3) or
    grayscale (H, W); detection runs on a uint8 copy at most DETECT_MAX_SIDE px, upsampled
    `upsample` times (0: faces from about 80 px only, about 4 times faster)."""
    small, scale = downscale(image, DETECT_MAX_SIDE)
    rects, scores, _ = _detector().run(np.ascontiguousarray(small), upsample, threshold)
    boxes = np.array(
        [[r.left(), r.top(), r.width(), r.height()] for r in rects], dtype=np.float32
    ).reshape(-1, 4)
    order = np.argsort(scores)[::-1]
    return boxes[order] / scale, np.asarray(scores, dtype=np.float32)[order]


def detect_faces(image: np.ndarray) -> list[np.ndarray]:
    """Face boxes (left, top, width, height) in image pixels, best first."""
    return list(detect(image)[0])


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
