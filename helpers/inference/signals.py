"""Eye and mouth signals from 68 iBUG 300-W points: eye aspect ratios, mouth opening, blinks.

    from helpers.inference.signals import blinks, eye_aspect_ratios, mouth_opening
    ear = eye_aspect_ratios(points)        # (T, 68, 2) -> (T, 2): eye 36-41, then eye 42-47
    gape = mouth_opening(points)           # (T, 68, 2) -> (T,)
    found = blinks(ear, fps=30.0)          # [(first closed frame, first open frame after), ...]

A frame with no face is a row of NaN points; its ratios are NaN, and blinks() skips it (see
there). The ratios are 2D and so shrink when the head turns or tilts away; they suit one person
facing the camera more than a comparison between people or poses.
"""

from __future__ import annotations

import numpy as np

# Each eye as Soukupova and Cech's p1..p6: outer or inner corner, two upper-lid points, the
# other corner, two lower-lid points (p2 above p6, p3 above p5).
EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
# The inner lips' facing pairs, upper then lower: 61-67, 62-66, 63-65.
INNER_LIPS = ((61, 67), (62, 66), (63, 65))
OUTER_EYE_CORNERS = (36, 45)

# Closed below 0.2: the usual threshold after Soukupova and Cech, "Real-Time Eye Blink Detection
# using Facial Landmarks" (CVWW 2016); published choices range from 0.18 to 0.3. Open again
# above 0.25, which leaves a band against noise and stays under most open eyes (the median of
# the 300-W training faces is 0.32, a quarter are below 0.27).
CLOSE_EAR, OPEN_EAR = 0.2, 0.25
# A blink lasts 100-400 ms (Harvard's BioNumbers) and the longest spontaneous ones about 500 ms
# (Stern, Walrath and Goldstein, Psychophysiology 1984); the eyes spend only part of it under
# the threshold. Shorter than 50 ms (one frame at 30 fps) is noise; longer than 0.5 s is a
# closure, not a blink.
MIN_BLINK_S, MAX_BLINK_S = 0.05, 0.5
# Frames with no face that a blink may span; a longer gap drops the closure it interrupts.
MAX_GAP_FRAMES = 3


def _check_points(points: np.ndarray) -> np.ndarray:
    """The points as float64 (..., 68, 2), or ValueError."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-2:] != (68, 2):
        raise ValueError(f"need 68 points (..., 68, 2), got shape {points.shape}")
    return points


def _distance(points: np.ndarray, a: int, b: int) -> np.ndarray:
    """Distance between points a and b of each face, shape (...)."""
    return np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)


def eye_aspect_ratios(points: np.ndarray) -> np.ndarray:
    """Soukupova and Cech's eye aspect ratio of each eye, (..., 68, 2) -> (..., 2): about 0.3
    open and near 0 shut, (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)."""
    points = _check_points(points)
    ratios = [
        (_distance(points, p2, p6) + _distance(points, p3, p5)) / (2 * _distance(points, p1, p4))
        for p1, p2, p3, p4, p5, p6 in EYES
    ]
    return np.stack(ratios, axis=-1)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap over the outer-eye-corner distance, (..., 68, 2) -> (...): 0 with the lips
    together. The eye distance rather than the mouth width, which a smile changes."""
    points = _check_points(points)
    gap = np.mean([_distance(points, a, b) for a, b in INNER_LIPS], axis=0)
    return gap / _distance(points, *OUTER_EYE_CORNERS)


def _mean_ear(ear: np.ndarray) -> np.ndarray:
    """A (T,) mean EAR from (T,) or per-eye (T, 2) ratios, or ValueError."""
    ear = np.asarray(ear, dtype=np.float64)
    if ear.ndim == 2 and ear.shape[1] == 2:
        return ear.mean(axis=1)  # NaN where either eye is NaN
    if ear.ndim != 1:
        raise ValueError(f"ear must be (T,) or (T, 2), got shape {ear.shape}")
    return ear


def blinks(
    ear: np.ndarray,
    fps: float,
    close: float = CLOSE_EAR,
    open: float = OPEN_EAR,
    min_duration: float = MIN_BLINK_S,
    max_duration: float = MAX_BLINK_S,
    max_gap: int = MAX_GAP_FRAMES,
) -> list[tuple[int, int]]:
    """Blinks in a sequence of eye aspect ratios, as (first closed frame, first open frame
    after), by hysteresis on the mean of both eyes.

    Eyes close when the EAR drops below `close` and open again when it rises above `open`.
    A closure counts when (end - start) / fps lies in [min_duration, max_duration] seconds.
    NaN frames (no face) are skipped: a closure may span up to `max_gap` of them in a row, and
    a longer gap drops it. A closure must start and end inside the sequence to count: eyes shut
    at the first frame, or after a long gap, wait for an open frame first.
    """
    values = _mean_ear(ear)
    if fps <= 0 or not close <= open or not 0 <= min_duration <= max_duration or max_gap < 0:
        raise ValueError("need fps > 0, close <= open, 0 <= min <= max duration, max_gap >= 0")
    found, start, state, gap = [], 0, "unknown", 0
    for frame, value in enumerate(values):
        if np.isnan(value):
            gap += 1
            if state == "closed" and gap > max_gap:
                state = "unknown"  # too long unseen: this closure's end is not known
            continue
        gap = 0
        if state == "unknown" and value >= close:
            state = "open"
        elif state == "open" and value < close:
            state, start = "closed", frame
        elif state == "closed" and value > open:
            state = "open"
            if min_duration <= (frame - start) / fps <= max_duration:
                found.append((start, frame))
    return found
