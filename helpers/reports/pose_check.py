"""How well the head pose comes back: from synthetic faces with known angles, and as the roll
on the ground-truth clip's in-plane rotation.

Usage: python -m helpers pose-check

Synthetic: the 3D mean face turned over yaw and pitch -60 to 60 degrees and roll -45 to 45
(75 poses), projected into a 640x480 frame at two sizes, with 1 px of noise on every point;
the fit's error in each angle. Clip: the shipped models track the validation clip
(helpers.reports.clip) through its zoom and rotation, and each frame's roll change is compared
with the clip's known rotation; the release model's eye and mouth signals over the whole clip
are plotted. Writes results/pose.json and figures/clip_signals.png.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

from .. import plots
from ..config import figures_dir, relative
from ..inference.draw import plot_signals
from ..inference.modelfile import DEFAULT_MODEL, FAST_MODEL
from ..inference.pose import MEAN_FACE_3D, head_pose, project, rotation_from_angles
from ..inference.predict import Landmarker
from ..inference.signals import blinks
from . import clip

SIZE = (640, 480)
GRID = list(itertools.product((-60, -30, 0, 30, 60), (-60, -30, 0, 30, 60), (-45, 0, 45)))
TURNING = ("zoom back", "rotate", "rotate back", "upright")  # the clip's rotation, about level


def face_width(depth: float) -> float:
    """The jaw's width in pixels of a frontal mean face at this depth."""
    points = project(MEAN_FACE_3D, np.eye(3), np.array([0.0, 0.0, -depth]), SIZE)
    return float(np.ptp(points[:17, 0]))


def synthetic(depth: float, noise: float = 1.0, seed: int = 0) -> dict:
    """Each angle's mean and worst error (degrees) over GRID, with `noise` px on every point."""
    rng = np.random.default_rng(seed)
    errors = []
    for angles in GRID:
        rotation = rotation_from_angles(*angles)
        points = project(MEAN_FACE_3D, rotation, np.array([0.0, 0.0, -depth]), SIZE)
        pose = head_pose(points + rng.normal(0, noise, points.shape), SIZE)
        errors.append(np.abs(np.array([pose.yaw, pose.pitch, pose.roll]) - angles))
    errors = np.array(errors)
    names = ("yaw", "pitch", "roll")
    return {
        "face_width_px": round(face_width(depth)),
        "noise_px": noise,
        "poses": len(GRID),
        "mean_error": {n: round(float(e), 2) for n, e in zip(names, errors.mean(0), strict=True)},
        "worst_error": {n: round(float(e), 2) for n, e in zip(names, errors.max(0), strict=True)},
    }


def tracked(landmarker: Landmarker, whole: clip.Clip) -> list:
    """The tracker's face on every frame of the clip (None where it has none), unsmoothed."""
    from ..inference.video import Tracker

    tracker = Tracker(landmarker)
    return [tracker.step(frame, i / clip.FPS).face for i, frame in enumerate(whole.frames)]


def clip_roll(faces: list, whole: clip.Clip) -> dict:
    """The roll's error against the clip's known rotation, over the frames where it turns."""
    turned = [degrees for _, (_, _, _, degrees) in clip.transforms()]
    rolls, known = [], []
    for i, (face, segment) in enumerate(zip(faces, whole.segments, strict=True)):
        if segment in TURNING and face is not None:
            rolls.append(face.pose.roll)
            known.append(turned[i])
    rolls, known = np.array(rolls), np.array(known)
    level = np.median(rolls[np.abs(known) < 0.5])
    error = np.abs(rolls - level + known)  # the clip turns counter-clockwise; roll is clockwise
    return {
        "frames": len(rolls),
        "degrees_turned": [round(float(known.min()), 1), round(float(known.max()), 1)],
        "mean_roll_error": round(float(error.mean()), 2),
        "worst_roll_error": round(float(error.max()), 2),
    }


def signals_figure(faces: list) -> str:
    """figures/clip_signals.png: each eye's aspect ratio and the mouth's opening over the clip."""
    nan = np.full(2, np.nan)
    eyes = np.array([nan if f is None else f.eye_aspect_ratios for f in faces])
    mouth = np.array([np.nan if f is None else f.mouth_opening for f in faces])
    times = np.arange(len(faces)) / clip.FPS
    path = figures_dir() / "clip_signals.png"
    plot_signals(times, eyes, mouth, blinks(eyes, clip.FPS), path)
    return relative(path)


def main(argv: list[str] | None = None) -> int:
    """Measure the pose on synthetic faces and on the clip; write results/pose.json."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    record = {"synthetic": [synthetic(depth) for depth in (5.3, 2.65)]}
    for row in record["synthetic"]:
        print(f"synthetic, face {row['face_width_px']} px wide: worst {row['worst_error']}")
    whole = clip.clip_from_validation()
    record["clip"] = {}
    for name, path, fast in (("release UNet", DEFAULT_MODEL, False), ("fast", FAST_MODEL, True)):
        faces = tracked(Landmarker.load(path, fast=fast, runtime="torch"), whole)
        record["clip"][name] = clip_roll(faces, whole)
        print(f"clip, {name}: {record['clip'][name]}")
        if not fast:
            print(signals_figure(faces))
    print(plots.save_results("pose", record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
