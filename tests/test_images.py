"""Photos as a phone or an editor writes them: EXIF orientation and every common image mode."""

import numpy as np
import pytest
from PIL import Image

from helpers.images import ImageError, read_photo
from helpers.reports.demo import save_as_phone


def test_exif_orientation_is_applied(tmp_path):
    # A 'portrait' photo stored sideways, as phones do: upright 20 wide x 40 high with a white
    # band at the top; stored 40 wide x 20 high with orientation 6 ('rotate 90 clockwise').
    upright = np.zeros((40, 20, 3), np.uint8)
    upright[:10] = 255
    Image.fromarray(upright).save(tmp_path / "upright.png")
    phone = save_as_phone(tmp_path / "upright.png", tmp_path / "phone.jpg")
    with Image.open(phone) as stored:
        assert stored.size == (40, 20)  # what a reader that ignores the tag sees
    photo = read_photo(phone)
    assert photo.shape == (40, 20, 3)  # upright: taller than wide
    assert photo[:8].mean() > 200 and photo[-20:].mean() < 30  # white band at the top


def write(tmp_path, name, image: Image.Image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("grey16.png", lambda: Image.fromarray(np.full((8, 8), 65535, np.uint16)), 255),
        ("grey16_mid.png", lambda: Image.fromarray(np.full((8, 8), 32896, np.uint16)), 128),
        (
            "palette.png",
            lambda: Image.new("RGB", (8, 8), (200, 10, 10)).convert("P"),
            (200, 10, 10),
        ),
        ("grey_alpha.png", lambda: Image.new("LA", (8, 8), (0, 0)), 255),  # clear: white shows
        ("rgba.png", lambda: Image.new("RGBA", (8, 8), (0, 0, 255, 255)), (0, 0, 255)),
        ("cmyk.jpg", lambda: Image.new("CMYK", (8, 8), (0, 0, 0, 255)), 0),  # full black ink
        ("grey.jpg", lambda: Image.new("L", (8, 8), 90), 90),
    ],
)
def test_every_common_mode_becomes_uint8_rgb(tmp_path, name, make, expected):
    photo = read_photo(write(tmp_path, name, make()))
    assert photo.dtype == np.uint8 and photo.shape == (8, 8, 3)
    np.testing.assert_allclose(photo.reshape(-1, 3).mean(0), np.broadcast_to(expected, 3), atol=3)


def test_unsupported_and_broken_files_name_the_photo(tmp_path):
    floats = write(tmp_path, "depth.tiff", Image.fromarray(np.zeros((4, 4), np.float32)))
    with pytest.raises(ImageError, match="depth.tiff: image mode F is not supported"):
        read_photo(floats)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="broken.jpg: image is unreadable"):
        read_photo(tmp_path / "broken.jpg")
    with pytest.raises(ImageError, match="missing"):
        read_photo(tmp_path / "absent.jpg")
