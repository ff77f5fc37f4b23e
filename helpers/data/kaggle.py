"""The course's Kaggle submission: one row per coordinate, Id = 136*i + 2*k + (0 x, 1 y)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HEADER = ("Id", "Predicted")


def validate_points(points: np.ndarray, boxes: np.ndarray, num_points: int = 68) -> None:
    """Check shape, finiteness and that each face's points lie near its box; raise if not.

    boxes are the faces' (left, top, width, height) in original-image pixels: points left in
    crop coordinates, or given to the wrong face, land far from them.
    """
    points, boxes = np.asarray(points), np.asarray(boxes, dtype=np.float64)
    if points.shape != (len(boxes), num_points, 2):
        raise ValueError(
            f"expected points of shape {(len(boxes), num_points, 2)}, got {points.shape}"
        )
    if not np.isfinite(points).all():
        raise ValueError("predictions contain NaN or infinity")
    side = boxes[:, None, 2:].max(-1, keepdims=True)
    low, high = boxes[:, None, :2] - side, boxes[:, None, :2] + boxes[:, None, 2:] + side
    if ((points < low) | (points > high)).any():
        raise ValueError("predictions lie far outside their face boxes: were they mapped back?")


def submission_rows(points: np.ndarray) -> list[tuple[int, float]]:
    """(Id, value) rows in Id order for predictions of shape (N, K, 2)."""
    flat = np.asarray(points, dtype=np.float64).reshape(-1)
    return [(i, float(v)) for i, v in enumerate(flat)]


def write_submission(points: np.ndarray, boxes: np.ndarray, path: Path) -> Path:
    """Validate the predictions, then write the CSV; nothing is written if they are invalid."""
    validate_points(points, boxes)
    rows = submission_rows(points)
    if [r[0] for r in rows] != list(range(len(boxes) * 136)):
        raise ValueError("submission ids are not 0 .. 136*N-1 in order")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows((i, f"{v:.3f}") for i, v in rows)
    return path


def read_submission(path: Path) -> np.ndarray:
    """Read a submission back as (N, 68, 2), checking its header and ids."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        if tuple(next(reader)) != HEADER:
            raise ValueError(f"{path}: header must be {','.join(HEADER)}")
        rows = [(int(i), float(v)) for i, v in reader]
    ids = [i for i, _ in rows]
    if ids != list(range(len(rows))) or len(rows) % 136:
        raise ValueError(f"{path}: ids must run 0 .. 136*N-1 in order")
    return np.array([v for _, v in rows]).reshape(-1, 68, 2)
