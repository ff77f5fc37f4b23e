"""Photos with their faces drawn on them, saved to files with matplotlib's object API (no
pyplot), so drawing never touches the plotting backend of a running notebook."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


def annotate(image: np.ndarray, faces: Sequence, path: Path) -> None:
    """Save the image with each face's box (yellow) and landmarks (red) drawn on it; faces are
    anything with .box (left, top, width, height) and .points (K, 2)."""
    fig = Figure(figsize=(8, 8 * image.shape[0] / image.shape[1]))
    ax = fig.add_subplot()
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    for face in faces:
        box = face.box
        ax.add_patch(Rectangle(box[:2], box[2], box[3], fill=False, color="yellow", lw=1.5))
        size = max(4, box[2] / 40)
        ax.scatter(*face.points.T, s=size, c="red", edgecolors="white", linewidths=0.3)
    ax.set_axis_off()
    fig.savefig(path, dpi=100, bbox_inches="tight")


def mark_points(frame: np.ndarray, points: np.ndarray, colour=(255, 40, 40), radius=2) -> None:
    """Draw points on a uint8 RGB frame in place as small squares: fast enough for video,
    where a matplotlib figure per frame is not."""
    height, width = frame.shape[:2]
    for x, y in np.round(points).astype(int):
        x0, x1 = max(x - radius, 0), min(x + radius + 1, width)
        y0, y1 = max(y - radius, 0), min(y + radius + 1, height)
        if x0 < x1 and y0 < y1:
            frame[y0:y1, x0:x1] = colour
