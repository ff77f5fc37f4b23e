"""Photos with their faces drawn on them, saved to files with matplotlib's object API (no
pyplot), so drawing never touches the plotting backend of a running notebook."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

AXIS_COLOURS = ("red", "lime", "deepskyblue")  # the head's x (to its left), y (up), z (forward)


def annotate(
    image: np.ndarray, faces: Sequence, path: Path, axes: Sequence[np.ndarray] = ()
) -> None:
    """Save the image with each face's box (yellow) and landmarks (red) drawn on it, and any
    head-pose axes (each (4, 2): the origin, then the x, y and z ends); faces are anything
    with .box (left, top, width, height) and .points (K, 2)."""
    fig = Figure(figsize=(8, 8 * image.shape[0] / image.shape[1]))
    ax = fig.add_subplot()
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    for face in faces:
        box = face.box
        ax.add_patch(Rectangle(box[:2], box[2], box[3], fill=False, color="yellow", lw=1.5))
        size = max(4, box[2] / 40)
        ax.scatter(*face.points.T, s=size, c="red", edgecolors="white", linewidths=0.3)
    for origin, *ends in axes:
        for end, colour in zip(ends, AXIS_COLOURS, strict=True):
            ax.plot(*np.stack([origin, end]).T, color=colour, lw=2.5, solid_capstyle="round")
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


AXIS_RGB = ((255, 40, 40), (40, 220, 40), (40, 160, 255))  # AXIS_COLOURS, for frames


def mark_axes(frame: np.ndarray, axes: np.ndarray, radius: int = 1) -> None:
    """Draw head-pose axes ((4, 2): the origin, then the x, y and z ends) on a uint8 RGB frame
    in place, each a line of small squares."""
    origin = axes[0]
    for end, colour in zip(axes[1:], AXIS_RGB, strict=True):
        steps = int(np.ceil(np.abs(end - origin).max())) + 1
        line = origin + np.linspace(0, 1, steps)[:, None] * (end - origin)
        mark_points(frame, line, colour, radius)


def plot_signals(
    times: np.ndarray, eyes: np.ndarray, mouth: np.ndarray, blinks, path: Path
) -> None:
    """Save each eye's aspect ratio and the mouth's opening over time, blinks shaded."""
    fig = Figure(figsize=(9, 4.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(times, eyes[:, 0], lw=1, label="eye 36-41")
    top.plot(times, eyes[:, 1], lw=1, label="eye 42-47")
    for first, after in blinks:
        end = times[min(after, len(times) - 1)]
        top.axvspan(times[first], end, color="orange", alpha=0.3, lw=0)
    top.set(ylabel="eye aspect ratio", title=f"Eyes ({len(blinks)} blinks shaded) and mouth")
    top.legend(loc="upper right")
    bottom.plot(times, mouth, lw=1, color="purple")
    bottom.set(xlabel="time (s)", ylabel="mouth opening")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
