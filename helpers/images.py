"""Reading image files, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import io


class ImageError(ValueError):
    """A missing or unreadable image file; the message names it."""


def read_image(path: Path | str) -> np.ndarray:
    """An image as uint8 (H, W[, C]); a clear error if it is missing or unreadable."""
    if not Path(path).is_file():
        raise ImageError(f"{path}: image file is missing")
    try:
        return io.imread(path)
    except Exception as err:  # skimage raises many types for corrupt files
        raise ImageError(f"{path}: image is unreadable ({err})") from err
