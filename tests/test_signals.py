"""Eye and mouth signals: ratios of synthetic point sets with known answers, blinks found in
synthetic EAR sequences at known frames, and a shut and an open eye from the 300-W XML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.inference.signals import (
    CLOSE_EAR,
    OPEN_EAR,
    blinks,
    eye_aspect_ratios,
    mouth_opening,
)

FPS = 30.0


def _turn(points: np.ndarray, degrees: float, shift: tuple[float, float]) -> np.ndarray:
    """Points (K, 2) rotated about the origin and shifted: the ratios must not change."""
    a = np.radians(degrees)
    return points @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) + shift


def _eye(width: float, first: float, second: float) -> np.ndarray:
    """Six eye points p1..p6 whose lid gaps (p2-p6, p3-p5) are `first` and `second`."""
    return np.array(
        [
            (0, 0),
            (width / 3, -first / 2),
            (2 * width / 3, -second / 2),
            (width, 0),
            (2 * width / 3, second / 2),
            (width / 3, first / 2),
        ]
    )


def _face(ears: tuple[float, float] = (0.3, 0.3), gape: float = 0.0) -> np.ndarray:
    """68 points with the given eye aspect ratios and inner-lip gap over the eye distance 90."""
    points = np.zeros((68, 2))
    points[36:42] = _eye(30, 20 * ears[0], 40 * ears[0]) + (100, 100)
    points[42:48] = _eye(30, 40 * ears[1], 20 * ears[1]) + (160, 100)
    points[[61, 62, 63]] = [(125, 170), (145, 172), (165, 170)]
    points[[67, 66, 65]] = points[[61, 62, 63]] + [(0, 0.5 * gape), (0, 2 * gape), (0, 0.5 * gape)]
    points[[48, 54]] = [(110, 171), (180, 171)]
    return points


def test_eye_aspect_ratios_are_the_lid_gaps_over_twice_the_width():
    points = _face()
    points[36:42] = _eye(40, 10, 14)  # (10 + 14) / 80
    points[42:48] = _eye(25, 2, 3)  # (2 + 3) / 50
    assert eye_aspect_ratios(points) == pytest.approx([0.3, 0.1], abs=1e-12)
    turned = _turn(points, 35, (300, -40))
    assert eye_aspect_ratios(turned) == pytest.approx([0.3, 0.1], abs=1e-12)


def test_eye_aspect_ratios_keep_the_leading_axes():
    faces = np.stack([_face((e, e / 2)) for e in (0.3, 0.2, 0.1)])
    assert np.allclose(eye_aspect_ratios(faces), [[0.3, 0.15], [0.2, 0.1], [0.1, 0.05]])
    assert eye_aspect_ratios(np.stack([faces, faces])).shape == (2, 3, 2)


def test_mouth_opening_is_the_inner_lip_gap_over_the_eye_distance():
    points = _face()
    points[[36, 45]] = [(100, 100), (170, 100)]  # 70 apart
    points[[67, 66, 65]] = points[[61, 62, 63]] + [(0, 6), (0, 9), (0, 6)]  # mean gap 7
    assert mouth_opening(points) == pytest.approx(0.1, abs=1e-12)
    assert mouth_opening(_turn(points, -20, (5, 5))) == pytest.approx(0.1, abs=1e-12)
    closed = _face(gape=0.0)
    assert mouth_opening(closed) == 0.0
    points[[48, 54]] = [(0, 171), (400, 171)]  # a wider mouth (a smile) changes nothing
    assert mouth_opening(points) == pytest.approx(0.1, abs=1e-12)


def test_a_mouth_opening_rises_and_falls_at_known_frames():
    gapes = np.zeros(60)
    gapes[20:40] = np.concatenate([np.linspace(10, 30, 10), np.linspace(30, 10, 10)])
    rng = np.random.default_rng(0)
    faces = np.stack([_face(gape=g) for g in gapes]) + rng.normal(0, 0.2, (60, 68, 2))
    opening = mouth_opening(faces)
    assert np.array_equal(np.flatnonzero(opening > 0.05), np.arange(20, 40))
    assert opening.argmax() in (29, 30) and opening[29] > 0.3  # the widest, 30 px of 90


def _sequence(closures: list[tuple[int, int]], length: int = 400, seed: int = 0) -> np.ndarray:
    """A mean EAR of 0.3 with 0.005 noise, and 0.1 over each [start, end) frame range."""
    ear = 0.3 + np.random.default_rng(seed).normal(0, 0.005, length)
    for start, end in closures:
        ear[start:end] = 0.1 + np.random.default_rng(start).normal(0, 0.005, end - start)
    return ear


def test_blinks_are_found_at_their_frames_and_noise_long_closures_and_squints_are_not():
    ear = _sequence([(30, 36), (90, 94), (150, 151), (200, 245), (300, 303), (303, 306)])
    ear[120:126] = 0.225  # a squint, between the thresholds: no blink
    ear[303] = 0.23  # half-way open inside a closure: still one blink (hysteresis)
    ear[350:355] = [0.22, 0.15, 0.1, 0.15, 0.22]  # a smooth blink, open again at 355
    # 150: one frame (33 ms) is noise; 200-245: 1.5 s is a closure, not a blink
    assert blinks(ear, FPS) == [(30, 36), (90, 94), (300, 306), (351, 355)]
    assert len(blinks(ear, FPS, max_duration=2.0)) == 5
    assert len(blinks(ear, FPS, min_duration=0.0)) == 5


def test_per_eye_ratios_are_averaged_first():
    ear = _sequence([(30, 36)], length=60)
    per_eye = np.stack([ear - 0.05, ear + 0.05], axis=1)
    assert blinks(per_eye, FPS) == blinks(ear, FPS) == [(30, 36)]
    per_eye[30:36, 0] = 0.3  # one eye shut (a wink at mean 0.2 or more) is no blink
    assert blinks(per_eye, FPS) == []


def test_frames_without_a_face_are_skipped_up_to_a_gap():
    ear = _sequence([(30, 40), (90, 100), (150, 160)], length=240)
    ear[33:36] = np.nan  # three frames: the blink stands
    ear[92:96] = np.nan  # four frames: too long, dropped
    ear[180:200] = np.nan  # eyes open around a long gap: nothing
    assert blinks(ear, FPS) == [(30, 40), (150, 160)]
    assert blinks(ear, FPS, max_gap=4) == [(30, 40), (90, 100), (150, 160)]
    ear[150:152] = np.nan  # a gap at the start of the closure moves its first seen frame
    assert blinks(ear, FPS)[-1] == (152, 160)


def test_closures_cut_by_the_ends_of_the_sequence_are_not_blinks():
    ear = _sequence([(0, 5), (50, 56), (97, 100)], length=100)
    assert blinks(ear, FPS) == [(50, 56)]
    ear[:3] = np.nan  # unseen at first, then shut: the start is still unknown
    assert blinks(ear, FPS) == [(50, 56)]


def test_a_shut_eye_in_300w_has_a_lower_ratio_than_an_open_one(data_root):
    from helpers.data import ibug

    folder = data_root / ibug.IBUG_DIR
    by_image = {f.image_path.relative_to(folder): f for f in ibug.load_xml(folder / ibug.TRAIN_XML)}
    shut = by_image[Path("helen/trainset/11329920_1.jpg")]  # a laughing child, both eyes shut
    wide = by_image[Path("afw/2316734819_1.jpg")]  # a child looking at the camera
    shut_ear, open_ear = eye_aspect_ratios(shut.points), eye_aspect_ratios(wide.points)
    assert (shut_ear < 0.05).all() and (open_ear > 0.3).all()
    assert shut_ear.max() < CLOSE_EAR < OPEN_EAR < open_ear.min()


@pytest.mark.parametrize("points", [np.zeros((58, 2)), np.zeros((68,)), np.zeros((3, 68, 3))])
def test_points_of_the_wrong_shape_are_refused(points):
    with pytest.raises(ValueError, match="68 points"):
        eye_aspect_ratios(points)
    with pytest.raises(ValueError, match="68 points"):
        mouth_opening(points)


@pytest.mark.parametrize(
    ("ear", "kwargs", "message"),
    [
        (np.zeros((5, 3)), {}, "ear must be"),
        (np.zeros((5, 2, 2)), {}, "ear must be"),
        (np.zeros(5), {"fps": 0.0}, "fps > 0"),
        (np.zeros(5), {"close": 0.3, "open": 0.2}, "close <= open"),
        (np.zeros(5), {"min_duration": 1.0, "max_duration": 0.5}, "duration"),
        (np.zeros(5), {"max_gap": -1}, "max_gap"),
    ],
)
def test_bad_blink_arguments_are_refused(ear, kwargs, message):
    with pytest.raises(ValueError, match=message):
        blinks(ear, **{"fps": FPS, **kwargs})
