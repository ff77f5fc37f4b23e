"""The browser demo (web/): built from the shipped models with every setting taken from the
package, and in headless Chromium its crops and points equal Python's on the same crops and
photos, its search finds faces without a detector, and its webcam path, fed the ground-truth
clip by Chromium's fake camera, tracks it as the Python tracker does."""

from __future__ import annotations

import base64
import http.client
import shutil

import numpy as np
import pytest

from helpers.crop import crop_face, crop_square
from helpers.images import read_image
from helpers.inference import video
from helpers.inference.modelfile import DEFAULT_MODEL, FAST_MODEL, load_landmarker
from helpers.inference.pose import MEAN_FACE_3D, RIGID, head_pose
from helpers.reports import browser, clip, web, web_check


def _require_page() -> None:
    """Skip (a failure under FKD_FAIL_ON_SKIP, as in CI) without Chromium or the runtime."""
    try:
        browser._executables()
        web._check_runtime()
    except (browser.BrowserUnavailable, FileNotFoundError) as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def demo():
    """The built page, served, in headless Chromium: (driver, served folder)."""
    _require_page()
    with web_check.page() as opened:
        yield opened


@pytest.fixture(scope="module")
def faces():
    return web_check.validation_faces(6)


def test_the_page_config_is_the_package_settings():
    config = web.page_config()
    _, settings = load_landmarker(DEFAULT_MODEL)
    unet = config["models"]["unet"]
    assert unet["crop_factor"] == settings.crop_factor and unet["crop_size"] == settings.crop_size
    assert unet["flip_perm"] == list(settings.flip_perm)
    assert config["tracker"]["box_from_points"] == list(video.BOX_FROM_POINTS)
    assert config["tracker"]["min_confidence"] == video.MIN_CONFIDENCE
    assert np.allclose(config["pose"]["rigid_model"], MEAN_FACE_3D[RIGID])


def test_the_build_refuses_a_changed_model_and_a_missing_runtime(tmp_path, monkeypatch):
    for path in (FAST_MODEL, FAST_MODEL.with_suffix(".json"), FAST_MODEL.with_suffix(".onnx")):
        shutil.copyfile(path, tmp_path / path.name)
    onnx = tmp_path / FAST_MODEL.with_suffix(".onnx").name
    data = bytearray(onnx.read_bytes())
    data[-10] ^= 1
    onnx.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="differs from its card"):
        web.model_entry(tmp_path / FAST_MODEL.name, "changed")
    monkeypatch.setattr(web, "RUNTIME_DIR", tmp_path / "nowhere" / "dist")
    with pytest.raises(FileNotFoundError, match="make web-deps"):
        web.build(tmp_path / "out")


def _status(port: int, path: str, host: str = "127.0.0.1") -> int:
    """The HTTP status the demo's server answers to a raw GET (nothing normalises the path)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", f"{host}:{port}")
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_server_serves_its_folders_and_nothing_else(tmp_path):
    (tmp_path / "index.html").write_text("<p>page</p>")
    (tmp_path / "ort").mkdir()
    server = web.serve(tmp_path, 0)
    port = server.server_address[1]
    try:
        assert _status(port, "/") == 200
        assert _status(port, "/writeup/index.html") == 200
        assert _status(port, "/ort/") == 404  # no folder listings
        for path in ("/writeup//etc/passwd", "/figures/../../README.md", "/figures/%2e%2e/LICENSE"):
            assert _status(port, path) == 404, path
        assert _status(port, "/", host="attacker.example") == 403  # DNS rebinding
    finally:
        server.shutdown()


def test_the_clip_survives_4_2_0_and_carries_its_frame_numbers():
    rng = np.random.default_rng(0)
    frame = (rng.uniform(40, 220, (48, 160, 3))).astype(np.uint8)  # 16 bits of 8 px fit
    frame[:] = frame.mean((0, 1), keepdims=True).astype(np.uint8)  # flat colour: no chroma loss
    for number in (0, 1, 977, 65535):
        back = clip.from_yuv420(clip.to_yuv420(clip.stamp(frame, number)), (160, 48))
        bits = [back[4, 8 * b + 4, 0] > 128 for b in range(clip.STAMP_BITS)]
        assert sum(bit << b for b, bit in enumerate(bits)) == number
        assert np.abs(back[8:].astype(int) - frame[8:]).max() <= 2


def test_the_page_crops_as_python_does(demo, faces):
    driver, root = demo
    _, settings = load_landmarker(DEFAULT_MODEL)
    for i, face in enumerate(faces[:3]):
        image = read_image(face.image_path)
        url = web_check.serve_photo(root, image, f"crop{i}")
        box = face.box.astype(float).tolist()
        found = web_check.call(driver, "fkd.crop(args[0], args[1], 'unet')", url, box)
        expected_square = crop_square(face.box, settings.crop_factor, settings.crop_shift)
        assert found["square"] == expected_square.tolist()
        size = settings.crop_size
        page = np.frombuffer(base64.b64decode(found["crop"]), np.uint8).reshape(size, size, 3)
        python = crop_face(image, expected_square, size).permute(1, 2, 0).numpy()
        assert np.array_equal(page, python)  # the same bytes: torch's whole-number arithmetic


@pytest.mark.parametrize("name", ["unet", "fast"])
@pytest.mark.parametrize("mirrored", [False, True])
def test_the_page_reads_crops_as_python_does(demo, faces, name, mirrored):
    driver, _ = demo
    crops = web_check.validation_crops(faces, name)
    page_points, page_conf = web_check.page_crop_points(driver, crops, name, mirrored)
    python_points, python_conf = web_check.python_crop_points(name, crops, mirrored)
    assert np.linalg.norm(page_points - python_points, axis=-1).max() < 0.05
    assert np.abs(page_conf - python_conf).max() < 1e-3


def test_the_page_places_points_in_a_photo_as_the_landmarker_does(demo, faces):
    driver, root = demo
    assert max(web_check.photo_differences(driver, root, faces[:2], "unet", mirrored=True)) < 0.5
    image = read_image(faces[0].image_path)
    url = web_check.serve_photo(root, image, "pose")
    box = faces[0].box.astype(float).tolist()
    found = web_check.call(driver, "fkd.photoPoints(args[0], [args[1]], 'unet', true)", url, box)
    points = np.reshape(found[0]["points"], (68, 2))
    pose = head_pose(points, (image.shape[1], image.shape[0]))
    page_pose = found[0]["pose"]
    for angle in ("yaw", "pitch", "roll"):
        assert page_pose[angle] == pytest.approx(getattr(pose, angle), abs=0.1)


def test_the_page_finds_faces_without_a_detector(demo, faces):
    driver, root = demo
    scores = web_check.search_scores(driver, root, faces[:3])
    assert scores["found_page"] == 1.0


def test_the_webcam_tracks_the_clip_as_the_python_tracker_does(tmp_path):
    _require_page()
    movie, y4m, seen = web_check.stamped_clip(tmp_path)
    tracked = web_check.page_tracking(y4m, len(seen))
    scores = web_check.tracking_scores(movie, tracked, web_check.python_tracking(seen, tracked))
    # how many frames the page keeps up with depends on the machine; what it finds on them must not
    assert scores["frames_scored"] >= 30, scores
    assert abs(scores["nme_page"] - scores["nme_python"]) < 0.003, scores
    assert scores["page_missed"] <= scores["python_missed"] + 1, scores
    # a confidence gate near its threshold can keep a track a few frames longer on one side
    assert scores["page_off"] <= scores["python_off"] + 10, scores
    assert tracked["fps"] > 0


def test_frames_are_compared_only_once_both_sides_have_tracked_since_their_last_search():
    page = [True, False, False, False, False, False, False, False]
    python = [True, False, False, True, False, False, False, False]
    settle = web_check.SETTLE
    assert settle == 5
    # a search on either side keeps that step and the next SETTLE - 1 out of the comparison
    assert web_check.settled(page, python) == [False] * 3 + [False] * 5
    assert web_check.settled(page[:1] + [False] * 9, [False] * 10) == [False] * 5 + [True] * 5
