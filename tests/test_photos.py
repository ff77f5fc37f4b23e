"""Large photos are decoded reduced, and their crops still land where full-size crops do."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import crop
from helpers.inference import photos, predict
from helpers.reports import benchmark


def _large(tmp_path, fmt="JPEG", orientation=1, size=(6000, 4000)):
    path = benchmark.make_photo(tmp_path / f"big.{fmt.lower()}", size, fmt)
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.open(path).save(path, fmt, exif=exif.tobytes(), quality=90)
    return path


@pytest.mark.parametrize("fmt, orientation", [("JPEG", 1), ("JPEG", 6), ("PNG", 1), ("PNG", 8)])
def test_reduced_crops_match_full_size_crops(tmp_path, fmt, orientation):
    path = _large(tmp_path, fmt, orientation)
    photo = photos.PhotoFile(path)
    full = np.asarray(photo.image(1))  # upright, full size: what read_photo gives
    assert full.shape[1::-1] == photo.size
    squares = np.array([[600.0, 400.0, 2100.0], [-50.0, 3000.0, 1300.0]])  # one past the edge
    crops, cut = photo.face_crops(squares, 128)
    assert photo.usable_reduction(8) > 1 and (np.abs(cut - squares) <= 8).all()
    for face, square in zip(crops, cut, strict=True):
        reference = crop.crop_face(full, square, 128)
        assert np.abs(face.float() - reference.float()).mean() < 3  # grey levels of 255


def test_the_detection_copy_is_small_and_scaled(tmp_path):
    photo = photos.PhotoFile(_large(tmp_path))
    small, scale = photo.copy_at_most(1000)
    assert max(small.shape[:2]) == 1000 and small.dtype == np.uint8
    assert scale == pytest.approx(1000 / 6000)


def test_downscale_of_an_array_works_in_bands_and_keeps_uint8():
    array = np.random.default_rng(0).integers(0, 255, (3000, 2000, 3), dtype=np.uint8)
    small, scale = photos.downscale(array, 500)
    assert small.shape == (500, 333, 3) and small.dtype == np.uint8
    assert abs(float(small.mean()) - float(array.mean())) < 1


def test_the_memory_benchmark_measures_a_fresh_process(tmp_path):
    photo = benchmark.make_photo(tmp_path / "p.png", (512, 512), "PNG")
    megabytes, seconds, status = benchmark.peak_memory(photo)
    peak = "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    imports = subprocess.run(  # the same imports in a fresh process, and nothing more
        [sys.executable, "-c", f"from helpers.inference import predict; {peak}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    imports_mb = int(imports.stdout) / 1024
    # the model, the photo and one inference on top of the imports, in megabytes (measured: 766
    # MB of imports and 98 more on a 2-core Xeon); this test process's own peak is far larger
    assert imports_mb < megabytes < imports_mb + 500
    assert status == predict.EXIT_DONE and 0.05 < seconds < 120
