"""The IMM face database: .asf parsing, file-name metadata and the course split."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import dataset_dir
from ..images import read_image

IMM_DIR = "imm_face_db"
NUM_POINTS = 58
NOSE_TIP = 52
TRAIN_PERSONS = range(1, 33)
VAL_PERSONS = range(33, 41)
# Point groups of the IMM markup (0-based indices), named from the subject's point of view.
GROUPS: dict[str, list[int]] = {
    "jaw": list(range(0, 13)),
    "eyes": list(range(13, 29)),
    "brows": list(range(29, 39)),
    "mouth": list(range(39, 47)),
    "nose": list(range(47, 58)),
}
_NAME = re.compile(r"^(?P<person>\d{2})-(?P<view>\d)(?P<gender>[mf])$")


class AsfError(ValueError):
    """A malformed .asf file; the message names the file."""


@dataclass(frozen=True)
class ImmFace:
    """One annotated IMM image: its path, metadata and 58 (x, y) pixel keypoints."""

    image_path: Path
    person: int
    view: int
    gender: str
    points: np.ndarray  # (58, 2) float32 pixels
    size: tuple[int, int]  # (W, H)


def parse_name(stem: str) -> tuple[int, int, str]:
    """(person, view, gender) from a name such as '01-1m'."""
    match = _NAME.match(stem)
    if not match:
        raise AsfError(f"{stem}: file name is not '<person>-<view><m|f>'")
    return int(match["person"]), int(match["view"]), match["gender"]


def parse_asf(text: str, source: str = "<asf>") -> tuple[np.ndarray, str]:
    """Relative (x, y) points (N, 2) and the host image name from .asf text."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise AsfError(f"{source}: no content (empty or only comments)")
    try:
        count = int(lines[0])
    except ValueError:
        raise AsfError(f"{source}: expected the point count, found {lines[0]!r}") from None
    point_lines, rest = lines[1 : 1 + count], lines[1 + count :]
    if len(point_lines) < count or not rest:
        raise AsfError(f"{source}: truncated, expected {count} point lines and the image name")
    points = np.array([_parse_point(ln, source) for ln in point_lines], dtype=np.float32)
    return points, rest[-1]


def _parse_point(line: str, source: str) -> tuple[float, float]:
    """Relative (x, y) of one point line with 7 or 10 columns."""
    cols = line.split()
    if len(cols) not in (7, 10):
        raise AsfError(f"{source}: point line has {len(cols)} columns, expected 7 or 10: {line!r}")
    try:
        return float(cols[2]), float(cols[3])
    except ValueError:
        raise AsfError(f"{source}: non-numeric coordinates in {line!r}") from None


def load_face(asf_path: Path) -> ImmFace:
    """Parse one .asf file and check it against its image."""
    asf_path = Path(asf_path)
    rel, image_name = parse_asf(asf_path.read_text(encoding="latin-1"), str(asf_path))
    if len(rel) != NUM_POINTS:
        raise AsfError(f"{asf_path}: {len(rel)} points, expected {NUM_POINTS}")
    if (rel < 0).any() or (rel > 1).any():
        raise AsfError(f"{asf_path}: coordinates outside the image (relative values not in [0, 1])")
    image_path = asf_path.with_name(image_name)
    height, width = read_image(image_path).shape[:2]
    person, view, gender = parse_name(asf_path.stem)
    points = rel * np.array([width, height], dtype=np.float32)
    return ImmFace(image_path, person, view, gender, points, (width, height))


def load_imm(root: Path | None = None) -> list[ImmFace]:
    """Every face of the database, sorted by person then view."""
    root = Path(root) if root else dataset_dir(IMM_DIR)
    files = sorted(root.glob("*.asf"))
    if not files:
        raise FileNotFoundError(f"No .asf files in {root}")
    return [load_face(f) for f in files]


def split(faces: list[ImmFace]) -> tuple[list[ImmFace], list[ImmFace]]:
    """The course split: persons 1-32 train, persons 33-40 validation."""
    train = [f for f in faces if f.person in TRAIN_PERSONS]
    val = [f for f in faces if f.person in VAL_PERSONS]
    return train, val
