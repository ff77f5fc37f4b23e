"""Reading image files, with errors that name the file.

Dataset images are read as they are stored (read_image). A person's photos go through
read_photo, which turns what phones and editors write into upright uint8 RGB: the EXIF
orientation is applied, and 16-bit, palette, grey, alpha and CMYK images are converted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from skimage import io

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
    converted; a clear error naming the file otherwise."""
    if not Path(path).is_file():
        raise ImageError(f"{path}: image file is missing")
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise ImageError(
                    f"{path}: {image.width}x{image.height} is over "
                    f"{MAX_PHOTO_PIXELS // 1_000_000} megapixels; downscale it first"
                )
            return np.array(to_rgb(ImageOps.exif_transpose(image), path))  # writable
    except ImageError:
        raise
    except Exception as err:  # Pillow raises many types for corrupt or truncated files
        raise ImageError(f"{path}: image is unreadable ({err})") from err


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
    if image.mode in ("RGB", "L", "P", "1", "CMYK", "YCbCr"):
        return image.convert("RGB")
    raise ImageError(f"{path}: image mode {image.mode} is not supported; save it as RGB")
