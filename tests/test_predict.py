"""The predict command: a face, a photo with no face and an unreadable file in one call."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from factories import model_card
from skimage import data, io

from helpers import crop
from helpers.data import ibug
from helpers.images import read_photo
from helpers.inference import detect, modelfile, predict
from helpers.inference.modelfile import ModelSettings
from helpers.nets import models
from helpers.nets.models import LandmarkResNet


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """An untrained landmark model saved as the notebook saves one."""
    torch.manual_seed(0)
    model = LandmarkResNet(pretrained=False)
    settings = ModelSettings(
        model.architecture, "regression", 64, 1.5, 0.04, 3, tuple(range(68)), (0.0, 0.1, 1.1)
    )
    path = tmp_path_factory.mktemp("model") / "model.pt"
    return modelfile.save_landmarker(path, model, settings)


def test_checkpoint_round_trip(model_path):
    model, settings = modelfile.load_landmarker(model_path)
    assert settings.crop_size == 64 and settings.flip_perm == tuple(range(68))
    assert settings.detector_calibration == (0.0, 0.1, 1.1)
    out = model(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 68, 2)


def test_model_card_hash_is_checked_on_load(tmp_path):
    model = LandmarkResNet(pretrained=False)
    settings = ModelSettings(model.architecture, "regression", 64, 1.5, 0.0)
    path = modelfile.save_landmarker(tmp_path / "m.pt", model, settings)
    card = json.loads(modelfile.write_model_card(path, model_card(0.05)).read_text())
    assert card["sha256"] == modelfile.sha256_of(path) and card["weights"] == "m.pt"
    modelfile.load_landmarker(path)  # intact: loads
    with open(path, "r+b") as f:  # flip one byte in the middle of the weights
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(modelfile.ModelFileError, match="SHA-256 differs"):
        modelfile.load_landmarker(path)


def test_detector_finds_the_astronaut():
    boxes = detect.detect_faces(data.astronaut())
    assert len(boxes) >= 1
    left, top, width, _ = boxes[0]
    assert 150 < left + width / 2 < 270 and 50 < top < 140  # her face, not the flag or the suit


def test_no_face_and_unreadable_do_not_stop_the_others(model_path, tmp_path, capsys):
    io.imsave(tmp_path / "face.png", data.astronaut(), check_contrast=False)
    io.imsave(tmp_path / "blank.png", np.full((200, 300, 3), 128, np.uint8), check_contrast=False)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    photos = [tmp_path / n for n in ("blank.png", "broken.jpg", "face.png")]
    out = tmp_path / "out"
    code = predict.main([*map(str, photos), "--out", str(out), "--model", str(model_path)])
    err = capsys.readouterr().err
    assert code == predict.EXIT_FAILED  # one photo failed (and one had no face)
    assert "blank.png: no face found" in err
    assert "broken.jpg" in err and "unreadable" in err
    record = json.loads((out / "face_face0.json").read_text())
    assert np.array(record["points_xy"]).shape == (68, 2)
    assert (out / "face_face0.png").stat().st_size > 1000


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    code = predict.main(["x.jpg", "--out", str(tmp_path), "--model", str(tmp_path / "no.pt")])
    assert code == predict.EXIT_CANNOT_START
    assert "No model at" in capsys.readouterr().err


def test_unversioned_settings_are_refused_by_name(tmp_path):
    # Files written before ModelSettings (no version, no architecture) say why they cannot load.
    model = LandmarkResNet(pretrained=False)
    old = {"in_channels": 3, "crop_size": 64, "crop_factor": 1.5, "crop_shift": 0.0}
    torch.save({"model": model.state_dict(), "settings": old}, tmp_path / "old.pt")
    with pytest.raises(modelfile.ModelFileError, match="old.pt.*without a version"):
        with pytest.warns(UserWarning, match="unverified"):
            modelfile.load_landmarker(tmp_path / "old.pt", allow_unverified=True)


def test_settings_refuse_an_unknown_readout_and_a_newer_version():
    with pytest.raises(ValueError, match="unknown readout"):
        ModelSettings({"name": "UNet"}, "argmax", 64, 1.5, 0.0)
    with pytest.raises(ValueError, match="newer than this code"):
        ModelSettings.from_dict({"version": 99, "architecture": {}, "readout": "heatmap"})


def test_calibration_maps_detections_onto_reference_boxes():
    image = data.astronaut()
    [found, *_] = detect.detect_faces(image)
    reference = np.array([found[0] + 5, found[1] + 12, found[2] * 1.1, found[3] * 1.1])
    calibration, matched = detect.calibrate_on([(image, reference)])
    assert matched == 1
    np.testing.assert_allclose(detect.calibrate(found, calibration), reference, atol=1e-3)


def test_calibration_moves_by_detector_widths_and_gives_a_float32_square():
    # centre (30, 50) moves by (0.1, -0.05) widths of 40 to (34, 48); side 40 * 1.5 = 60
    box = np.array([10.0, 20.0, 40.0, 60.0])  # float64, as a reference box may be
    square = detect.calibrate(box, (0.1, -0.05, 1.5))
    assert square.dtype == np.float32
    np.testing.assert_allclose(square, [4.0, 18.0, 60.0, 60.0], atol=1e-5)


@pytest.mark.parametrize(
    "box, found",
    [
        ((20, 20, 60, 60), True),  # same face, a bit smaller
        ((0, 0, 100, 100), True),  # centre inside, 1.7x the size
        ((0, 0, 200, 200), False),  # centre inside, but 3.3x the size
        ((120, 20, 60, 60), False),  # centre outside the box
        ((40, 40, 20, 20), False),  # centre inside, but a third of the size
    ],
)
def test_detection_recall_criterion(box, found):
    reference = np.array([10, 10, 60, 60], float)
    assert detect.finds([np.array(box, float)], reference) is found
    assert not detect.finds([], reference)


def _unet_settings() -> ModelSettings:
    architecture = models.UNet(68, 3, width=4).architecture
    return ModelSettings(architecture, "heatmap", 64, 1.5, 0.04, 3, tuple(range(68)))


def test_a_heatmap_model_round_trips_and_predicts_points_in_the_image(tmp_path):
    torch.manual_seed(0)
    path = modelfile.save_landmarker(
        tmp_path / "hm.pt", models.UNet(68, 3, width=4).eval(), _unet_settings()
    )
    model, settings = modelfile.load_landmarker(path)
    box = np.array([150.0, 60.0, 120.0, 120.0])
    points, confidence = predict.Landmarker(model, settings).in_boxes(data.astronaut(), [box])
    assert points.shape == (1, 68, 2) and confidence.shape == (1, 68)
    assert ((confidence >= 0) & (confidence <= 1)).all()
    left, top, side = crop.crop_square(box, settings.crop_factor, settings.crop_shift)
    assert (points >= [left - 0.5, top - 0.5]).all()  # every point lies in the face's crop
    assert (points <= [left + side - 0.5, top + side - 0.5]).all()


def test_ship_replaces_a_model_only_by_a_better_one(tmp_path):
    path, model = tmp_path / "best.pt", models.UNet(68, 3, width=4)
    assert modelfile.ship(path, model, _unet_settings(), model_card(0.05))
    assert not modelfile.ship(path, model, _unet_settings(), model_card(0.06))
    assert json.loads(modelfile.card_path(path).read_text())["val_nme"] == 0.05
    assert modelfile.ship(path, model, _unet_settings(), model_card(0.04))
    modelfile.load_landmarker(path)  # the new card hashes the new weights


def test_saving_new_weights_drops_the_card_of_the_old_ones(tmp_path):
    path = tmp_path / "m.pt"
    modelfile.ship(path, models.UNet(68, 3, width=4), _unet_settings(), model_card(0.05))
    modelfile.save_landmarker(path, models.UNet(68, 3, width=4), _unet_settings())
    assert not modelfile.card_path(path).exists()
    modelfile.load_landmarker(path)  # no stale hash to trip over


def test_landmarker_finds_the_face_in_a_path_or_an_array(model_path, tmp_path):
    io.imsave(tmp_path / "astronaut.png", data.astronaut(), check_contrast=False)
    lm = predict.Landmarker.load(model_path)
    [from_path, *_] = lm(tmp_path / "astronaut.png")  # best score first
    [from_array, *_] = lm(data.astronaut())
    assert from_path.points.shape == (68, 2) and from_path.score > 0
    np.testing.assert_allclose(from_path.points, from_array.points)
    left, top, width, _ = from_path.box
    assert 150 < left + width / 2 < 270 and 50 < top < 140


def test_landmarker_batches_photos_and_gives_an_empty_list_without_a_face(model_path):
    lm = predict.Landmarker.load(model_path)
    blank = np.full((200, 300, 3), 128, np.uint8)
    one_by_one = [lm(data.astronaut()), lm(blank)]
    together = lm.batch([data.astronaut(), blank])
    assert together[1] == [] and len(together[0]) == len(one_by_one[0]) >= 1
    np.testing.assert_allclose(together[0][0].points, one_by_one[0][0].points, atol=1e-4)


def _two_astronauts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The astronaut, her mirror image (its first 24 columns cut), and both side by side in one
    1000x512 photo (the size detection runs at, so nothing is rescaled)."""
    photo = data.astronaut()
    mirrored = np.ascontiguousarray(photo[:, ::-1][:, 24:])
    return photo, mirrored, np.concatenate([photo, mirrored], 1)


def test_two_different_photos_batched_each_get_the_points_they_get_alone(model_path):
    photo, mirrored, _ = _two_astronauts()
    lm = predict.Landmarker.load(model_path)
    together = lm.batch([photo, mirrored])
    for faces, image in zip(together, (photo, mirrored), strict=True):
        alone = lm(image)
        assert len(faces) == len(alone) >= 1
        for face, face_alone in zip(faces, alone, strict=True):
            np.testing.assert_allclose(face.box, face_alone.box)
            np.testing.assert_allclose(face.points, face_alone.points, atol=1e-4)


def test_each_face_of_a_group_photo_gets_its_own_points_in_its_own_box_best_first():
    photo, _, group = _two_astronauts()
    lm = predict.Landmarker.load()  # the shipped model: its points lie on the face
    faces = lm(group)
    scores = [face.score for face in faces]
    assert len(faces) == 3 and scores == sorted(scores, reverse=True)  # two faces and a patch
    for face in faces:
        alone, confidence = lm.in_boxes(group, [face.box])
        np.testing.assert_allclose(face.points, alone[0], atol=1e-4)  # this box's points
        np.testing.assert_allclose(face.confidence, confidence[0], atol=1e-6)
    for face in faces[:2]:  # the two faces (the patch scores 0.23)
        left, top, width, height = face.box
        cx, cy = face.points.mean(0)
        assert left < cx < left + width and top < cy < top + height
    [left_face] = [face for face in faces if face.box[0] < 500]
    [face_alone] = lm(photo)
    np.testing.assert_allclose(left_face.box, face_alone.box)
    np.testing.assert_allclose(left_face.points, face_alone.points, atol=1e-4)


def test_landmarker_errors_name_the_photo(model_path, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    lm = predict.Landmarker.load(model_path)
    with pytest.raises(ValueError, match="broken.jpg"):
        lm(tmp_path / "broken.jpg")
    with pytest.raises(ValueError, match=r"^array: expected uint8 pixels, got float32"):
        lm(np.zeros((10, 10, 3), np.float32))


class _BrightnessModel(torch.nn.Module):
    """A stand-in landmark regressor: all 68 points at x = the crop's mean brightness (0 to 1),
    y = half the crop."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_frac = x.mean(dim=(1, 2, 3)) + 0.5  # model input is pixels / 255 - 0.5
        points = torch.stack([x_frac, torch.full_like(x_frac, 0.5)], -1)
        return points[:, None].expand(-1, 68, 2)


def _stub_settings(**changes) -> ModelSettings:
    settings = ModelSettings({"name": "stub"}, "regression", 16, 1.0, 0.0)
    return dataclasses.replace(settings, **changes)


def _fake_detector(found: dict):
    """Stands in for detect.detect: the boxes and scores listed for a photo's grey level."""

    def fake_detect(pixels, threshold, upsample=1):
        boxes, scores = found.get(int(pixels[0, 0, 0]), ([], []))
        return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)

    return fake_detect


def test_crops_shift_the_square_and_give_grey_crops_to_a_one_channel_model():
    red = np.zeros((60, 60, 3), np.uint8)
    red[..., 0] = 255
    box = np.array([10.0, 10.0, 20.0, 20.0])
    # factor 1, shift 0.25 of the height: the centre (20, 20) moves down to (20, 25)
    crops, squares = predict.Landmarker(_FixedModel(), _stub_settings(crop_shift=0.25)).crops(
        red, [box]
    )
    np.testing.assert_array_equal(squares, [[10, 15, 20]])
    assert crops.shape == (1, 3, 16, 16) and crops.dtype == torch.float32
    np.testing.assert_allclose(crops[0, :, 0, 0], [0.5, -0.5, -0.5])
    grey, _ = predict.Landmarker(_FixedModel(), _stub_settings(in_channels=1)).crops(red, [box])
    assert grey.shape == (1, 1, 16, 16)
    # ITU-R 601 luma of pure red: 0.299 * 255 = 76, as the model input 76 / 255 - 0.5
    np.testing.assert_allclose(grey[0, 0], -0.2, atol=1.5 / 255)


class _FixedModel(torch.nn.Module):
    """A stand-in regressor that puts point k at (k / 100, k / 200) whatever the image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.arange(68, dtype=torch.float32)
        return torch.stack([k / 100, k / 200], -1).expand(len(x), 68, 2)


def test_from_crops_averages_in_the_mirror_when_the_settings_carry_a_flip_perm():
    # squares of side 16 at the origin: image pixels = crop pixels = fraction * 16 - 0.5
    crops, squares = torch.zeros(2, 3, 16, 16), np.float32([[0, 0, 16]] * 2)
    k = np.arange(68)
    lm = predict.Landmarker(_FixedModel(), _stub_settings())
    points, confidence = lm.from_crops(crops, squares)
    plain = (points + 0.5) / 16
    assert confidence is None  # a regressor has none
    np.testing.assert_allclose(plain[1], np.stack([k / 100, k / 200], -1), atol=1e-6)
    reverse = tuple(range(67, -1, -1))
    lm = predict.Landmarker(_FixedModel(), _stub_settings(flip_perm=reverse))
    mirrored = (lm.from_crops(crops, squares)[0] + 0.5) / 16
    # point k averages (k/100, k/200) with point 67-k mirrored: (1 - (67-k)/100, (67-k)/200)
    expected = np.stack([(2 * k + 33) / 200, np.full(68, 67 / 400)], -1)
    np.testing.assert_allclose(mirrored[0], expected, atol=1e-6)


def test_batch_refuses_an_unknown_errors_mode_by_name():
    lm = predict.Landmarker(_BrightnessModel(), _stub_settings())
    with pytest.raises(ValueError, match=r"errors must be 'raise' or 'keep', got 'skip'"):
        lm.batch([np.zeros((10, 10, 3), np.uint8)], errors="skip")


def test_a_batch_of_no_photos_or_only_failing_ones_returns_what_it_has(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"x")
    lm = predict.Landmarker(_BrightnessModel(), _stub_settings())
    assert lm.batch([]) == []
    [kept] = lm.batch([tmp_path / "broken.jpg"], errors="keep")
    assert isinstance(kept, ValueError) and "broken.jpg" in str(kept)


def test_batch_gives_each_face_of_each_photo_its_own_points_and_score(monkeypatch):
    # grey levels 51, 102 and 204 put x at 0.2, 0.4 and 0.8 of each face's square
    found = {
        51: ([[10, 10, 40, 40]], [1.5]),
        102: ([[10, 10, 40, 40], [50, 50, 40, 40]], [2.0, 0.5]),
        204: ([[50, 10, 40, 40]], [0.25]),
    }
    monkeypatch.setattr(predict, "detect", _fake_detector(found))
    photos = [np.full((100, 100, 3), v, np.uint8) for v in (51, 0, 102, 204)]
    lm = predict.Landmarker(_BrightnessModel(), _stub_settings(), batch_size=3)
    faces = lm.batch(photos)
    assert [len(f) for f in faces] == [1, 0, 2, 1]
    [a], [], [b, c], [d] = faces
    assert [a.score, b.score, c.score, d.score] == pytest.approx([1.5, 2.0, 0.5, 0.25])
    np.testing.assert_array_equal(c.box, [50, 50, 40, 40])
    # a point at fraction f of a square (left, top, side) lies at left + f * side - 0.5
    for face, x, y in ((a, 17.5, 29.5), (b, 25.5, 29.5), (c, 65.5, 69.5), (d, 81.5, 29.5)):
        assert face.points.shape == (68, 2)
        np.testing.assert_allclose(face.points, np.tile([x, y], (68, 1)), atol=1e-3)


def test_faces_found_on_a_reduced_copy_of_a_photo_file_come_back_in_its_pixels(
    tmp_path, monkeypatch
):
    path = tmp_path / "wide.png"
    io.imsave(path, np.full((1000, 2000, 3), 102, np.uint8), check_contrast=False)
    seen = []

    def fake_detect(pixels, threshold, upsample=1):
        seen.append(pixels.shape)
        return np.array([[100, 50, 200, 200]], np.float32), np.array([1.0], np.float32)

    monkeypatch.setattr(predict, "detect", fake_detect)
    [face] = predict.Landmarker(_BrightnessModel(), _stub_settings())(path)
    assert seen == [(500, 1000, 3)]  # detection ran on a copy half the size
    np.testing.assert_allclose(face.box, [200, 100, 400, 400])
    # grey 102 puts x at 0.4 of the square (200, 100, 400): 200 + 160 - 0.5
    np.testing.assert_allclose(face.points, np.tile([359.5, 299.5], (68, 1)), atol=1e-2)


def test_a_24_megapixel_photo_finds_its_face_at_the_right_scale(model_path):
    small = data.astronaut()  # 512x512: enlarged x8 into a 6000x4000 photo
    photo = np.zeros((4000, 6000, 3), np.uint8)
    photo[:4000, :4096] = np.kron(small, np.ones((8, 8, 1), np.uint8))[:4000]
    [face, *_] = predict.Landmarker.load(model_path)(photo)
    [small_face, *_] = predict.Landmarker.load(model_path)(small)
    np.testing.assert_allclose(face.box / 8, small_face.box, atol=12)


SHIPPED = sorted(modelfile.DEFAULT_MODEL.parent.glob("*.pt"))  # every model file in models/


def test_the_accurate_model_is_shipped():
    assert modelfile.DEFAULT_MODEL in SHIPPED


@pytest.mark.parametrize("mirrored", [True, False])
@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_models_reproduce_their_cards_validation_nme(data_root, mirrored, path):
    # End to end from the original images and boxes: the file, its settings and the crop
    # and readout code must give what the notebook or release measured (half precision aside).
    from helpers import geometry
    from helpers.images import read_image

    card = json.loads(modelfile.card_path(path).read_text())
    expected = card["val_nme"] if mirrored else card["val_nme_without_mirrored_prediction"]
    lm = predict.Landmarker.load(path, mirrored=mirrored)
    faces = ibug.load_xml(data_root / ibug.IBUG_DIR / ibug.TRAIN_XML)
    _, val = ibug.split_by_image(faces, 0.1, seed=0)
    pred = np.concatenate([lm.in_boxes(read_image(f.image_path), [f.box])[0] for f in val])
    nme = geometry.nme(pred, np.stack([f.points for f in val])).mean()
    assert abs(nme - expected) < 0.0005, (nme, expected)


def test_the_shipped_models_fit_the_size_limit_and_ship_refuses_a_larger_one(tmp_path):
    for path in SHIPPED:
        assert path.stat().st_size <= modelfile.MAX_SHIPPED_BYTES
    with pytest.raises(ValueError, match="over the shipped limit"):
        modelfile.ship(
            tmp_path / "big.pt", models.HeatmapResNet(pretrained=False), None, model_card(0.05)
        )


def test_fast_mode_skips_the_mirrored_prediction(model_path):
    assert predict.Landmarker.load(model_path).settings.flip_perm is not None
    assert predict.Landmarker.load(model_path, mirrored=False).settings.flip_perm is None


def test_four_threads_sharing_one_landmarker_get_exactly_the_sequential_faces(data_root):
    # dlib's detector is not thread-safe: one shared by every thread returned other calls'
    # faces (thousands for 24 photos), crashed or hung. Each thread now has its own.
    from concurrent.futures import ThreadPoolExecutor

    faces = ibug.load_xml(data_root / ibug.IBUG_DIR / ibug.TRAIN_XML, need_points=False)
    paths = sorted({f.image_path for f in faces})[::150][:12]
    photos = [read_photo(p) for p in paths] + [_two_astronauts()[2]]
    lm = predict.Landmarker.load(fast=True)
    alone = [lm(photo) for photo in photos]
    assert sum(map(len, alone)) >= len(photos)  # the photos do have faces
    orders = [list(range(k, len(photos))) + list(range(k)) for k in range(4)]  # rotated
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda order: {i: lm(photos[i]) for i in order}, orders * 2))
    for run in runs:
        for i, expected in enumerate(alone):
            assert len(run[i]) == len(expected), paths[i] if i < len(paths) else "group"
            for face, face_alone in zip(run[i], expected, strict=True):
                np.testing.assert_array_equal(face.box, face_alone.box)
                np.testing.assert_array_equal(face.points, face_alone.points)
                assert face.score == face_alone.score
