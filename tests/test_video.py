"""Video: the One Euro filter, the box from points, the tracker on a clip with ground truth,
and video files in and out."""

import csv
from pathlib import Path

import numpy as np
import pytest

from helpers import clip, ibug, predict, video
from helpers.config import dataset_dir


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
        if frame[0, 0, 0] == 0:
            return np.array([[50, 30, 60, 60]], np.float32), np.array([1.0])
        return np.zeros((0, 4), np.float32), np.zeros(0)

    points = np.stack(np.meshgrid(np.linspace(60, 100, 17), np.linspace(40, 80, 4)), -1)
    points = points.reshape(-1, 2)[:68].astype(np.float32)
    tracker = video.Tracker(landmarker)
    monkeypatch.setattr(video, "detect", fake_detect)
    monkeypatch.setattr(
        tracker, "_landmarks", lambda frame, box: (points, 0.9 if frame[0, 0, 0] == 0 else 0.1)
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

    def fake_landmarks(frame, box):
        crops.append(box)
        return placed[len(crops) - 1], 0.9

    def fake_detect(frame, threshold, upsample):
        if not crops:  # the face is found on the first frame only
            return np.array([[50, 30, 60, 60]], np.float32), np.array([1.0])
        return np.zeros((0, 4), np.float32), np.zeros(0)

    tracker = video.Tracker(landmarker)
    monkeypatch.setattr(video, "detect", fake_detect)
    monkeypatch.setattr(tracker, "_landmarks", fake_landmarks)
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
    assert len(rows) == 21 and len(rows[1]) == 3 + 136 and rows[1][2] == "1"  # detected first


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
    from helpers.modelfile import DEFAULT_MODEL, FAST_MODEL

    assert clip.output_suffix(DEFAULT_MODEL, mirrored=True) == ""
    assert clip.output_suffix(DEFAULT_MODEL, mirrored=False) == "_no_mirror"
    assert clip.output_suffix(FAST_MODEL, mirrored=False) == "_fast"
    assert clip.output_suffix(Path("mine/other.pt"), mirrored=True) == "_other_mirrored"
