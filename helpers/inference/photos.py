"""A person's photos at bounded memory: decoded only as far as the work needs.

Detection needs a copy at most DETECT_MAX_SIDE px; the landmark model needs each face's crop
at its crop size. So a JPEG is decoded reduced by 2, 4 or 8 where that leaves the faces enough
pixels (JPEG draft mode), other formats are decoded once and reduced in uint8, and arrays are
reduced a band of rows at a time. No float copy of a whole photo is ever made.

Reduced images follow the package's pixel convention: pixel i of an image reduced by r covers
full-size pixels [r*i, r*i + r), so a full-size point x sits at (x + 0.5) / r - 0.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..crop import crop_face
from ..images import MAX_PHOTO_PIXELS, ImageError, exif_orientation, to_rgb, upright

DETECT_MAX_SIDE = 1000  # detection runs on a copy downscaled to this size, for speed
REDUCTIONS = (8, 4, 2, 1)  # what a JPEG decoder can do for free (DCT scaling)
BAND_ROWS = 256  # rows of a reduced image made at a time from an array
REDUCE_ABOVE = 16_000_000  # pixels: smaller photos are cropped at full size, as in training


def as_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """A photo array as uint8 grey (H, W) or RGB (H, W, 3): grey+alpha and RGBA are laid on
    white, as files are; any other shape or type is refused by name."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 pixels, got {array.dtype} {array.shape}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (2, 3, 4)):
        raise ValueError(
            f"{name}: expected (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) "
            f"RGBA, got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name}: the image is empty (shape {array.shape})")
    if array.ndim == 3 and array.shape[-1] in (2, 4):  # colour, alpha: lay on white
        colour, alpha = array[..., :-1].astype(np.uint16), array[..., -1:].astype(np.uint16)
        array = ((colour * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
        array = array[..., 0] if array.shape[-1] == 1 else array
    return array


def downscale(array: np.ndarray, max_side: int = DETECT_MAX_SIDE) -> tuple[np.ndarray, float]:
    """A uint8 copy whose longer side is at most max_side, and its scale (copy / original);
    made a band of rows at a time, so memory stays near the copy's size."""
    height, width = array.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return array, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    reduce = max(1, int(1 / scale) // 2)  # box-reduce in bands first, then resample once
    if reduce > 1:
        step = BAND_ROWS * reduce
        bands = [
            np.asarray(Image.fromarray(array[top : top + step]).reduce(reduce))
            for top in range(0, height, step)
        ]
        array = np.concatenate(bands)
    small = np.asarray(Image.fromarray(array).resize(size, Image.Resampling.BILINEAR))
    return small, size[0] / width


class PhotoFile:
    """A photo file read upright, whole or reduced, without decoding more than it must.

    The header is read at once (size limit, EXIF orientation); pixels only by `decode`.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ImageError(f"{self.path}: is a folder, not an image file")
        if not self.path.is_file():
            raise ImageError(f"{self.path}: image file is missing")
        try:
            with Image.open(self.path) as image:
                self.format, stored = image.format, image.size
                self.orientation = exif_orientation(image, self.path)
        except Exception as err:  # Pillow raises many types for corrupt or truncated files
            raise ImageError(f"{self.path}: image is unreadable ({err})") from err
        if stored[0] * stored[1] > MAX_PHOTO_PIXELS:
            raise ImageError(
                f"{self.path}: {stored[0]}x{stored[1]} is over "
                f"{MAX_PHOTO_PIXELS // 1_000_000} megapixels; downscale it first"
            )
        turned = self.orientation in (5, 6, 7, 8)
        self.stored, self.size = stored, (stored[::-1] if turned else stored)  # (W, H)
        self._whole: Image.Image | None = None  # a non-JPEG's decoded pixels, kept once made

    def usable_reduction(self, wanted: int) -> int:
        """The largest reduction in REDUCTIONS not above `wanted`. A turned photo also needs
        it to divide the stored size, so that the reduced pixels line up after turning."""
        for r in REDUCTIONS:
            if r <= wanted and (
                self.orientation == 1 or not (self.stored[0] % r or self.stored[1] % r)
            ):
                return r
        return 1

    def image(self, reduce: int = 1) -> Image.Image:
        """Upright 8-bit RGB pixels reduced by `reduce` (a usable_reduction)."""
        try:
            if self.format == "JPEG":
                with Image.open(self.path) as image:
                    image.draft("RGB", tuple(-(-side // reduce) for side in image.size))
                    done = round(self.stored[0] / image.size[0])  # what the decoder did
                    image = to_rgb(image, self.path)
            else:
                if self._whole is None:
                    with Image.open(self.path) as image:
                        self._whole = to_rgb(image, self.path)
                image, done = self._whole, 1
            image = image.reduce(reduce // done) if reduce > done else image
            return upright(image, self.orientation)
        except ImageError:
            raise
        except Exception as err:  # Pillow raises many types for corrupt or truncated files
            raise ImageError(f"{self.path}: image is unreadable ({err})") from err

    def copy_at_most(self, max_side: int = DETECT_MAX_SIDE) -> tuple[np.ndarray, float]:
        """A uint8 RGB copy at most max_side px (for detection, or drawing), and its scale
        (copy / upright photo)."""
        reduce = self.usable_reduction(max(self.size) // max_side)
        small, scale = downscale(np.asarray(self.image(reduce)), max_side)
        return small, scale / reduce

    def face_crops(self, squares: np.ndarray, size: int) -> tuple[torch.Tensor, np.ndarray]:
        """uint8 crops (N, 3, size, size) of the squares (left, top, side) of the upright
        photo, and the squares as cut (in full-size pixels). A photo over REDUCE_ABOVE pixels
        is decoded reduced as far as its smallest square keeps twice the crop size; only each
        square's region becomes an array."""
        squares = np.asarray(squares, dtype=np.float64).reshape(-1, 3)
        large = self.size[0] * self.size[1] > REDUCE_ABOVE
        reduce = self.usable_reduction(int(squares[:, 2].min() // (2 * size))) if large else 1
        image = self.image(reduce)
        cut = np.stack(
            [
                np.floor(squares[:, 0] / reduce),
                np.floor(squares[:, 1] / reduce),
                np.maximum(1, np.round(squares[:, 2] / reduce)),
            ],
            axis=1,
        ).astype(int)
        crops = [_crop(image, square, size) for square in cut]
        return torch.stack(crops), (cut * reduce).astype(np.float32)

    def release(self) -> None:
        """Drop decoded pixels kept for a second use."""
        self._whole = None


def _crop(image: Image.Image, square: np.ndarray, size: int) -> torch.Tensor:
    """crop_face on a PIL image: only the square's region becomes an array."""
    left, top, side = (int(v) for v in square)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, image.width), min(top + side, image.height)
    if x1 <= x0 or y1 <= y0:  # the square misses the photo
        return torch.zeros(3, size, size, dtype=torch.uint8)
    region = np.array(image.crop((x0, y0, x1, y1)))  # writable, and only the square
    return crop_face(region, np.array([left - x0, top - y0, side]), size)
