"""68 landmarks on your own photos: detect faces, crop, run the shipped model.

In Python:
    from helpers.predict import Landmarker
    lm = Landmarker.load()              # models/landmarks68.pt; Landmarker.load(path, mirrored)
    faces = lm("photo.jpg")             # or a uint8 RGB array; [] when no face is found
    faces[0].box, faces[0].points, faces[0].score

Usage: python -m helpers.predict PHOTO... --out DIR [--model PATH] [--fast]
For each face it writes <photo>_face<i>.png (annotated) and <photo>_face<i>.json (68 points,
(x, y) original-image pixels).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import relative
from .datasets import prepare_image
from .detect import calibrate, detect
from .draw import annotate
from .ibug import crop_face, crop_square, crops_to_image
from .images import read_photo
from .modelfile import (  # noqa: F401  (notebook 3 calls these)
    DEFAULT_MODEL,
    ModelSettings,
    load_landmarker,
    save_landmarker,
    write_model_card,
)
from .readout import predict_batch


def crops_in_boxes(
    settings: ModelSettings, image: np.ndarray, boxes
) -> tuple[torch.Tensor, np.ndarray]:
    """Model-ready crops (N, C, size, size) for face boxes (left, top, width, height), and the
    squares (left, top, side) they were cut from."""
    size = settings.crop_size
    squares = np.stack([crop_square(b, settings.crop_factor, settings.crop_shift) for b in boxes])
    gray = settings.in_channels == 1
    crops = torch.stack([prepare_image(crop_face(image, sq, size), gray) for sq in squares])
    return crops, squares


def predict_crops(model: nn.Module, settings: ModelSettings, crops: torch.Tensor) -> np.ndarray:
    """Points as fractions of the crop (N, K, 2) for a batch of model-ready crops, by the
    model's readout, with the mirrored average when the settings carry a flip_perm."""
    perm = None if settings.flip_perm is None else np.asarray(settings.flip_perm)
    return predict_batch(model, crops, settings.readout, perm)[0].numpy()


@torch.no_grad()
def landmarks_in_boxes(
    model: nn.Module, settings: ModelSettings, image: np.ndarray, boxes
) -> np.ndarray:
    """68 points in original-image pixels for each box (left, top, width, height)."""
    crops, squares = crops_in_boxes(settings, image, boxes)
    return crops_to_image(predict_crops(model, settings, crops), squares, settings.crop_size)


@dataclass(frozen=True)
class Face:
    """One face found in a photo, in that photo's pixels: the box (left, top, width, height),
    the 68 points (x, y), and the detector's score (dlib's SVM margin: above 0 is a face,
    higher is surer)."""

    box: np.ndarray
    points: np.ndarray
    score: float


class Landmarker:
    """Detect faces and place 68 landmarks on them, with a saved model (see the module doc)."""

    def __init__(
        self, model: nn.Module, settings: ModelSettings, mirrored: bool = True, batch_size=32
    ) -> None:
        if not mirrored:  # half the time, a little less accurate (see the model card)
            settings = settings.without_mirror()
        self.model, self.settings, self.batch_size = model.eval(), settings, batch_size

    @classmethod
    def load(cls, path: Path | str = DEFAULT_MODEL, mirrored: bool = True) -> Landmarker:
        """The shipped model (hash checked), or the saved model at `path`; mirrored=False
        skips the mirrored prediction that is otherwise averaged in."""
        return cls(*load_landmarker(Path(path)), mirrored=mirrored)

    def __call__(self, image: np.ndarray | Path | str) -> list[Face]:
        """The faces in one photo (a path or a uint8 RGB array), best detector score first."""
        return self.batch([image])[0]

    def batch(self, images: Sequence[np.ndarray | Path | str]) -> list[list[Face]]:
        """The faces in each of several photos; the crops of all of them go through the
        model together, `batch_size` at a time. Errors name the photo."""
        found = [self._detect(image) for image in images]
        crops = [c for _, _, c, _ in found if c is not None]
        points = self._points(torch.cat(crops)) if crops else np.zeros((0, 68, 2), np.float32)
        faces, start = [], 0
        for boxes, scores, _, squares in found:
            if not boxes:
                faces.append([])
                continue
            pts = crops_to_image(points[start : start + len(boxes)], squares, self.size)
            faces.append([Face(b, p, float(s)) for b, p, s in zip(boxes, pts, scores, strict=True)])
            start += len(boxes)
        return faces

    @property
    def size(self) -> int:
        return self.settings.crop_size

    def _detect(self, image: np.ndarray | Path | str):
        """Boxes, scores, crops and crop squares of the faces in one photo."""
        array = read_photo(image) if isinstance(image, str | Path) else np.asarray(image)
        if array.dtype != np.uint8 or array.ndim not in (2, 3):
            raise ValueError(f"expected a uint8 RGB or grey image, got {array.dtype} {array.shape}")
        detections, scores = detect(array)
        boxes = [calibrate(d, self.settings.detector_calibration) for d in detections]
        if not boxes:
            return [], scores, None, np.zeros((0, 3), np.float32)
        crops, squares = crops_in_boxes(self.settings, array, boxes)
        return boxes, scores, crops, squares

    @torch.no_grad()
    def _points(self, crops: torch.Tensor) -> np.ndarray:
        """Crop fractions (N, 68, 2) for model-ready crops, batch_size at a time."""
        chunks = torch.split(crops, self.batch_size)
        return np.concatenate([predict_crops(self.model, self.settings, c) for c in chunks])


def predict_photo(landmarker: Landmarker, photo: Path, out: Path) -> int:
    """Find the faces in one photo and write an annotated PNG and a JSON per face; returns
    the number of faces."""
    image = read_photo(photo)  # upright uint8 RGB, whatever the camera or editor wrote
    faces = landmarker(image)
    for i, face in enumerate(faces):
        stem = out / f"{photo.stem}_face{i}"
        annotate(image, [face], stem.with_suffix(".png"))
        record = {
            "image": str(photo),
            "box_ltwh": face.box.astype(float).round(1).tolist(),
            "score": round(face.score, 3),
            "points_xy": face.points.astype(float).round(2).tolist(),
        }
        stem.with_suffix(".json").write_text(json.dumps(record, indent=1))
    return len(faces)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: every photo is tried; failures are reported, not fatal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--fast", action="store_true", help="skip the mirrored prediction")
    args = parser.parse_args(argv)
    try:
        landmarker = Landmarker.load(args.model, mirrored=not args.fast)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for photo in args.photos:
        try:
            count = predict_photo(landmarker, photo, args.out)
            if count == 0:
                print(f"{relative(photo)}: no face found", file=sys.stderr)
                failed += 1
            else:
                print(f"{relative(photo)}: {count} face(s) -> {relative(args.out)}")
        except Exception as err:  # one bad photo must not stop the others
            print(
                f"skipped {err}" if str(photo) in str(err) else f"skipped {photo}: {err}",
                file=sys.stderr,
            )
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
