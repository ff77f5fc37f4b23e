"""The write-up page: built from results/ and figures/ alone, committed up to date, and clean in a
real browser (every image loads, no console errors)."""

import json

import numpy as np
import pytest
from skimage import io

from helpers.config import REPO_ROOT
from helpers.reports import browser, writeup


@pytest.fixture
def fake_root(tmp_path):
    """A results/ and figures/ folder with Part 1 alone, and one of its figures."""
    (tmp_path / "results").mkdir()
    (tmp_path / "figures").mkdir()
    results = {
        "val_mean_error_px": 12.345,
        "profile": "quick",
        "hardware": "CPU test",
        "notebook_seconds": 90,
        "settings": {"epochs": 4, "lr": 0.001},
    }
    (tmp_path / "results" / "nose_tip.json").write_text(json.dumps(results))
    image = np.zeros((20, 30, 3), np.uint8)
    io.imsave(tmp_path / "figures" / "01_nose_loss.png", image, check_contrast=False)
    return tmp_path


def test_numbers_come_from_results_and_missing_parts_say_not_run(fake_root):
    page = writeup.build(fake_root).read_text()
    assert "12.35 px" in page and "quick profile on CPU test" in page
    assert page.count("Not run yet") == len(writeup.PARTS) - 1  # only part 1 has results
    assert '<img src="../figures/01_nose_loss.png"' in page
    assert "01_nose_samples.png was not produced" in page  # listed, absent: said, not broken
    assert "<th>layer</th>" in page and "features.0" in page  # the model summary
    assert "http" not in page.lower()  # nothing to fetch: opens offline


def test_a_value_a_run_could_not_measure_says_so(fake_root):
    unet = {"name": "UNet", "num_points": 68, "in_channels": 3, "width": 4, "depth": 2, "stride": 4}
    release = {"onnx_ms_per_face_batch1": None, "architecture": unet, "settings": {"crop_size": 32}}
    (fake_root / "results" / "release.json").write_text(json.dumps(release))
    assert "not measured" in writeup.build(fake_root).read_text()


def test_committed_page_is_rebuilt_from_committed_results(tmp_path):
    fresh = writeup.build(REPO_ROOT, out=tmp_path / "index.html").read_text()
    committed = (REPO_ROOT / "writeup" / "index.html").read_text()
    assert fresh == committed, "writeup/index.html is stale: run python -m helpers writeup"


def test_committed_page_in_headless_chromium():
    try:
        seen = browser.check_page(REPO_ROOT / "writeup" / "index.html")
    except browser.BrowserUnavailable as err:
        pytest.skip(str(err))
    assert seen.images >= 20
    assert seen.broken_images == []
    assert seen.console_errors == []


def test_a_broken_image_is_caught(fake_root):
    page = writeup.build(fake_root)
    (fake_root / "figures" / "01_nose_loss.png").write_bytes(b"not a png")
    try:
        seen = browser.check_page(page)
    except browser.BrowserUnavailable as err:
        pytest.skip(str(err))
    assert seen.broken_images == ["../figures/01_nose_loss.png"]


def test_a_nested_value_is_read_by_its_path_and_a_missing_one_is_said():
    results = {"tracking, smoothed": {"nme": 0.0312}, "fps": None}
    assert writeup._value(results, "tracking, smoothed/nme", "pct") == "3.12%"
    assert writeup._value(results, "tracking, raw/nme", "pct") == "not reported"
    assert writeup._value(results, "fps", "fps") == "not measured"
