"""iBUG 300-W in dlib's imglab XML: faces with boxes, 68 parts (or none, for Kaggle's test)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..config import dataset_dir
from ..crop import crop_face, crop_square
from ..geometry import box_to_crop
from ..images import read_image
from ..progress import progress
from .datasets import KeypointDataset

IBUG_DIR = "ibug_300W_large_face_landmark_dataset"
TRAIN_XML = "labels_ibug_300W_train.xml"
TEST_XML = "labels_ibug_300W_test_parsed.xml"
NUM_POINTS = 68
GROUPS: dict[str, list[int]] = {
    "jaw": list(range(0, 17)),
    "brows": list(range(17, 27)),
    "nose": list(range(27, 36)),
    "eyes": list(range(36, 48)),
    "mouth": list(range(48, 68)),
}


class IbugError(ValueError):
    """A face that cannot be used; the message names its image."""


@dataclass(frozen=True)
class IbugFace:
    """One face: image path, image size (W, H), box (left, top, width, height) clipped to the
    image, and 68 (x, y) pixel points, or None where the XML has no parts."""

    image_path: Path
    size: tuple[int, int]
    box: np.ndarray
    points: np.ndarray | None


def load_xml(xml_path: Path | str | None = None, need_points: bool = True) -> list[IbugFace]:
    """Parse an imglab XML; image paths are relative to the XML's folder."""
    xml_path = Path(xml_path) if xml_path else dataset_dir(IBUG_DIR) / TRAIN_XML
    root = ET.parse(xml_path).getroot()
    faces = []
    for image in root.iter("image"):
        path = xml_path.parent / image.get("file", "")
        for box in image.iter("box"):
            faces.append(_parse_box(path, box, need_points))
    return faces


SUBSETS = ("afw", "helen", "lfpw", "ibug")


def subset_of(path: Path) -> str:
    """The 300-W subset an image comes from (afw, helen, lfpw, ibug), by its folder."""
    return next((part for part in Path(path).parts if part in SUBSETS), "other")


def source_image(path: Path) -> Path:
    """The image a file was made from: the course's `x_mirror.jpg` copies come from `x.jpg`."""
    return path.with_name(path.name.replace("_mirror.", ".", 1))


def split_by_image(
    faces: Sequence[IbugFace], fraction: float, seed: int = 0
) -> tuple[list[IbugFace], list[IbugFace]]:
    """(train, validation) faces, holding out `fraction` of the source images, so that neither
    the faces of one image nor an image and its `_mirror` copy ever straddle the split."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    sources = sorted({source_image(f.image_path) for f in faces})
    rng = np.random.default_rng(seed)
    held = set(rng.choice(sources, size=round(fraction * len(sources)), replace=False))
    train = [f for f in faces if source_image(f.image_path) not in held]
    return train, [f for f in faces if source_image(f.image_path) in held]


def _parse_box(path: Path, box: ET.Element, need_points: bool) -> IbugFace:
    """One <box> element, validated against its image."""
    if not path.is_file():
        raise IbugError(f"{path}: image file is missing")
    with Image.open(path) as im:
        size = im.size
    try:
        left, top, width, height = (float(box.get(k)) for k in ("left", "top", "width", "height"))
    except (TypeError, ValueError):
        raise IbugError(f"{path}: box needs numeric left, top, width and height") from None
    clipped = clip_box(np.array([left, top, width, height]), size)
    if clipped is None:
        raise IbugError(f"{path}: box {left, top, width, height} is empty or outside the image")
    parts = box.findall("part")
    points = None
    if parts or need_points:
        if len(parts) != NUM_POINTS:
            raise IbugError(f"{path}: {len(parts)} parts, expected {NUM_POINTS}")
        order = sorted(parts, key=lambda p: int(p.get("name")))
        points = np.array([[float(p.get("x")), float(p.get("y"))] for p in order], np.float32)
    return IbugFace(path, size, clipped, points)


def clip_box(box: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """Clip (left, top, width, height) to an image of size (W, H); None if nothing is left."""
    left, top, width, height = box
    x0, y0 = max(left, 0.0), max(top, 0.0)
    x1, y1 = min(left + width, size[0]), min(top + height, size[1])
    if width <= 0 or height <= 0 or x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float32)


def crop_shift(faces: Sequence[IbugFace]) -> float:
    """Median offset, in box heights, from the box centre down to the landmarks' centre."""
    boxes, pts = np.stack([f.box for f in faces]), np.stack([f.points for f in faces])
    return float(np.median((pts[..., 1].mean(1) - (boxes[:, 1] + boxes[:, 3] / 2)) / boxes[:, 3]))


def crop_needed(faces: Sequence[IbugFace], shift: float) -> np.ndarray:
    """Per face: the smallest enlargement of the (shifted) box whose square holds all points."""
    boxes, pts = np.stack([f.box for f in faces]), np.stack([f.points for f in faces])
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    centre[:, 1] += shift * boxes[:, 3]
    reach = np.abs(pts - centre[:, None]).max(axis=(1, 2))  # half-side that holds all points
    return 2 * reach / boxes[:, 2:].max(1)


def fit_crop(faces: Sequence[IbugFace], coverage: float = 0.99) -> tuple[float, float]:
    """(factor, shift) so the square crops hold every landmark of `coverage` of the faces."""
    shift = crop_shift(faces)
    factor = np.quantile(crop_needed(faces, shift), coverage)
    return round(float(factor), 2), round(shift, 3)


def ibug_dataset(
    faces: Sequence[IbugFace], factor: float, shift: float, size: int, grayscale: bool = False
) -> tuple[KeypointDataset, np.ndarray]:
    """Decode, crop and resize every face once; returns the dataset and the crop squares."""
    squares = np.stack([crop_square(f.box, factor, shift) for f in faces])
    images, points = [], []
    for face, square in progress(
        list(zip(faces, squares, strict=True)), desc="crop faces", leave=False
    ):
        images.append(crop_face(read_image(face.image_path), square, size))
        pts = face.points if face.points is not None else np.zeros((NUM_POINTS, 2), np.float32)
        points.append(torch.from_numpy(box_to_crop(pts, square, size)))
    return KeypointDataset(torch.stack(images), torch.stack(points), grayscale), squares
