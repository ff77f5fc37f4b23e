"""The write-up page: built from results/ and figures/ alone, committed up to date, and clean in a
real browser (every image loads, no console errors)."""

import json

import numpy as np
import pytest
from skimage import io

from helpers.config import REPO_ROOT
from helpers.reports import browser, tables, writeup


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


@pytest.mark.parametrize("page", tables.PAGES)
def test_every_generated_table_is_the_one_its_record_gives(page):
    # python -m helpers writeup --docs rewrites them; a record that changed must show there
    text = (REPO_ROOT / page).read_text()
    assert tables.sync(text) == text, f"{page}: run python -m helpers writeup --docs"


def test_a_table_follows_a_changed_record_and_says_when_its_record_is_missing(tmp_path):
    import shutil

    for folder in ("results", "models"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    card = json.loads((tmp_path / "models" / "landmarks68.json").read_text())
    card["val_nme"] = 0.01234
    (tmp_path / "models" / "landmarks68.json").write_text(json.dumps(card))
    page = "<!-- table:results -->\nold\n<!-- /table:results -->"
    assert "**1.234% NME**" in tables.sync(page, tmp_path)
    (tmp_path / "results" / "benchmark_memory.json").unlink(missing_ok=True)
    page = "<!-- table:memory -->\nold\n<!-- /table:memory -->"
    assert "run `python -m helpers benchmark --memory`" in tables.sync(page, tmp_path)
    with pytest.raises(ValueError, match="no table named 'nonsense'"):
        tables.sync("<!-- table:nonsense -->\n\n<!-- /table:nonsense -->")


# Every number in the README's prose (outside code and the generated table) is either measured,
# and then read here from its record, or a fixed fact listed with what it is.
README_MEASURED = {
    "221": ("ibug", "val_faces", "{}"),
    "375": ("video_fast", "frames", "{}"),
    "103.3": ("video_fast", "fps_end_to_end_640x480", "{:.1f}"),
    "4.4": ("video_fast", "smoothing_cuts_jitter_by", "{:.1f}"),
    "18.5": ("pack", "megabytes", "{:.1f}"),
}
README_FIXED = {
    "68",
    "300",
    "58",
    "240",
    "40",  # the datasets: 68 and 58 points, 300-W, IMM's 240 photos of 40
    "3.11",  # the Python version
    "640",
    "480",  # IMM's photo size, where its errors are measured
    "1",
    "2",
    "3",
    "4",
    "0",
    "05",  # parts, exit codes, batch 1, 2 cores, notebook numbers
    "0.12",  # predict.DEFAULT_THRESHOLD, checked below
    "22",
    "10",
    "1319",
    "1331",
    "2003",
    "2013",
    "47",
    "2016",
    "2012",
    "2022",  # the citations
}


def test_every_number_in_the_readme_prose_comes_from_a_record_or_is_a_fixed_fact():
    import re

    from helpers.config import REPO_ROOT
    from helpers.inference.predict import DEFAULT_THRESHOLD

    text = (REPO_ROOT / "README.md").read_text()
    prose = tables.BLOCK.sub("", text)
    prose = re.sub(r"```.*?```", "", prose, flags=re.S)
    prose = re.sub(r"<[^>]*>", "", prose)  # HTML tags: an image's width is markup, not a claim
    numbers = set(re.findall(r"(?<![\w/.-])(\d[\d,]*(?:\.\d+)?)", prose))
    numbers = {n.rstrip(",") for n in numbers}
    unexplained = numbers - set(README_MEASURED) - README_FIXED
    assert not unexplained, f"numbers with no record: {sorted(unexplained)}"
    for number, (name, key, fmt) in README_MEASURED.items():
        record = json.loads((REPO_ROOT / "results" / f"{name}.json").read_text())
        assert fmt.format(record[key]) == number, (name, key, record[key])
    assert f"(default\n{DEFAULT_THRESHOLD})" in prose or f"(default {DEFAULT_THRESHOLD})" in prose
