"""Reading image files, with errors that name the file.

Dataset images are read as they are stored (read_image). A person's photos go through
read_photo, which turns what phones and editors write into upright uint8 RGB: the EXIF
orientation is applied, and 16-bit, palette, grey, alpha and CMYK images are converted.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import io

ORIENTATION = 0x0112  # the EXIF tag
MAX_PHOTO_PIXELS = 100_000_000  # 100 megapixels; larger files are refused before decoding


class ImageError(ValueError):
    """A missing, unreadable or unsupported image file; the message names it."""


def read_image(path: Path | str) -> np.ndarray:
    """An image as uint8 (H, W[, C]); a clear error if it is missing or unreadable."""
    if not Path(path).is_file():
        raise ImageError(f"{path}: image file is missing")
    try:
        return io.imread(path)
    except Exception as err:  # skimage raises many types for corrupt files
        raise ImageError(f"{path}: image is unreadable ({err})") from err


def read_photo(path: Path | str) -> np.ndarray:
    """A photo as upright uint8 RGB (H, W, 3): EXIF orientation applied, any common mode
    converted; a clear error naming the file otherwise. Decoded once, at full resolution,
    with no float copy: memory is three bytes a pixel plus what a conversion needs."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ImageError(f"{path}: image file is missing")
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise ImageError(
                    f"{path}: {image.width}x{image.height} is over "
                    f"{MAX_PHOTO_PIXELS // 1_000_000} megapixels; downscale it first"
                )
            rgb = upright(to_rgb(image, path), exif_orientation(image, path))
        return np.array(rgb)  # writable; the PIL images are released after
    except ImageError:
        raise
    except Exception as err:  # Pillow raises many types for corrupt or truncated files
        raise ImageError(f"{path}: image is unreadable ({err})") from err


def exif_orientation(image: Image.Image, path: Path | str = "image") -> int:
    """The EXIF orientation (1-8; 1 when absent). A damaged EXIF block is said, not hidden:
    a sideways photo would then just find no face."""
    try:
        exif = image.getexif()
        orientation = int(exif.get(ORIENTATION, 1))
    except Exception:  # Pillow raises many types for a damaged EXIF block
        exif, orientation = {}, 1
    if image.info.get("exif") and not exif or orientation not in range(1, 9):
        warnings.warn(
            f"{path}: its EXIF block is damaged, so its orientation is unknown and it is read "
            "as stored; if it is sideways, no face may be found",
            stacklevel=3,
        )
        return 1
    return orientation


TRANSPOSE = {  # EXIF orientation: the transpose that turns the stored image upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image turned as its EXIF orientation says (as ImageOps.exif_transpose does)."""
    method = TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def to_rgb(image: Image.Image, path: Path | str = "image") -> Image.Image:
    """An 8-bit RGB copy: 16-bit grey rescaled, transparency laid on white, CMYK converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey PNGs open as one of these
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(np.round(values * 255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "RGB":  # no copy: for a 100-megapixel photo that is 400 MB
        image.load()
        return image
    if image.mode in ("L", "P", "1", "CMYK", "YCbCr"):
        return image.convert("RGB")
    raise ImageError(f"{path}: image mode {image.mode} is not supported; save it as RGB")
