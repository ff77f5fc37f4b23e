"""68 landmarks on your own photos: detect faces, crop, run the trained model, save results.

Usage: python -m helpers.predict PHOTO... --out DIR [--model models/landmarks68.pt]
For each face it writes <photo>_face<i>.png (annotated) and <photo>_face<i>.json (68 points,
(x, y) original-image pixels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from .config import REPO_ROOT  # noqa: E402
from .datasets import prepare_image  # noqa: E402
from .detect import calibrate, detect_faces  # noqa: E402
from .download import sha256_of  # noqa: E402
from .heatmaps import map_to_fractions, points_from_maps, predict_maps  # noqa: E402
from .ibug import crop_face, crop_square, crops_to_image  # noqa: E402
from .images import read_photo  # noqa: E402
from .models import build  # noqa: E402
from .train import predict_batch  # noqa: E402

DEFAULT_MODEL = REPO_ROOT / "models" / "landmarks68.pt"  # shipped: the best 300-W model
FAST_MODEL = REPO_ROOT / "models" / "landmarks68_fast.pt"  # shipped: the fastest good one


def save_landmarker(path: Path, model: nn.Module, settings: dict) -> Path:
    """Save weights (half precision, to stay small) with the settings needed to use them:
    `architecture` (models.build), `readout` (regression, heatmap or integral), crop_size,
    crop_factor, crop_shift, in_channels, flip_perm and detector_calibration. A card left
    from earlier weights is removed: it would describe (and hash) another file."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    card_path(path).unlink(missing_ok=True)
    torch.save({"model": state, "settings": settings}, path)
    return Path(path)


def ship(path: Path, model: nn.Module, settings: dict, card: dict) -> bool:
    """Save a model and its card at `path` unless the model there has a lower val_nme on its
    card: the shipped file keeps its name and only ever gets better. True if written."""
    if card_path(path).is_file() and Path(path).is_file():
        current = json.loads(card_path(path).read_text()).get("val_nme", float("inf"))
        if current <= card["val_nme"]:
            return False
    write_model_card(save_landmarker(path, model, settings), card)
    return True


def card_path(weights: Path) -> Path:
    """Where a model's card lives: beside its weights, as JSON."""
    return Path(weights).with_suffix(".json")


def write_model_card(weights: Path, card: dict) -> Path:
    """Write the model card beside the weights, with their size and SHA-256 for verification."""
    weights = Path(weights)
    full = {**card, "weights": weights.name, "bytes": weights.stat().st_size}
    full["sha256"] = sha256_of(weights)
    path = card_path(weights)
    path.write_text(json.dumps(full, indent=2) + "\n")
    return path


def load_landmarker(path: Path = DEFAULT_MODEL) -> tuple[nn.Module, dict]:
    """Load a saved landmark model safely: its hash checked against its card when it has one,
    and weights_only (tensors and plain data, no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}: run notebooks/04_heatmaps.ipynb first")
    if card_path(path).is_file():
        expected = json.loads(card_path(path).read_text()).get("sha256")
        if expected and sha256_of(path) != expected:
            raise ValueError(f"{path}: SHA-256 differs from its model card; the file is damaged")
    state = torch.load(path, map_location="cpu", weights_only=True)
    settings = state["settings"]
    default = {"name": "LandmarkResNet", "in_channels": settings["in_channels"]}  # notebook 3's
    model = build(settings.get("architecture", default))
    model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    return model.eval(), settings


@torch.no_grad()
def landmarks_in_boxes(model: nn.Module, settings: dict, image: np.ndarray, boxes) -> np.ndarray:
    """68 points in original-image pixels for each box (left, top, width, height)."""
    size = settings["crop_size"]
    squares = [crop_square(b, settings["crop_factor"], settings["crop_shift"]) for b in boxes]
    batch = torch.stack(
        [prepare_image(crop_face(image, s, size), settings["in_channels"] == 1) for s in squares]
    )
    return crops_to_image(predict_crops(model, settings, batch), np.stack(squares), size)


def predict_crops(model: nn.Module, settings: dict, crops: torch.Tensor) -> np.ndarray:
    """Points as fractions of the crop (N, K, 2) for a batch of model-ready crops, by the
    model's readout, with the mirrored prediction when the settings carry a flip_perm."""
    perm = settings.get("flip_perm")
    perm = None if perm is None else np.asarray(perm)
    if settings.get("readout", "regression") == "regression":
        return predict_batch(model, crops, perm).numpy()
    maps = predict_maps(model, crops, perm)
    points, _ = points_from_maps(maps, settings["readout"] == "integral")
    return map_to_fractions(points, (maps.shape[-1], maps.shape[-2])).numpy()


def annotate(image: np.ndarray, points: np.ndarray, box: np.ndarray, path: Path) -> None:
    """Save the image with the face box and its landmarks drawn on it."""
    fig, ax = plt.subplots(figsize=(8, 8 * image.shape[0] / image.shape[1]))
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.add_patch(plt.Rectangle(box[:2], box[2], box[3], fill=False, color="yellow", lw=1.5))
    ax.scatter(*points.T, s=max(4, box[2] / 40), c="red", edgecolors="white", linewidths=0.3)
    ax.set_axis_off()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def predict_photo(model: nn.Module, settings: dict, photo: Path, out: Path) -> int:
    """Detect, predict and write results for one photo; returns the number of faces."""
    image = read_photo(photo)  # upright uint8 RGB, whatever the camera or editor wrote
    detections = detect_faces(image)
    if not detections:
        raise ValueError(f"{photo}: no face found")
    boxes = [calibrate(d, settings["detector_calibration"]) for d in detections]
    points = landmarks_in_boxes(model, settings, image, boxes)
    for i, (box, pts) in enumerate(zip(boxes, points, strict=True)):
        stem = out / f"{photo.stem}_face{i}"
        annotate(image, pts, box, stem.with_suffix(".png"))
        record = {
            "image": str(photo),
            "box_ltwh": box.astype(float).round(1).tolist(),
            "points_xy": pts.astype(float).round(2).tolist(),
        }
        stem.with_suffix(".json").write_text(json.dumps(record, indent=1))
    return len(boxes)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: every photo is tried; failures are reported, not fatal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    try:
        model, settings = load_landmarker(args.model)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for photo in args.photos:
        try:
            count = predict_photo(model, settings, photo, args.out)
            print(f"{photo}: {count} face(s) -> {args.out}")
        except Exception as err:  # one bad photo must not stop the others
            print(
                f"skipped {err}" if str(photo) in str(err) else f"skipped {photo}: {err}",
                file=sys.stderr,
            )
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
