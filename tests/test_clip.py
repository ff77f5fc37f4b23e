"""The clip's measures on synthetic tracks with known answers: per-frame NME, missed and stale
frames, frames to find the face again, and jitter on the still stretch."""

import numpy as np
import pytest

from helpers.reports import clip

# A face whose outer eye corners (points 36 and 45) lie 100 px apart, the rest inside 100x100.
SHAPE = np.random.default_rng(0).uniform(0, 100, (68, 2)).astype(np.float32)
SHAPE[36], SHAPE[45] = (0, 50), (100, 50)
IN, PART, OUT = (200, 200), (590, 200), (700, 200)  # offsets: in the 640x480 frame, half, out


def _clip(segments, offsets) -> clip.Clip:
    truth = np.stack([SHAPE + o for o in offsets])
    return clip.Clip([np.zeros((480, 640, 3), np.uint8)] * len(truth), truth, segments)


def test_score_counts_errors_misses_stale_points_and_frames_to_find_the_face_again():
    segments = ["pan"] * 3 + ["leave"] + ["away"] * 2 + ["return"] * 4
    offsets = [IN, IN, IN, PART, OUT, OUT, PART, IN, IN, IN]
    track = _clip(segments, offsets)
    truth = track.truth
    predicted = [
        truth[0] + (3, 4),  # 5 px off at a 100 px eye distance: NME 0.05
        truth[1] + (3, 4),
        None,  # missed while the whole face is in the frame
        truth[3],  # half out of the frame: neither scored nor stale
        truth[4],  # drawn while the face is gone: stale
        None,
        None,
        truth[7] + (12, 16),  # back, but 20 px off (0.2): not found yet
        truth[8] + (0.6, 0.8),  # 0.01: found again, one frame after it was back
        truth[9],
    ]
    result = clip.score(track, predicted)
    assert result["nme"] == pytest.approx((0.05 + 0.05 + 0.2 + 0.01 + 0) / 5)
    assert result["nme_by_segment"] == {"pan": 0.05, "return": pytest.approx(0.07)}
    assert result["frames_with_face"] == 6 and result["missed_frames"] == 1
    assert result["frames_gone"] == 2 and result["stale_frames"] == 1
    assert result["frames_to_find_again"] == 1


def test_jitter_is_the_rms_frame_to_frame_motion_on_the_still_stretch_over_the_eye_distance():
    segments = ["pan"] * 2 + ["still"] * 5 + ["settle"]
    track = _clip(segments, [IN] * 8)
    moved = [50, 50, 0, 3, 3, 7, None, 40]  # x offsets of the points; None: no face
    predicted = [None if m is None else track.truth[i] + (m, 0) for i, m in enumerate(moved)]
    # still frames 2-6: moves of 3, 0 and 4 px; the step from the pan, and those to or from
    # a frame without a face, do not count
    expected = np.sqrt((3**2 + 0**2 + 4**2) / 3) / 100
    assert clip.jitter(track, predicted) == pytest.approx(expected)
    assert clip.jitter(track, predicted, segment="pan") == pytest.approx(0.0)


def test_interocular_is_the_outer_eye_corner_distance_of_each_frame():
    points = np.zeros((2, 68, 2))
    points[0, 45] = (100, 0)
    points[1, 36], points[1, 45] = (10, 10), (40, 50)  # a 30-40-50 triangle
    np.testing.assert_allclose(clip.interocular(points), [100.0, 50.0])


def test_score_counts_to_the_end_of_the_clip_when_the_face_is_never_found_again():
    segments = ["pan"] * 2 + ["away"] + ["return"] * 3
    track = _clip(segments, [IN, IN, OUT, IN, IN, IN])
    truth = track.truth
    # a third of a pixel off at a 100 px eye distance: NME 0.00333..., recorded to 5 decimals
    predicted = [truth[0] + (1 / 3, 0), truth[1] + (1 / 3, 0), None]
    predicted += [truth[i] + (12, 16) for i in (3, 4, 5)]  # 20 px off (0.2): never found
    result = clip.score(track, predicted)
    assert result["nme_by_segment"] == {"pan": 0.00333, "return": 0.2}
    assert result["frames_to_find_again"] == 3  # back at frame 3, not found by the end (6)


def test_score_counts_the_face_found_again_at_exactly_8_percent_as_300w_counts_no_failure():
    shape = SHAPE.round().astype(np.float64)  # whole pixels, so 8 px over 100 px is exactly 0.08
    truth = np.stack([shape + o for o in (OUT, IN, IN)])
    track = clip.Clip([np.zeros((480, 640, 3), np.uint8)] * 3, truth, ["away"] + ["return"] * 2)
    predicted = [None, truth[1] + (8, 0), truth[2]]
    result = clip.score(track, predicted)
    assert result["nme_by_segment"]["return"] == 0.04
    assert result["frames_to_find_again"] == 0  # 0.08 is not a failure: failures are > 0.08


def test_jitter_skips_the_steps_to_and_from_a_frame_without_a_face():
    segments = ["still"] * 6
    track = _clip(segments, [IN] * 6)
    moved = [0, 3, None, 0, 4, 4]  # x offsets of the points; None: no face
    predicted = [None if m is None else track.truth[i] + (m, 0) for i, m in enumerate(moved)]
    # steps 0->1 (3 px), 3->4 (4 px) and 4->5 (0 px); 1->2 and 2->3 touch the missing frame
    expected = np.sqrt((3**2 + 4**2 + 0**2) / 3) / 100
    assert clip.jitter(track, predicted) == pytest.approx(expected)
