"""Head pose and the eye and mouth signals where people use them: on a face the Landmarker
finds, in the predict command's JSON and drawing, and in the video command's CSV, plot and
drawing; and on the ground-truth clip, the roll follows the clip's known rotation."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image
from skimage import data

from helpers.inference import predict, video
from helpers.reports import clip


@pytest.fixture(scope="module")
def whole_clip(data_root):
    return clip.clip_from_validation()


def test_the_roll_follows_the_clips_known_rotation(whole_clip):
    landmarker = predict.Landmarker.load(mirrored=False, runtime="torch")
    tracker = video.Tracker(landmarker)  # raw points: no smoothing lag
    angles = [degrees for _, (_, _, _, degrees) in clip.transforms()]
    rolls, turned = [], []
    for i, (frame, segment) in enumerate(zip(whole_clip.frames, whole_clip.segments, strict=True)):
        step = tracker.step(frame, i / clip.FPS)
        if segment in ("zoom back", "rotate", "rotate back", "upright") and step.face:
            rolls.append(step.face.pose.roll)
            turned.append(angles[i])
    rolls, turned = np.array(rolls), np.array(turned)
    assert len(rolls) >= 120 and turned.min() < -24 and turned.max() > 24
    # the clip turns the face counter-clockwise by `degrees`; roll is clockwise-positive
    level = np.median(rolls[np.abs(turned) < 0.5])
    assert np.abs((rolls - level) + turned).max() < 3.0


def _astronaut(path):
    Image.fromarray(data.astronaut()).save(path)
    return path


def test_a_found_face_has_a_pose_and_the_command_writes_and_draws_it(tmp_path):
    landmarker = predict.Landmarker.load(runtime="torch")
    face = landmarker(data.astronaut())[0]
    assert face.image_size == (512, 512)
    assert abs(face.pose.yaw) < 30 and abs(face.pose.pitch) < 30 and abs(face.pose.roll) < 20
    assert face.pose.rms_px < 5 and face.eye_aspect_ratios.shape == (2,)
    assert 0.15 < face.eye_aspect_ratios.min() and face.mouth_opening < 0.2  # open eyes, shut mouth
    photo = _astronaut(tmp_path / "astronaut.png")
    for flag, out in (([], tmp_path / "plain"), (["--pose"], tmp_path / "axes")):
        assert predict.main([str(photo), "--out", str(out), *flag]) == predict.EXIT_DONE
    record = json.loads((tmp_path / "plain" / "astronaut_face0.json").read_text())
    assert record["pose"]["yaw"] == round(face.pose.yaw, 1)
    assert len(record["eye_aspect_ratios"]) == 2 and "mouth_opening" in record
    plain, axes = (
        np.asarray(Image.open(tmp_path / d / "astronaut_face0.png")) for d in ("plain", "axes")
    )
    assert (plain != axes).any(-1).sum() > 200  # the axes were drawn
    with pytest.raises(ValueError, match="photo's size"):
        _ = predict.Face(face.box, face.points, face.score).pose


def test_the_video_csv_has_the_pose_eyes_and_mouth_and_a_plot_of_them(whole_clip, tmp_path, capsys):
    frames = whole_clip.frames[:30]
    source = video.write_video(tmp_path / "in.mp4", frames, clip.FPS)
    table = tmp_path / "points.csv"
    args = [str(source), "--out", str(tmp_path / "o.mp4"), "--csv", str(table), "--fast", "--pose"]
    assert video.main(args) == 0
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 30 and list(rows[0]) == video.CSV_HEADER
    seen = [r for r in rows if r["x0"]]
    assert seen and all(abs(float(r["roll"])) < 20 and float(r["ear_36_41"]) > 0.1 for r in seen)
    assert "0 blinks" in capsys.readouterr().out  # open eyes all along
    assert (tmp_path / "points_signals.png").stat().st_size > 5000
    empty = video.csv_row(3, 0.1, video.Step(None, True))
    assert len(empty) == len(video.CSV_HEADER) and empty[3:] == [""] * (len(empty) - 3)
    assert math.isclose(empty[1], 0.1)
