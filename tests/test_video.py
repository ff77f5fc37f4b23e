"""Video: the One Euro filter, the box from points, the tracker on a clip with ground truth,
and video files in and out."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers.config import dataset_dir
from helpers.data import ibug
from helpers.inference import predict, video
from helpers.inference.modelfile import ModelSettings
from helpers.reports import clip


def test_one_euro_smooths_a_still_point_and_follows_a_moving_one():
    rng = np.random.default_rng(0)
    still = video.OneEuro()
    noisy = 100 + rng.normal(0, 0.2, (90, 1, 2))  # a still face's jitter: tenths of a pixel
    out = np.stack([still(x, i / 30) for i, x in enumerate(noisy)])
    assert out[30:].std() < 0.5 * noisy[30:].std()  # jitter cut
    moving = video.OneEuro()
    path = np.linspace(0, 300, 60)[:, None, None] * np.ones((1, 1, 2))  # 150 px/s
    lag = [float(np.abs(moving(x, i / 30) - x).max()) for i, x in enumerate(path)]
    assert max(lag[10:]) < 1  # fast motion raises the cutoff: little lag


def test_box_from_points_matches_the_training_boxes(data_root):
    faces = ibug.load_xml(dataset_dir(ibug.IBUG_DIR) / ibug.TRAIN_XML)
    train, _ = ibug.split_by_image(faces, 0.1, seed=0)
    boxes = np.stack([video.box_from_points(f.points) for f in train])
    truth = np.stack([f.box for f in train])
    centre = lambda b: b[:, :2] + b[:, 2:] / 2  # noqa: E731
    assert np.median(boxes[:, 2] / truth[:, 2]) == pytest.approx(1, abs=0.01)
    offset = (centre(boxes) - centre(truth)) / truth[:, 2:3]
    assert np.abs(np.median(offset, 0)).max() < 0.01


@pytest.fixture(scope="module")
def small_clip(data_root):
    """The validation clip's pan, away and return: about 100 frames."""
    whole = clip.clip_from_validation()
    keep = [i for i, s in enumerate(whole.segments) if s in ("pan", "away", "return", "settle")]
    return clip.Clip(
        [whole.frames[i] for i in keep], whole.truth[keep], [whole.segments[i] for i in keep]
    )


def test_the_tracker_follows_the_face_draws_nothing_when_it_is_gone_and_finds_it_again(small_clip):
    landmarker = predict.Landmarker.load(mirrored=False, runtime="torch")
    smoothed, _ = clip.run(small_clip, video.Tracker(landmarker, video.OneEuro()))
    raw, _ = clip.run(small_clip, video.Tracker(landmarker))
    result = clip.score(small_clip, smoothed)
    # measured on a 2-core Xeon: NME 2.95% smoothed (2.73% raw), found again on the first
    # frame the face is wholly back, no stale point while it is away (29 frames)
    assert result["nme"] < 0.035 and result["missed_frames"] == 0
    assert result["frames_gone"] == 29 and result["stale_frames"] == 0
    assert result["frames_to_find_again"] == 0
    # smoothing cuts the jitter of the still face after the return (measured 1.9x)
    assert clip.jitter(small_clip, raw, "settle") > 1.5 * clip.jitter(
        small_clip, smoothed, "settle"
    )


def test_with_no_face_the_detector_looks_at_every_third_frame_unless_told_every_frame():
    landmarker = predict.Landmarker.load(mirrored=False, runtime="torch")
    blank = np.full((120, 160, 3), 128, np.uint8)
    for tracker, expected in (
        (video.Tracker(landmarker), [True, False, False] * 3),
        (video.Tracker(landmarker, search_every=1), [True] * 9),
        (video.Tracker(landmarker, detect_every_frame=True, search_every=3), [True] * 9),
    ):
        steps = [tracker.step(blank, i / 30) for i in range(9)]
        assert [s.detected for s in steps] == expected
        assert all(s.face is None for s in steps)
    with pytest.raises(ValueError, match="search_every"):
        video.Tracker(landmarker, search_every=0)


def test_a_track_lost_is_looked_for_at_once_then_every_third_frame(monkeypatch):
    # Frame value 0 holds a face the detector finds and the model is sure of; on value 1
    # frames the detector finds nothing and the model's confidence is low.
    landmarker = predict.Landmarker.load(mirrored=False, runtime="torch")
    looked = []

    def fake_detect(frame, threshold, upsample):
        looked.append(int(frame[0, 0, 0]))
        assert upsample == video.VIDEO_UPSAMPLE  # video frames are searched at their own size
        if frame[0, 0, 0] == 0:
            return np.array([[50, 30, 60, 60]], np.float32), np.array([1.0])
        return np.zeros((0, 4), np.float32), np.zeros(0)

    points = np.stack(np.meshgrid(np.linspace(60, 100, 17), np.linspace(40, 80, 4)), -1)
    points = points.reshape(-1, 2)[:68].astype(np.float32)
    tracker = video.Tracker(landmarker)
    monkeypatch.setattr(predict, "detect", fake_detect)
    monkeypatch.setattr(
        landmarker,
        "in_boxes",
        lambda frame, boxes: (points[None], np.full((1, 68), 0.9 if frame[0, 0, 0] == 0 else 0.1)),
    )
    frames = [np.full((120, 160, 3), v, np.uint8) for v in (0, 1, 1, 1, 1, 1, 1)]
    steps = [tracker.step(frame, i / 30) for i, frame in enumerate(frames)]
    assert [s.face is not None for s in steps] == [True] + [False] * 6
    # frame 1: the track is lost and the detector looks at once; then it rests two frames
    assert [s.detected for s in steps] == [True, True, False, False, True, False, False]
    assert looked == [0, 1, 1]


def test_a_track_whose_box_leaves_the_frame_is_lost_not_kept(monkeypatch):
    # The model follows the face to the right edge of a 160x120 frame, then places the points
    # past it: the next crop, from those points, would be centred outside the frame.
    landmarker = predict.Landmarker.load(mirrored=False, runtime="torch")
    grid = np.stack(np.meshgrid(np.linspace(0, 40, 17), np.linspace(0, 40, 4)), -1)
    grid = grid.reshape(-1, 2)[:68].astype(np.float32)
    placed = [grid + [60, 40], grid + [170, 40], grid + [60, 40]]  # frames 0, 1, 2 (sure: 0.9)
    crops = []

    def fake_in_boxes(frame, boxes):
        crops.append(boxes[0])
        return placed[len(crops) - 1][None], np.full((1, 68), 0.9)

    def fake_detect(frame, threshold, upsample):
        if not crops:  # the face is found on the first frame only
            return np.array([[50, 30, 60, 60]], np.float32), np.array([1.0])
        return np.zeros((0, 4), np.float32), np.zeros(0)

    tracker = video.Tracker(landmarker)
    monkeypatch.setattr(predict, "detect", fake_detect)
    monkeypatch.setattr(landmarker, "in_boxes", fake_in_boxes)
    frame = np.zeros((120, 160, 3), np.uint8)
    steps = [tracker.step(frame, i / 30) for i in range(3)]
    assert [s.face is not None for s in steps] == [True, True, False]
    assert [s.detected for s in steps] == [True, False, True]  # lost, so looked for at once
    assert len(crops) == 2  # no crop was cut around the box outside the frame
    cx = steps[1].face.box[0] + steps[1].face.box[2] / 2
    assert 0 <= cx < 160  # the second crop still lay in the frame (from the first points)


def test_a_video_file_round_trips_and_the_command_writes_video_and_csv(small_clip, tmp_path):
    source = video.write_video(tmp_path / "in.mp4", small_clip.frames[:20], clip.FPS)
    frames = list(video.read_frames(source))
    assert len(frames) == 20 and frames[0][0].shape == (480, 640, 3)
    assert frames[1][1] == pytest.approx(1 / clip.FPS, abs=1e-3)
    out, points = tmp_path / "out.mp4", tmp_path / "points.csv"
    assert video.main([str(source), "--out", str(out), "--csv", str(points), "--no-mirror"]) == 0
    assert len(list(video.read_frames(out))) == 20
    rows = list(csv.reader(points.open()))
    assert rows[0] == video.CSV_HEADER and len(rows) == 21 and rows[1][2] == "1"  # detected first
    assert len(rows[1]) == len(video.CSV_HEADER) and 0 <= float(rows[1][3 + 136]) <= 1


def test_decoding_and_encoding_beside_the_tracking_give_the_same_points(small_clip, tmp_path):
    source = video.write_video(tmp_path / "in.mp4", small_clip.frames[:12], clip.FPS, overlap=True)
    landmarker = predict.Landmarker.load(mirrored=False, runtime="torch")
    rows = {}
    for overlap in (True, False):
        out, points = tmp_path / f"out{overlap}.mp4", tmp_path / f"points{overlap}.csv"
        frames = video.read_frames(source)
        counts = video.track(frames, video.Tracker(landmarker), out, points, overlap=overlap)
        assert counts["frames"] == 12 and len(list(video.read_frames(out))) == 12
        rows[overlap] = list(csv.reader(points.open()))
    assert rows[True] == rows[False]


def test_reading_ahead_keeps_the_order_raises_the_readers_error_and_stops_early():
    assert list(video.ahead(iter(range(50)), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise OSError("unreadable frame")

    with pytest.raises(OSError, match="unreadable"):
        list(video.ahead(broken()))
    closed = []

    def endless():
        try:
            yield from iter(int, 1)  # never ends
        finally:
            closed.append(True)

    reading = video.ahead(endless())
    assert next(reading) == 0
    reading.close()  # stops the reader's thread, which closes its source before this returns
    assert closed == [True]


def test_an_encoding_error_is_raised_not_lost(tmp_path):
    writer = video.BackgroundWriter(tmp_path / "out.mp4", 30)
    writer.write(np.zeros((480, 640, 3), np.uint8))
    writer.write(np.zeros((480, 640), np.uint8))  # no colour channels: the encoder fails
    with pytest.raises(ValueError, match="ndim"):  # rgb24: three channels
        writer.close()
    writer.close()  # closed: a second close does nothing


def test_a_missing_video_is_one_clear_line(tmp_path, capsys):
    assert video.main([str(tmp_path / "none.mp4")]) == 3
    assert "no such video file" in capsys.readouterr().err


def test_each_model_and_mirror_setting_writes_its_own_clip_results():
    from helpers.inference.modelfile import DEFAULT_MODEL, FAST_MODEL

    assert clip.output_suffix(DEFAULT_MODEL, mirrored=True) == ""
    assert clip.output_suffix(DEFAULT_MODEL, mirrored=False) == "_no_mirror"
    assert clip.output_suffix(FAST_MODEL, mirrored=False) == "_fast"
    assert clip.output_suffix(Path("mine/other.pt"), mirrored=True) == "_other_mirrored"


def test_one_euro_follows_the_formulas_of_casiez_roussel_and_vogel_point_by_point():
    # dt = 1/(2 pi) s, so alpha = 1/(1 + tau/dt) = fc/(fc + 1) for a cutoff fc in Hz: the
    # derivative's (d_cutoff 1 Hz by default) is 1/2. Point A moves (3, 4) px: filtered speed
    # (3, 4) pi px/s, |.| = 5 pi, cutoff 1 + 5 pi/pi = 6 Hz, alpha 6/7; point B moves (0, 1):
    # speed pi, cutoff 2 Hz, alpha 2/3. Each point's speed is its own (the norm over x, y).
    first = np.float32([[10, 20], [30, 40]])
    second = np.float32([[13, 24], [30, 41]])
    expected = np.float32([[10 + 3 * 6 / 7, 20 + 4 * 6 / 7], [30, 40 + 2 / 3]])
    for shape in ((2, 2), (1, 2, 2)):  # one face's points, or a batch of one face
        smooth = video.OneEuro(min_cutoff=1.0, beta=1 / math.pi)
        start = smooth(first.reshape(shape), 0.0)
        assert start.dtype == np.float32 and np.array_equal(start, first.reshape(shape))
        out = smooth(second.reshape(shape), 1 / (2 * math.pi))
        assert out.dtype == np.float32 and out.shape == shape
        np.testing.assert_allclose(out.reshape(2, 2), expected, rtol=1e-6)
    # beta 0: a fixed cutoff of 1/(2 pi) Hz, tau = 1 s, so at dt = 1 s each step goes halfway
    smooth = video.OneEuro(min_cutoff=1 / (2 * math.pi), beta=0.0)
    outs = [smooth(np.float64([[x, 0.0]]), t) for t, x in enumerate([0.0, 8.0, 8.0, 8.0])]
    assert [float(o[0, 0]) for o in outs] == pytest.approx([0, 4, 6, 7], abs=1e-5)


def test_one_euro_settles_exactly_on_a_point_that_stops_not_short_of_it():
    # float32 points (the tracker's) at 120 frames/s: a state kept in float32 would stop
    # moving about 2e-4 px short of 100.5, once each step is under half a float32 ulp
    smooth = video.OneEuro()
    smooth(np.float32([[100.0, 100.0]]), 0.0)
    for i in range(1, 1201):  # 10 s: the float64 state is within 1e-8 px of the point
        out = smooth(np.float32([[100.5, 100.0]]), i / 120)
    assert np.abs(out - [[100.5, 100.0]]).max() < 1e-5


def test_box_from_points_by_hand_and_for_points_all_in_one_place():
    ratio, dx, dy = video.BOX_FROM_POINTS  # side and centre offset, in units of the extent
    points = np.float32([[0, 0], [40, 90], [20, 45]])  # extent sqrt(40 * 90) = 60
    side = ratio * 60
    left, top = 20 + dx * 60 - side / 2, 45 + dy * 60 - side / 2
    box = video.box_from_points(points)
    assert box.dtype == np.float32 and box.shape == (4,)
    np.testing.assert_allclose(box, [left, top, side, side], atol=1e-4)
    # all points in one place: the extent is taken as 1 px, not 0 (a box, not a point)
    box = video.box_from_points(np.full((68, 2), [10, 20], np.float32))
    expected = [10 + dx - ratio / 2, 20 + dy - ratio / 2, ratio, ratio]
    np.testing.assert_allclose(box, expected, atol=1e-5)


def _hand_made_landmarker(readout: str, mirrored: bool) -> predict.Landmarker:
    """A two-point model with weights set by hand, on 32-px crops of twice the box. Heatmap:
    its maps are the crop's red and green channels (0 to 1). Regression: the points sit at
    fixed fractions of the crop, (0.25, 0.5) and (0.5, 0.75), whatever it shows."""
    if readout == "heatmap":
        model = nn.Conv2d(3, 2, kernel_size=1)
        weight, bias = torch.eye(2, 3)[:, :, None, None], torch.full((2,), 0.5)
    else:
        conv = nn.Conv2d(3, 4, kernel_size=32)
        model = nn.Sequential(conv, nn.Flatten(), nn.Unflatten(1, (2, 2)))
        weight, bias = torch.zeros(4, 3, 32, 32), torch.tensor([0.25, 0.5, 0.5, 0.75])
    conv = model if readout == "heatmap" else model[0]
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
    settings = ModelSettings(
        architecture={"name": "by hand"},
        readout=readout,
        crop_size=32,
        crop_factor=2.0,
        crop_shift=0.0,
        flip_perm=(1, 0),  # the mirror swaps the two points
    )
    return predict.Landmarker(model, settings, mirrored=mirrored)


def _dots(red=(70, 50), green=(85, 62), green_value=255) -> np.ndarray:
    """A black 160x120 frame with one red and one green pixel at (x, y)."""
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[red[1], red[0], 0] = 255
    frame[green[1], green[0], 1] = green_value
    return frame


def _detect_red(frame, threshold, upsample):
    """A stand-in detector: a 16-px box whose 32-px crop square starts 10 px above and to the
    left of the red pixel (the 1:1 crop of _dots' two points), score 2.5."""
    ys, xs = np.nonzero(frame[..., 0])
    if not len(xs):
        return np.zeros((0, 4), np.float32), np.zeros(0)
    return np.float32([[xs[0] - 2, ys[0] - 2, 16, 16]]), np.array([2.5])


BOX = np.float32([68, 48, 16, 16])  # _detect_red's box for _dots(): crop square (60, 40, 32)


def test_in_boxes_reads_the_points_and_their_confidence_from_the_model():
    frame = _dots(green_value=153)  # green's map peaks at 0.6
    points, confidence = _hand_made_landmarker("heatmap", False).in_boxes(frame, [BOX])
    assert points.dtype == np.float32 and points.shape == (1, 2, 2)
    np.testing.assert_array_equal(points[0], [[70, 50], [85, 62]])  # the peaks, 1:1 crop pixels
    np.testing.assert_allclose(confidence, [[1, 0.6]], atol=1e-6)  # each peak above the median
    # Mirrored: each map is averaged with the other's (the swap), so both hold the red pixel
    # at 0.5 and the green one at 0.3: both points go to the red pixel, sure at 0.5.
    points, confidence = _hand_made_landmarker("heatmap", True).in_boxes(frame, [BOX])
    np.testing.assert_array_equal(points[0], [[70, 50], [70, 50]])
    np.testing.assert_allclose(confidence, [[0.5, 0.5]], atol=1e-6)
    # A regressor has no confidence; fraction f of the crop is pixel 60 + 32 f - 0.5 (x),
    # 40 + 32 f - 0.5 (y). Mirrored, (1 - x) of the other point is averaged in.
    for mirrored, expected in (
        (False, [[67.5, 55.5], [75.5, 63.5]]),
        (True, [[71.5, 59.5], [79.5, 59.5]]),  # fractions (0.375, 0.625) and (0.625, 0.625)
    ):
        points, confidence = _hand_made_landmarker("regression", mirrored).in_boxes(frame, [BOX])
        assert confidence is None
        np.testing.assert_allclose(points[0], expected, atol=1e-5)


def test_a_detected_face_carries_the_models_points_and_the_detectors_box_and_score(
    monkeypatch,
):
    monkeypatch.setattr(predict, "detect", _detect_red)
    tracker = video.Tracker(_hand_made_landmarker("heatmap", False))
    step = tracker.step(_dots(green_value=153), 0.0)  # green's map peaks at 0.6
    assert step.detected is True
    np.testing.assert_array_equal(step.face.box, BOX)  # the calibration is (0, 0, 1): as found
    np.testing.assert_array_equal(step.face.points, [[70, 50], [85, 62]])
    assert step.face.score == 2.5
    np.testing.assert_allclose(step.face.confidence, [1, 0.6], atol=1e-6)  # for the CSV
    assert step.face.image_size == (160, 120)  # for the pose


def test_the_points_shown_are_smoothed_at_the_frames_times(monkeypatch):
    # beta 0 and a cutoff of 1/(2 pi) Hz: tau = 1 s, so a frame 1 s later goes halfway
    monkeypatch.setattr(predict, "detect", _detect_red)
    smooth = video.OneEuro(min_cutoff=1 / (2 * math.pi), beta=0.0)
    tracker = video.Tracker(
        _hand_made_landmarker("heatmap", False), smooth, detect_every_frame=True
    )
    first = tracker.step(_dots(), 0.0)
    np.testing.assert_array_equal(first.face.points, [[70, 50], [85, 62]])
    moved = tracker.step(_dots(red=(74, 52), green=(89, 64)), 1.0)
    np.testing.assert_allclose(moved.face.points, [[72, 51], [87, 63]], atol=1e-5)


def test_a_face_found_again_on_the_frame_it_was_lost_is_smoothed_from_there(monkeypatch):
    # Frame 1: the face jumps away; the crop from frame 0's points is black (confidence 0),
    # the detector finds it on that frame, and the smoothing starts again from its points.
    monkeypatch.setattr(predict, "detect", _detect_red)
    smooth = video.OneEuro(min_cutoff=1 / (2 * math.pi), beta=0.0)
    tracker = video.Tracker(_hand_made_landmarker("heatmap", False), smooth)
    away = _dots(red=(20, 20), green=(35, 32))
    steps = [tracker.step(frame, t) for t, frame in enumerate([_dots(), away, away])]
    assert [s.detected for s in steps] == [True, True, False]
    np.testing.assert_array_equal(steps[1].face.points, [[20, 20], [35, 32]])
    # frame 2 is tracked from frame 1's points (a 29-px crop resized to 32: near, not exact)
    np.testing.assert_allclose(steps[2].face.points, [[20, 20], [35, 32]], atol=0.5)


def test_a_box_is_kept_while_its_centre_lies_in_the_frame_and_lost_from_its_edge(monkeypatch):
    # A 160x120 frame: centres on the left and top edges (0) are in, on the right and bottom
    # ones (160, 120) out. A box lost this way ran the detector, which then rests two frames.
    landmarker = _hand_made_landmarker("regression", False)  # no confidence to lose it by
    frame = np.zeros((120, 160, 3), np.uint8)
    for centre, kept in (
        ((0, 60), True),
        ((80, 0), True),
        ((159.5, 119.5), True),
        ((160, 60), False),
        ((80, 120), False),
        ((-0.5, 60), False),
        ((80, -0.5), False),
    ):
        box = np.float32([[centre[0] - 8, centre[1] - 8, 16, 16]])
        monkeypatch.setattr(predict, "detect", lambda *_, box=box: (box, np.array([1.0])))
        tracker = video.Tracker(landmarker)
        if kept:
            step = tracker.step(frame, 0.0)
            assert step.face is not None and step.detected is True, centre
            np.testing.assert_array_equal(step.face.box, box[0])
        else:
            steps = [tracker.step(frame, i / 30) for i in range(3)]
            assert [(s.face, s.detected) for s in steps] == [
                (None, True),
                (None, False),
                (None, False),
            ], centre


def test_a_face_at_the_confidence_threshold_is_kept_and_one_below_it_lost(monkeypatch):
    monkeypatch.setattr(predict, "detect", _detect_red)
    landmarker = _hand_made_landmarker("heatmap", False)
    sure = video.Tracker(landmarker, min_confidence=1.0)
    assert sure.step(_dots(), 0.0).face is not None  # both peaks 1: confidence exactly 1.0
    unsure = video.Tracker(landmarker, min_confidence=1.0)
    steps = [unsure.step(_dots(green_value=153), i / 30) for i in range(3)]  # confidence 0.8
    # lost on a frame the detector ran: it rests for the next two
    assert [(s.face, s.detected) for s in steps] == [(None, True), (None, False), (None, False)]
