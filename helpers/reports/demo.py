"""The README's demo: the shipped model on a group photo and on a photo stored as a phone stores it.

Usage: python -m helpers demo   (reads the 300-W test images under FKD_DATA_DIR)
Writes figures/demo_group.png, figures/demo_phone.png and figures/demo_pose.png (the portrait
with its head's pose axes), and prints faces found and seconds.
Both photos are Kaggle test images: no model here was trained on them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from ..config import dataset_dir, figures_dir, hardware
from ..data.ibug import IBUG_DIR
from ..images import read_photo
from ..inference.draw import annotate
from ..inference.pose import pose_axes
from ..inference.predict import Landmarker

GROUP_PHOTO = "afw/4538917191_7.jpg"  # 3815x2250, a crowd at a table
PORTRAIT = "helen/testset/3239006545_1.jpg"  # 3031x2498
EXIF_ORIENTATION = 0x0112


def save_as_phone(source: Path, path: Path) -> Path:
    """A JPEG stored sideways with EXIF orientation 6 ('rotate 90 degrees clockwise to show'),
    as phone cameras save portrait shots: readers that ignore the tag see it on its side."""
    with Image.open(source) as upright:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = 6
        upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes(), quality=92)
    return path


def run(landmarker: Landmarker, photo: Path, figure: str, axes: bool = False) -> str:
    """Find the faces in one photo, save the annotated figure (with each head's pose axes
    when asked), and say what happened."""
    start = time.perf_counter()
    faces = landmarker(photo)
    seconds = time.perf_counter() - start
    image = read_photo(photo)
    path = figures_dir() / f"{figure}.png"
    drawn = [pose_axes(face.pose, face.image_size) for face in faces] if axes else []
    annotate(image, faces, path, drawn)
    size = f"{image.shape[1]}x{image.shape[0]}"
    return f"{photo.name} ({size}): {len(faces)} faces in {seconds:.2f} s -> {path.name}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    root = dataset_dir(IBUG_DIR)
    landmarker = Landmarker.load()
    print(f"on {hardware()}")
    print(run(landmarker, root / GROUP_PHOTO, "demo_group"))
    with tempfile.TemporaryDirectory() as tmp:
        phone = save_as_phone(root / PORTRAIT, Path(tmp) / "phone_portrait.jpg")
        print(run(landmarker, phone, "demo_phone"))
    print(run(landmarker, root / PORTRAIT, "demo_pose", axes=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
