"""The predict command never loses or mixes results, and the API takes every photo shape.

Each test builds its bad input in a temporary folder."""

import json
import warnings

import numpy as np
import pytest
from factories import tiny_model_file
from PIL import Image
from skimage import data

from helpers.inference import modelfile, predict
from helpers.inference.photos import PhotoFile, as_rgb


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("m"))


def _photo(path, image=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(data.astronaut() if image is None else image).save(path)
    return path


def _run(model_path, out, *photos):
    return predict.main([*map(str, photos), "--out", str(out), "--model", str(model_path)])


def test_photos_that_share_a_stem_keep_their_own_results(model_path, tmp_path):
    photos = [_photo(tmp_path / d / "x.png") for d in ("a", "b", "c")]
    out = tmp_path / "out"
    assert _run(model_path, out, *photos) == predict.EXIT_DONE
    manifest = json.loads((out / "manifest.json").read_text())
    names = [r["name"] for r in manifest["photos"]]
    assert names == ["x", "x-2", "x-3"]
    assert [r["photo"] for r in manifest["photos"]] == [str(p) for p in photos]
    for record in manifest["photos"]:
        assert record["status"] == "done" and record["faces"] == 1
        for name in record["files"]:
            assert (out / name).is_file()
            if name.endswith(".json"):
                assert json.loads((out / name).read_text())["image"] == record["photo"]
    assert manifest["model_sha256"] == modelfile.sha256_of(model_path)


def test_a_rerun_replaces_the_stale_faces_of_the_same_photo(model_path, tmp_path):
    photo, out = _photo(tmp_path / "x.png"), tmp_path / "out"
    _run(model_path, out, photo)
    assert (out / "x_face0.json").exists()
    _photo(photo, np.full((300, 300, 3), 128, np.uint8))  # now the photo has no face
    assert _run(model_path, out, photo) == predict.EXIT_NO_FACE
    assert not list(out.glob("x_face*"))  # no old faces left that the new run did not find
    record = json.loads((out / "manifest.json").read_text())["photos"][0]
    assert record["status"] == "no face" and record["replaced"] == 2


def test_a_write_that_fails_half_way_leaves_nothing_of_that_photo(
    model_path, tmp_path, monkeypatch
):
    photo, out = _photo(tmp_path / "x.png"), tmp_path / "out"

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(predict, "annotate", disk_full)  # the JSON is written, then the PNG fails
    assert _run(model_path, out, photo) == predict.EXIT_FAILED
    assert sorted(p.name for p in out.iterdir()) == [".records", "manifest.json"]  # no faces
    record = json.loads((out / "manifest.json").read_text())["photos"][0]
    assert record["status"] == "failed" and "No space left" in record["error"]


def test_a_folder_with_no_photos_says_so(model_path, tmp_path, capsys):
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "notes.txt").write_text("not a photo")
    assert _run(model_path, tmp_path / "out", tmp_path / "album") == predict.EXIT_FAILED
    assert "album: a folder with no photos" in capsys.readouterr().err


def test_exit_codes_tell_no_face_from_failure(model_path, tmp_path):
    face, blank = (
        _photo(tmp_path / "f.png"),
        _photo(tmp_path / "b.png", np.full((200, 200, 3), 90, np.uint8)),
    )
    assert _run(model_path, tmp_path / "o1", face) == predict.EXIT_DONE
    assert _run(model_path, tmp_path / "o2", face, blank) == predict.EXIT_NO_FACE
    assert _run(model_path, tmp_path / "o3", face, tmp_path / "none.jpg") == predict.EXIT_FAILED


@pytest.mark.parametrize(
    "shape", [(512, 512), (512, 512, 1), (512, 512, 2), (512, 512, 3), (512, 512, 4)]
)
def test_every_photo_shape_is_accepted_and_finds_the_face(model_path, shape):
    grey, rgb = data.astronaut().mean(-1).astype(np.uint8), data.astronaut()
    image = {
        (512, 512): grey,
        (512, 512, 1): grey[..., None],
        (512, 512, 2): np.dstack([grey, np.full_like(grey, 255)]),
        (512, 512, 3): rgb,
        (512, 512, 4): np.dstack([rgb, np.full_like(grey, 255)]),
    }[shape]
    faces = predict.Landmarker.load(model_path)(image)
    assert len(faces) >= 1 and faces[0].points.shape == (68, 2)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 10, 5), np.uint8), "shape"),
        (np.zeros((2, 10, 10, 3), np.uint8), "shape"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
    ],
)
def test_other_arrays_are_refused_by_name(image, message):
    with pytest.raises(ValueError, match=message):
        as_rgb(image)


def test_alpha_is_laid_on_white_as_for_files():
    rgba = np.zeros((2, 2, 4), np.uint8)  # transparent black
    assert (as_rgb(rgba) == 255).all()


def test_batch_keeps_the_other_photos_when_one_fails(model_path, tmp_path):
    lm = predict.Landmarker.load(model_path)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    photos = [data.astronaut(), tmp_path / "broken.jpg", data.astronaut()]
    kept = lm.batch(photos, errors="keep")
    assert len(kept[0]) >= 1 and isinstance(kept[1], ValueError) and "broken.jpg" in str(kept[1])
    np.testing.assert_allclose(kept[2][0].points, kept[0][0].points)
    with pytest.raises(ValueError, match="broken.jpg"):
        lm.batch(photos)


def test_a_damaged_exif_block_is_reported(tmp_path):
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(data.astronaut()).save(path, exif=exif.tobytes())
    raw = path.read_bytes()
    start = raw.find(b"Exif\x00\x00") + 6
    path.write_bytes(raw[:start] + b"XX" + raw[start + 2 :])  # break the byte-order mark
    with pytest.warns(UserWarning, match="EXIF block is damaged"):
        PhotoFile(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PhotoFile(_photo(tmp_path / "fine.jpg"))  # an intact photo warns of nothing


def test_the_default_threshold_drops_the_astronauts_mission_patch(model_path):
    # dlib scores her face 1.16 and the patch on her suit 0.117 (a false face)
    assert len(predict.Landmarker.load(model_path)(data.astronaut())) == 1
    assert len(predict.Landmarker.load(model_path, threshold=0.0)(data.astronaut())) == 2
