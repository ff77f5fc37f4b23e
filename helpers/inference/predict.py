"""68 landmarks on your own photos: detect faces, crop, run the shipped model.

In Python:
    from helpers.inference.predict import Landmarker
    lm = Landmarker.load()              # models/landmarks68.pt; Landmarker.load(path, mirrored)
    lm = Landmarker.load(fast=True)     # models/landmarks68_fast.pt, without the mirror
    faces = lm("photo.jpg")             # or a uint8 RGB array; [] when no face is found
    faces[0].box, faces[0].points, faces[0].score, faces[0].confidence
    points, confidence = lm.in_boxes(image, boxes)   # your own boxes (left, top, width, height)

Usage: python -m helpers predict PHOTO|FOLDER... [--list FILE|-] --out DIR [--shard K/N]
                                 [--model PATH] [--fast] [--no-mirror]
                                 [--runtime auto|torch|onnx] [--allow-unverified]
For each face it writes <name>_face<i>.png (annotated) and <name>_face<i>.json (68 points,
(x, y) original-image pixels, and each point's confidence): <name> is a photo's stem, or its
path inside a folder given (helpers.inference.folders). Run again, it skips every photo done
before with the same model; --shard K/N takes a stable K-th of N shares, so N processes or
machines cover the photos once between them.

Exit status: 0 every photo done, 1 some photos had no face, 2 some photos failed (unreadable),
3 could not start (a missing or damaged model, an unusable --out).
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import relative
from ..crop import crop_face, crop_square, crops_to_image, prepare_image
from ..files import atomic_write, sha256_of
from ..nets.readout import predict_batch
from ..progress import progress
from . import folders
from .detect import UPSAMPLE, calibrate, detect
from .draw import annotate
from .modelfile import DEFAULT_MODEL, FAST_MODEL, ModelSettings, load_landmarker
from .photos import DETECT_MAX_SIDE, PhotoFile, as_rgb
from .pose import Pose, head_pose, pose_axes
from .runtime import RUNTIMES
from .runtime import choose as choose_runtime
from .signals import eye_aspect_ratios, mouth_opening


@dataclass(frozen=True)
class Face:
    """One face found in a photo, in that photo's pixels: the box (left, top, width, height),
    the 68 points (x, y), the detector's score (dlib's SVM margin: above 0 is a face, higher
    is surer; NaN when the box did not come from the detector), per point the heatmap
    model's confidence in [0, 1] (None for a coordinate regressor), and the photo's size
    (W, H), which the head pose needs. The pose and the eye and mouth signals are worked out
    from the points when first asked for."""

    box: np.ndarray
    points: np.ndarray
    score: float
    confidence: np.ndarray | None = None
    image_size: tuple[int, int] | None = None

    @cached_property
    def pose(self) -> Pose:
        """Coarse head pose (yaw, pitch, roll in degrees) from the points and a mean 3D face
        (helpers.inference.pose: good to about 10 degrees)."""
        if self.image_size is None:
            raise ValueError("the head pose needs the photo's size: Face(image_size=(W, H))")
        return head_pose(self.points, self.image_size)

    @property
    def eye_aspect_ratios(self) -> np.ndarray:
        """Each eye's aspect ratio (2,): about 0.3 open, under 0.2 shut."""
        return eye_aspect_ratios(self.points)

    @property
    def mouth_opening(self) -> float:
        """The inner lips' gap over the outer-eye-corner distance: 0 when closed."""
        return float(mouth_opening(self.points))


# The detector score a face must exceed: the top of the plateau where recall on the 300-W test
# file stays level as the threshold rises (the detector table of docs/speed.md, written by
# python -m helpers benchmark --inference).
DEFAULT_THRESHOLD = 0.12

Picture = np.ndarray | PhotoFile  # a uint8 RGB or grey array, or a photo file decoded lazily


class Landmarker:
    """Detect faces and place 68 landmarks on them, with a saved model (see the module doc).

    Safe to share between threads: each call returns what it would alone. The model is only
    read (torch and ONNX Runtime calls are thread-safe), and the face detector, which is not,
    is one per thread (helpers.inference.detect)."""

    def __init__(
        self,
        model: nn.Module,
        settings: ModelSettings,
        mirrored: bool = True,
        batch_size: int = 32,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if not mirrored:  # half the time, a little less accurate (see the model card)
            settings = settings.without_mirror()
        self.model, self.settings, self.batch_size = model.eval(), settings, batch_size
        self.threshold, self.runtime = threshold, "torch"

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        mirrored: bool | None = None,
        allow_unverified: bool = False,
        threshold: float = DEFAULT_THRESHOLD,
        runtime: str = "auto",
        fast: bool = False,
    ) -> Landmarker:
        """The shipped model (fast=True: the fast one), or the saved model at `path`, verified
        (modelfile.load_landmarker). mirrored: average in the mirrored prediction (default:
        yes unless fast=True, whatever the file); faces whose detector score is not above
        `threshold` are left out. runtime: 'auto' (ONNX Runtime when it is installed and a
        verified export sits beside the file, else torch), 'torch' or 'onnx'."""
        path = Path(path) if path else FAST_MODEL if fast else DEFAULT_MODEL
        if fast and path == FAST_MODEL and not path.is_file():
            raise FileNotFoundError(
                f"No fast model at {relative(path)}: train it with `make fast` "
                "(python -m helpers release --profile fast)"
            )
        model, settings = load_landmarker(path, allow_unverified)
        net, used = choose_runtime(path, model, runtime)
        mirrored = not fast if mirrored is None else mirrored
        landmarker = cls(net, settings, mirrored, threshold=threshold)
        landmarker.runtime = used
        return landmarker

    @property
    def size(self) -> int:
        """The side of the model's square crop, in pixels."""
        return self.settings.crop_size

    def __call__(self, image: np.ndarray | Path | str) -> list[Face]:
        """The faces in one photo (a path or a uint8 array), best detector score first."""
        return self.batch([image])[0]

    def batch(
        self, images: Sequence[np.ndarray | Path | str | PhotoFile], errors: str = "raise"
    ) -> list[list[Face] | Exception]:
        """The faces in each of several photos; the crops of all of them go through the
        model together, `batch_size` at a time. Errors name the photo: errors="raise" raises
        the first, errors="keep" puts each photo's error in its place and keeps the rest."""
        if errors not in ("raise", "keep"):
            raise ValueError(f"errors must be 'raise' or 'keep', got {errors!r}")
        found: list[tuple | Exception] = []
        for image in images:
            try:
                image = _open(image)
                boxes, scores = self.detect(image)
                found.append((boxes, scores, *self.crops(image, boxes), _size_of(image)))
            except (ValueError, OSError) as err:
                if errors == "raise":
                    raise
                found.append(err)
        ok = [item for item in found if not isinstance(item, Exception)]
        crops = torch.cat([item[2] for item in ok]) if ok else torch.zeros(0)
        squares = np.concatenate([item[3] for item in ok]) if ok else np.zeros((0, 3))
        points, confidence = self.from_crops(crops, squares)
        faces, start = [], 0
        for item in found:
            if isinstance(item, Exception):
                faces.append(item)
                continue
            boxes, scores, size = item[0], item[1], item[4]
            end = start + len(boxes)
            conf = [None] * len(boxes) if confidence is None else confidence[start:end]
            found_here = zip(boxes, points[start:end], scores, conf, strict=True)
            faces.append([Face(b, p, float(s), c, size) for b, p, s, c in found_here])
            start = end
        return faces

    def detect(self, image: Picture, upsample: int = UPSAMPLE) -> tuple[np.ndarray, np.ndarray]:
        """Face boxes (N, 4), calibrated to frame faces as the model's training boxes did, and
        the detector's scores (N,), best first, for scores above the threshold. A photo file
        is decoded only as far as detection needs (helpers.inference.photos)."""
        if isinstance(image, PhotoFile):
            pixels, scale = image.copy_at_most(DETECT_MAX_SIDE)
        else:
            pixels, scale = image, 1.0
        found, scores = detect(pixels, self.threshold, upsample)
        calibration = self.settings.detector_calibration
        boxes = [calibrate(box / scale, calibration) for box in found]
        return np.asarray(boxes, np.float32).reshape(-1, 4), scores

    def in_boxes(self, image: Picture, boxes) -> tuple[np.ndarray, np.ndarray | None]:
        """68 points (N, 68, 2) in image pixels for each face box (left, top, width, height),
        and per point the model's confidence (N, 68) (None for a coordinate regressor)."""
        return self.from_crops(*self.crops(_open(image), boxes))

    def crops(self, image: Picture, boxes) -> tuple[torch.Tensor, np.ndarray]:
        """Model-ready crops (N, C, size, size) for face boxes (left, top, width, height) of an
        image array or a photo file (cut at bounded memory), and the squares they were cut from."""
        settings = self.settings
        squares = [crop_square(b, settings.crop_factor, settings.crop_shift) for b in boxes]
        if not squares:
            return torch.zeros(0, settings.in_channels, self.size, self.size), np.zeros((0, 3))
        if isinstance(image, PhotoFile):
            raw, cut = image.face_crops(np.stack(squares), self.size)
        else:
            raw, cut = torch.stack([crop_face(image, sq, self.size) for sq in squares]), squares
        grey = settings.in_channels == 1
        return torch.stack([prepare_image(c, grey) for c in raw]), np.stack(cut)

    @torch.no_grad()
    def from_crops(
        self, crops: torch.Tensor, squares: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Points in image pixels and per-point confidence for model-ready crops cut from
        `squares`, batch_size at a time, by the model's readout (with the mirrored average
        when the settings carry a flip_perm)."""
        if not len(crops):
            return np.zeros((0, 68, 2), np.float32), None
        perm = None if self.settings.flip_perm is None else np.asarray(self.settings.flip_perm)
        read = [
            predict_batch(self.model, chunk, self.settings.readout, perm)
            for chunk in torch.split(crops, self.batch_size)
        ]
        fractions = torch.cat([points for points, _ in read]).numpy()
        confidence = None if read[0][1] is None else torch.cat([c for _, c in read]).numpy()
        return crops_to_image(fractions, squares, self.size), confidence


def _size_of(image: Picture) -> tuple[int, int]:
    """An image's (W, H): a photo file's upright size, or an array's."""
    return image.size if isinstance(image, PhotoFile) else (image.shape[1], image.shape[0])


def _open(image: np.ndarray | Path | str | PhotoFile) -> Picture:
    """A path as a lazily decoded photo file; an array checked and made uint8 RGB or grey."""
    if isinstance(image, str | Path):
        return PhotoFile(image)
    if isinstance(image, PhotoFile):
        return image
    return as_rgb(image, "array")


def pose_record(pose: Pose) -> dict:
    """A head pose as the JSON writes it: angles in degrees, the rotation, the translation
    (in the mean face's units) and the fit's error in pixels."""
    return {
        "yaw": round(pose.yaw, 1),
        "pitch": round(pose.pitch, 1),
        "roll": round(pose.roll, 1),
        "rotation": pose.rotation.round(5).tolist(),
        "translation": pose.translation.round(4).tolist(),
        "rms_px": round(pose.rms_px, 2),
    }


DRAW_MAX_SIDE = 1000  # the annotated PNG (800 px wide) is drawn from a copy this size


def predict_photo(
    landmarker: Landmarker, photo: Path, out: Path, stem: str, axes: bool = False
) -> list[Path]:
    """Find the faces in one photo and write an annotated PNG and a JSON per face, named
    <stem>_face<i>, each written whole or not at all; returns the files written. When the
    photo fails half-way, what it wrote is removed."""
    photo_file = PhotoFile(photo)
    faces = landmarker.batch([photo_file])[0]
    written: list[Path] = []
    try:
        if faces:
            display, scale = photo_file.copy_at_most(DRAW_MAX_SIDE)
        for i, face in enumerate(faces):
            name = out / f"{stem}_face{i}"
            record = {
                "image": str(photo),
                "box_ltwh": face.box.astype(float).round(1).tolist(),
                "score": round(face.score, 3),
                "points_xy": face.points.astype(float).round(2).tolist(),
                "confidence": None
                if face.confidence is None
                else face.confidence.astype(float).round(3).tolist(),
                "pose": pose_record(face.pose),
                "eye_aspect_ratios": face.eye_aspect_ratios.round(3).tolist(),
                "mouth_opening": round(face.mouth_opening, 3),
            }
            written.append(atomic_write(name.with_suffix(".json"), json.dumps(record, indent=1)))
            shown = replace(face, box=face.box * scale, points=(face.points + 0.5) * scale - 0.5)
            drawn = [(pose_axes(face.pose, face.image_size) + 0.5) * scale - 0.5] if axes else []
            written.append(
                atomic_write(
                    name.with_suffix(".png"),
                    lambda f, s=shown, a=drawn: annotate(display, [s], f, a),
                )
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    finally:
        photo_file.release()
    return written


def _stale(out: Path, name: str) -> list[Path]:
    """Files an earlier run wrote for this output name."""
    folder, stem = (out / name).parent, Path(name).name
    pattern = re.compile(rf"{re.escape(stem)}_face\d+\.(png|json)")
    found = folder.glob(f"{glob.escape(stem)}_face*") if folder.is_dir() else []
    return sorted(p for p in found if pattern.fullmatch(p.name))


EXIT_DONE, EXIT_NO_FACE, EXIT_FAILED, EXIT_CANNOT_START = 0, 1, 2, 3


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model options that predict, video and clip share."""
    parser.add_argument("--model", type=Path, help="a model file (default: the shipped one)")
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"the fast model ({FAST_MODEL.name}, or --model's file) without the mirror",
    )
    parser.add_argument(
        "--no-mirror", action="store_true", help="skip the mirrored prediction (half the time)"
    )
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto", help="default: auto")


def landmarker_from(args: argparse.Namespace, allow_unverified=False, threshold=None):
    """The Landmarker that add_model_options' arguments ask for; sets args.model to its file."""
    args.model = args.model or (FAST_MODEL if args.fast else DEFAULT_MODEL)
    return Landmarker.load(
        args.model,
        not (args.fast or args.no_mirror),
        allow_unverified,
        DEFAULT_THRESHOLD if threshold is None else threshold,
        args.runtime,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: every photo is tried; failures are reported, not fatal. Each
    photo's record goes under --out as it finishes, and manifest.json lists them all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="photos, and folders of them")
    parser.add_argument("--list", type=Path, help="a file of photo paths, one a line ('-': stdin)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--shard", help="K/N: only this process's share of the photos")
    parser.add_argument("--pose", action="store_true", help="draw each head's pose axes")
    add_model_options(parser)
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"detector score a face must exceed (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument(
        "--allow-unverified", action="store_true", help="load a model file that has no digest"
    )
    args = parser.parse_args(argv)
    if not args.photos and args.list is None:
        parser.error("give photos, folders or --list")
    try:
        photos = folders.gather(args.photos, args.list)
        if args.shard:
            k, n = folders.parse_shard(args.shard)
            photos = [photo for photo in photos if folders.in_shard(photo, k, n)]
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        landmarker = landmarker_from(args, args.allow_unverified, args.threshold)
        args.out.mkdir(parents=True, exist_ok=True)
        model_hash = sha256_of(args.model)
    except (OSError, ValueError) as err:  # ModelFileError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CANNOT_START
    model = {
        "sha256": model_hash,
        "mirrored": landmarker.settings.flip_perm is not None,
        "threshold": args.threshold,
        "pose_axes": args.pose,
    }
    counts = dict.fromkeys(("done", "no face", "failed", "skipped"), 0)
    for photo in progress(photos, desc="photos", unit="photo"):
        status = predict_one(landmarker, photo, args.out, model, args.pose)
        counts[status] += 1
    header = {"model": str(args.model), "model_sha256": model_hash, "runtime": landmarker.runtime}
    folders.write_manifest(args.out, header, [photo.name for photo in photos])
    print(
        f"{len(photos)} photos: {counts['done']} done, {counts['no face']} with no face, "
        f"{counts['failed']} failed, {counts['skipped']} skipped (done before: same photo, "
        f"same model) -> {relative(args.out)}"
    )
    failed, no_face = counts["failed"], counts["no face"]
    return EXIT_FAILED if failed else EXIT_NO_FACE if no_face else EXIT_DONE


def predict_one(
    landmarker: Landmarker, photo: folders.Photo, out: Path, model: dict, axes: bool = False
) -> str:
    """One photo, unless a record says it was done with this model: its results, its
    record, and what became of it (done, no face, failed or skipped)."""
    path, name = photo.path, photo.name
    record = {"photo": str(path), "name": name, "status": "done", "faces": 0, "files": []}
    try:
        record["photo_sha256"] = sha256_of(path)
    except OSError as err:
        record["status"], record["error"] = "failed", f"{path}: {err.strerror or err}"
        print(f"skipped {record['error']}", file=sys.stderr)
        folders.write_record(out, {**record, "model": model})
        return "failed"
    if folders.finished(folders.read_record(out, name), out, record["photo_sha256"], model):
        return "skipped"
    for old in _stale(out, name):  # an earlier run's faces for this name go first
        old.unlink()
        record["replaced"] = record.get("replaced", 0) + 1
    try:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        written = predict_photo(landmarker, path, out, name, axes)
        record["faces"] = len(written) // 2
        record["files"] = [p.relative_to(out).as_posix() for p in written]
        if not written:
            record["status"] = "no face"
            print(f"{relative(path)}: no face found", file=sys.stderr)
    except Exception as err:  # one bad photo must not stop the others
        record["status"], record["error"] = "failed", str(err)
        print(
            f"skipped {err}" if str(path) in str(err) else f"skipped {path}: {err}", file=sys.stderr
        )
    folders.write_record(out, {**record, "model": model})
    return record["status"]


if __name__ == "__main__":
    sys.exit(main())
