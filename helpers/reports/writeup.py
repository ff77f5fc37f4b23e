"""The course's write-up page: one static HTML file built from results/*.json and figures/*.png.

Usage: python -m helpers writeup [--root DIR] [--screenshot]
Writes DIR/writeup/index.html (DIR: FKD_OUTPUT_DIR, else the repository); --screenshot also
saves DIR/figures/writeup_page.png through headless Chromium (helpers.reports.browser). The
page has no script and loads nothing from the network: figures are referenced by relative
path, so it opens offline from the folder. Every number on it is read from results/, never
typed here; a part whose notebook has not written its results yet is shown as not run.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..config import REPO_ROOT, output_dir, relative
from ..files import atomic_write
from ..nets import models
from ..nets.models import FacialPointsNet, LandmarkResNet, NoseNet, layer_summary
from . import tables

ModelSpec = Callable[[dict], tuple[nn.Module, tuple[int, ...]]]


@dataclass(frozen=True)
class Part:
    """One notebook's section: where its results are, what to show, and how to describe it."""

    number: int
    title: str
    notebook: str
    results: str  # results/<results>.json
    done: str  # what the notebook does, in a few sentences
    metrics: tuple[tuple[str, str, str], ...]  # (results key, label, format: FORMATS)
    figures: tuple[tuple[str, str], ...]  # (figures/<name>.png, caption)
    model: ModelSpec | None = None  # the model and its input shape, from the results' settings


def _ibug_model(results: dict) -> tuple[nn.Module, tuple[int, ...]]:
    channels, size = results["settings"]["in_channels"], results.get("crop_size", 224)
    return LandmarkResNet(in_channels=channels, pretrained=False), (channels, size, size)


def _heatmap_model(results: dict) -> tuple[nn.Module, tuple[int, ...]]:
    """The 300-W heatmap model as notebook 4 recorded it (the architecture models.build takes)."""
    size = results["crop_size"]
    return models.build(results["ibug_architecture"]), (3, size, size)


def _release_model(results: dict) -> tuple[nn.Module, tuple[int, ...]]:
    """A release model as helpers.training.release recorded it."""
    size = results["settings"]["crop_size"]
    return models.build(results["architecture"]), (3, size, size)


def _face_model(results: dict) -> tuple[nn.Module, tuple[int, ...]]:
    width, height = results.get("input_size", (240, 180))
    batch_norm = results["settings"].get("tuned_batch_norm", False)
    return FacialPointsNet((width, height), batch_norm=batch_norm), (1, height, width)


PARTS: tuple[Part, ...] = (
    Part(
        1,
        "Nose tip detection",
        "01_nose_tip_detection.ipynb",
        "nose_tip",
        "A small CNN (three conv blocks, two fully connected layers) regresses the nose tip of "
        "IMM faces from 80×60 grayscale images, trained with MSE on persons 1–32 and validated "
        "on persons 33–40. A study compares learning rates and channel counts.",
        (
            ("val_mean_error_px", "mean error at 640×480", "px"),
            ("val_median_error_px", "median error at 640×480", "px"),
            ("val_mean_error_px_80x60", "mean error at 80×60", "px"),
        ),
        (
            ("01_nose_samples", "Training images with their nose-tip labels."),
            ("01_nose_loss", "Training and validation loss per epoch."),
            ("01_nose_study", "Learning rate and channel study."),
            ("01_nose_good_bad", "Best and worst validation faces: green truth, red prediction."),
        ),
        lambda results: (NoseNet((80, 60)), (1, 60, 80)),
    ),
    Part(
        2,
        "All 58 IMM keypoints",
        "02_full_face_keypoints.ipynb",
        "full_face",
        "FacialPointsNet (five conv blocks, fc 2048) regresses all 58 points at 240×180 with "
        "data augmentation (shift, scale, rotation, colour jitter, and mirroring with a "
        "left/right permutation derived from the mean shape). The course's seed settings are "
        "compared with a tuned run (batch norm, lr 1e-3, cosine decay, 60 epochs).",
        (
            ("val_mean_error_px", "mean per-point error at 640×480 (best run)", "px"),
            ("seed_val_mean_error_px", "with the course's seed settings", "px"),
            ("tuned_val_mean_error_px_without_tta", "tuned, without the mirrored prediction", "px"),
        ),
        (
            ("02_mirror_permutation", "The mirror permutation: lines vanish when it is right."),
            ("02_augmented_samples", "Augmented training samples."),
            ("02_seed_loss", "Loss with the seed settings."),
            ("02_study", "Learning-rate and batch-norm study."),
            ("02_tuned_loss", "Loss of the tuned run."),
            ("02_good_bad", "Best and worst validation faces (failure cases)."),
            ("02_conv1_filters", "The learned first-layer filters."),
        ),
        _face_model,
    ),
    Part(
        3,
        "68 landmarks on iBUG 300-W with ResNet18",
        "03_ibug_resnet18.ipynb",
        "ibug",
        "ResNet18 with a 136-output head regresses 68 landmarks from square crops around the "
        "face boxes (enlargement fitted on the training faces), trained from scratch with L1 "
        "loss and Adam. The input size and batch size come from a study at equal wall-clock "
        "time; training is in bfloat16 only where the machine runs it faster. Predictions are "
        "mapped back to original-image pixels for validation and for the Kaggle submission "
        "(results/kaggle_submission.csv; its score needs the course's hidden ground truth).",
        (
            ("val_nme", "validation NME (outer eye corners)", "pct"),
            ("val_auc8", "AUC of the CED curve up to 8% NME", "num"),
            ("val_failure8", "failure rate (NME > 8%)", "pct"),
            ("val_mae_px", "validation MAE (the Kaggle metric)", "px"),
            ("val_nme_mean_shape", "NME of always predicting the mean shape", "pct"),
            ("train_faces", "training faces", "int"),
            ("test_faces", "Kaggle test faces predicted", "int"),
        ),
        (
            ("03_crop_factor", "How much the face box must grow to hold every landmark."),
            ("03_augmented_crops", "Augmented training crops."),
            ("03_size_study", "Input size and batch size at equal wall-clock time."),
            ("03_lr_study", "Learning-rate study."),
            ("03_loss", "Training and validation loss."),
            ("03_ced", "Cumulative error distribution: mean shape against the model."),
            ("03_val_good_bad", "Best and worst validation faces (failure cases)."),
            ("03_test_predictions", "Predictions on Kaggle test faces."),
            ("03_own_photo", "The model on a photo that is not in the dataset."),
        ),
        _ibug_model,
    ),
    Part(
        4,
        "Heatmap models on all three datasets",
        "04_heatmaps.ipynb",
        "heatmaps",
        "Each keypoint becomes a Gaussian heatmap (sigma 1.5 map pixels); a fully convolutional "
        "model predicts the maps, and each point is read off its map by the argmax refined to "
        "sub-pixel precision (a Taylor step on the log map, DARK-style), averaged with the "
        "mirrored image's maps. IMM uses a small UNet (maps at stride 2). On 300-W two models "
        "are compared: ResNet18 with a UNet-style decoder back to stride 4, and the small UNet "
        "one level deeper; the better one makes the Kaggle file "
        "(results/kaggle_submission_heatmap.csv), and the better one under 25 MB ships as "
        "models/landmarks68.pt (until Part 5's release model beat it). The loss (Adaptive "
        "Wing) was chosen by a measured comparison "
        "with foreground-weighted MSE and soft-argmax L1. Same splits, seeds and augmentation "
        "as Parts 1-3.",
        (
            ("nose_tip_error_px", "nose tip, mean error at 640×480", "px"),
            ("full_face_error_px", "58 points, mean error at 640×480", "px"),
            ("ibug_val_nme", "300-W validation NME (the better heatmap model)", "pct"),
            ("ibug_val_auc8", "300-W AUC@8%", "num"),
            ("ibug_val_failure8", "300-W failure rate @8%", "pct"),
            ("unet_heatmaps_val_nme", "300-W NME, UNet heatmaps", "pct"),
            ("resnet18_heatmaps_val_nme", "300-W NME, ResNet18 heatmaps", "pct"),
            ("ibug_regression_val_nme", "300-W NME, Part 3's regression on the same faces", "pct"),
        ),
        (
            ("04_targets", "Target heatmaps over augmented IMM faces."),
            ("04_imm_loss", "58-point UNet: training and validation loss."),
            ("04_imm_heatmaps", "Predicted IMM heatmaps for the best and the worst face."),
            ("04_ibug_loss", "ResNet18 heatmap model on 300-W: training and validation loss."),
            ("04_ced", "Cumulative error distribution: mean shape, regression and heatmaps."),
            (
                "04_missed_got",
                "Where the models differ most: green truth, red heatmap, blue regression.",
            ),
            ("04_ibug_heatmaps", "Predicted 300-W heatmaps for the best and the worst face."),
        ),
        _heatmap_model,
    ),
    Part(
        5,
        "A release model, from a measured recipe study",
        "05_release.ipynb",
        "release",
        "Candidate recipes for the shipped 300-W model (stronger augmentation, more weight on "
        "the face outline, a deeper or wider UNet, larger crops) trained from one seed for the "
        "same wall-clock time and scored on Parts 3 and 4's validation faces, with their cost "
        "per face and the Pareto front (python -m helpers recipe-study). The chosen recipe then "
        "trains in one long, resumable release run (python -m helpers release, make release), "
        "which ships models/landmarks68.pt only if it beats the model shipped before it, and "
        "writes results/kaggle_submission_release.csv.",
        (
            ("val_nme", "300-W validation NME (mirrored prediction)", "pct"),
            ("val_auc8", "300-W AUC@8%", "num"),
            ("val_failure8", "300-W failure rate @8%", "pct"),
            ("val_nme_without_mirrored_prediction", "the same without the mirror", "pct"),
            ("shipped_val_nme", "the model shipped before it (Part 4's UNet), same faces", "pct"),
            ("regression_val_nme", "Part 3's regression, same faces", "pct"),
            ("ms_per_face_batch1", "ms per face, torch, batch 1, no mirror", "num"),
            ("onnx_ms_per_face_batch1", "ms per face, ONNX Runtime, batch 1, no mirror", "num"),
            ("parameters", "parameters", "int"),
        ),
        (
            ("05_recipe_study", "Candidate recipes at equal time: NME against ms/face."),
            ("05_release_ced", "Cumulative error distribution: release, Part 4's UNet, Part 3."),
            ("05_release_pareto", "The release model beside the study's candidates."),
            ("release_loss", "Training and validation loss of the release run."),
        ),
        _release_model,
    ),
    Part(
        6,
        "The fast model, distilled from the shipped one",
        "python -m helpers release --profile fast-refine-2",
        "fast_refine2",
        "A small network for video and for machines without much to spare: a stride-2 stem and "
        "depthwise-separable blocks (MobileNet's) down to stride 16, and a light decoder back to "
        "maps at stride 4, so nothing runs at the input's full resolution. It is trained on the "
        "same faces, splits and augmentation as Parts 3 and 4, with a loss that mixes the true "
        "points' Gaussian maps and the shipped model's own maps (distillation), and ships as "
        "models/landmarks68_fast.pt (--fast, Landmarker.load(fast=True)), with its ONNX export. "
        "It trains in three resumable runs: 60 epochs from random weights (--profile fast), then "
        "100 more from those (--profile fast-refine) and 100 more at half the learning rate "
        "(--profile fast-refine-2), as it still underfit.",
        (
            ("val_nme", "300-W validation NME (mirrored prediction)", "pct"),
            ("val_nme_without_mirrored_prediction", "the same without the mirror", "pct"),
            ("val_auc8", "300-W AUC@8%", "num"),
            ("val_failure8", "300-W failure rate @8%", "pct"),
            ("shipped_val_nme", "the shipped model it learned from, same faces", "pct"),
            ("onnx_ms_per_face_batch1", "ms per face, ONNX Runtime, batch 1, no mirror", "num"),
            ("ms_per_face_batch1", "ms per face, torch, batch 1, no mirror", "num"),
            ("parameters", "parameters", "int"),
        ),
        (
            ("fast_refine2_ced", "Cumulative error distribution: regression, shipped, fast model."),
            ("fast_refine2_loss", "Training and validation loss of the last 100 epochs."),
        ),
        _release_model,
    ),
    Part(
        7,
        "Landmarks on video, on a clip with ground truth",
        "python -m helpers clip --fast",
        "video_fast",
        "The fast model on video (python -m helpers video): a face is detected on the first frame "
        "and whenever the track is lost (then on every third frame until a face is found), "
        "otherwise the next crop comes from the last frame's points, and the points are "
        "smoothed over time by the One Euro filter. The clip is a "
        "real validation face moved across a 640×480 frame by known smooth similarity transforms "
        "(pan, zoom, rotation to ±25°, a still stretch, out of the frame and back) with sensor "
        "noise, so every frame's true points are known.",
        (
            ("tracking, smoothed/nme", "per-frame NME, tracking and One Euro smoothing", "pct"),
            ("tracking, raw/nme", "the same without smoothing", "pct"),
            ("detecting every frame/nme", "detecting on every frame instead", "pct"),
            ("smoothing_cuts_jitter_by", "smoothing cuts the jitter on the still stretch", "x"),
            ("tracking, smoothed/stale_frames", "frames with points while the face is away", "int"),
            ("tracking, smoothed/frames_to_find_again", "frames to find the face again", "int"),
            ("fps_end_to_end_640x480", "frames/s end to end at 640×480, file to file", "fps"),
            ("fps_end_to_end_640x480_sequential", "the same, decoding and encoding in turn", "fps"),
        ),
        (
            (
                "video_strip_fast",
                "Frames of the clip: green truth, red tracked and smoothed points.",
            ),
        ),
    ),
    Part(
        8,
        "What a point's confidence means",
        "python -m helpers confidence",
        "confidence",
        "Each point's confidence is its heatmap's peak above the map's floor, 0 to 1. On the "
        "221 validation faces, each point's error is set against its confidence; then the "
        "training augmentation's occluding patch is laid on every face, and the area under the "
        "ROC curve says how well a low confidence flags a point under it (0.5: blind to it).",
        (
            ("release UNet/occlusion_auc", "ROC area for a hidden point, release UNet", "num"),
            ("fast/occlusion_auc", "the same, fast model", "num"),
            ("release UNet/spearman_confidence_error", "Spearman (confidence, error)", "num"),
            ("release UNet/mean_confidence_covered", "mean confidence, hidden points", "num"),
            ("release UNet/mean_confidence_uncovered", "mean confidence, visible ones", "num"),
        ),
        (("confidence", "Mean point error by tenth of the confidence, both shipped models."),),
    ),
    Part(
        9,
        "Head pose, eyes and mouth",
        "python -m helpers pose-check",
        "pose",
        "A coarse head pose from the 68 points: SPIGA's mean 3D face (BSD-3) fitted by a "
        "perspective camera to the points that do not move with expression. Checked on 75 "
        "synthetic poses (yaw and pitch to ±60°, roll to ±45°, 1 px noise) and, as the roll, on "
        "the clip's known rotation. Each eye's aspect ratio and the mouth's opening come with "
        "every face, and on video a blink count.",
        (
            ("clip/release UNet/worst_roll_error", "worst roll error on the clip's turn", "deg"),
            ("clip/fast/worst_roll_error", "the same, fast model", "deg"),
            ("synthetic/0/worst_error/pitch", "worst pitch error, synthetic, 1 px noise", "deg"),
            ("synthetic/0/mean_error/pitch", "mean pitch error, synthetic, 1 px noise", "deg"),
        ),
        (
            ("demo_pose", "The pose's axes: red to the face's left, green up, blue forward."),
            ("clip_signals", "Eye aspect ratios and mouth opening over the clip (no blinks)."),
        ),
    ),
    Part(
        10,
        "In your browser",
        "python -m helpers web-check",
        "web",
        "The shipped models run in a web page with ONNX Runtime Web (python -m helpers web, "
        "make web), served from this machine (port 8000): a photo you drop gets its 68 points "
        "from the UNet and your webcam is tracked by the fast model, with nothing uploaded. "
        "The page finds faces with the landmark model's own confidence (no detector). Measured in "
        "headless Chromium against the Python package on the same machine.",
        (
            ("speed/unet/ms_per_face_chromium", "ms per face in Chromium, UNet", "ms"),
            ("speed/unet/ms_per_face_onnxruntime", "the same, native ONNX Runtime", "ms"),
            ("speed/fast/ms_per_face_chromium", "ms per face in Chromium, fast model", "ms"),
            ("speed/fast/ms_per_face_onnxruntime", "the same, native ONNX Runtime", "ms"),
            ("clip/nme_page", "NME on the clip by fake webcam, in the page", "pct"),
            ("clip/nme_python", "the same frames, Python's tracker", "pct"),
        ),
        (
            ("web_photo", "The page on a 300-W test photo: points by confidence, pose axes."),
            ("web_clip", "The page tracking the ground-truth clip from Chromium's fake camera."),
        ),
    ),
)

FORMATS = {
    "px": "{:.2f} px".format,
    "pct": lambda v: f"{100 * v:.2f}%",
    "num": "{:.3f}".format,
    "int": "{:,}".format,
    "x": "{:.1f}×".format,
    "fps": "{:.0f}".format,
    "deg": "{:.2f}°".format,
    "ms": "{:.2f} ms".format,
}

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { border: 1px solid #ccc;
        padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } figure { margin: 1.2em 0; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.92em; } .missing { color: #a00; }
details { margin: 0.6em 0; } code { background: #f5f5f5; padding: 0 0.2em; }
"""


def load_results(root: Path) -> dict[str, dict]:
    """Every results/<name>.json under root, by name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((root / "results").glob("*.json"))}


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _value(results: dict, key: str, fmt: str) -> str:
    """results[key] formatted; a key "a/b" reads results["a"]["b"] (and "a/0" a list's first)."""
    for name in key.split("/"):
        if isinstance(results, list) and name.isdigit() and int(name) < len(results):
            results = results[int(name)]
        elif not isinstance(results, dict) or name not in results:
            return "not reported"
        else:
            results = results[name]
    return "not measured" if results is None else FORMATS[fmt](results)


def _figure(root: Path, name: str, caption: str) -> str:
    if not (root / "figures" / f"{name}.png").is_file():
        return f'<p class="missing">Figure {name}.png was not produced by this run.</p>'
    return (
        f'<figure><img src="../figures/{name}.png" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _model_section(part: Part, results: dict) -> str:
    if part.model is None:
        return ""
    model, shape = part.model(results)
    rows = [(n, t, "×".join(map(str, s)), f"{p:,}") for n, t, s, p in layer_summary(model, shape)]
    title = f"Model: {type(model).__name__}, input {'×'.join(map(str, shape))}"
    return f"<h3>{html.escape(title)}</h3>" + _table(("layer", "type", "output", "params"), rows)


def _flat(settings: dict, prefix: str = "") -> dict:
    """Nested settings (a dataset's own, a network record) as one level: {"imm.lr": ...}."""
    flat = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        is_record = isinstance(value, dict) and value and "name" not in value  # not a network
        flat.update(_flat(value, f"{name}.") if is_record else {name: value})
    return flat


def part_section(root: Path, part: Part, results: dict | None) -> str:
    """One part's HTML: what was done, numbers, figures, model, settings, hardware and time."""
    head = f'<h2 id="part{part.number}">Part {part.number}: {html.escape(part.title)}</h2>'
    source = f"notebooks/{part.notebook}" if part.notebook.endswith(".ipynb") else part.notebook
    kind = "Notebook" if part.notebook.endswith(".ipynb") else "Command"
    intro = f"<p>{html.escape(part.done)} {kind}: <code>{html.escape(source)}</code>.</p>"
    if results is None:
        return (
            head
            + intro
            + f'<p class="missing"><strong>Not run yet:</strong> results/{part.results}.json '
            f"does not exist. Run <code>{html.escape(source)}</code> to fill this section.</p>"
        )
    numbers = _table(
        ("metric", "value"), [(label, _value(results, k, f)) for k, label, f in part.metrics]
    )
    profile = f"{results['profile']} profile on " if "profile" in results else ""
    seconds = results.get("notebook_seconds", results.get("seconds"))
    run = (
        f"<p>Run: {html.escape(profile)}"
        f"{html.escape(str(results.get('hardware', '?')))}"
        + ("" if seconds is None else f"; it took {seconds / 60:.1f} min")
        + (f", {html.escape(results['precision'])}" if "precision" in results else "")
        + ".</p>"
    )
    settings = _flat(results.get("settings", {}))
    settings_table = _table(("setting", "value"), sorted(settings.items()))
    figures = "".join(_figure(root, name, caption) for name, caption in part.figures)
    return (
        head
        + intro
        + run
        + numbers
        + figures
        + _model_section(part, results)
        + (
            f"<details><summary>Hyperparameters</summary>{settings_table}</details>"
            if settings
            else ""
        )
    )


def overview(all_results: dict[str, dict]) -> str:
    """The results table across parts: each part's headline metric, or 'not run'."""
    rows = []
    for part in PARTS:
        results = all_results.get(part.results)
        key, label, fmt = part.metrics[0]
        value = _value(results, key, fmt) if results else "not run"
        rows.append((f"{part.number}. {part.title}", label, value))
    return "<h2>Results</h2>" + _table(("part", "metric", "value"), rows)


def build(root: Path | None = None, out: Path | None = None) -> Path:
    """Write the page (at out, else root/writeup/index.html) from root/results and
    root/figures; return its path."""
    root = Path(root or output_dir())
    all_results = load_results(root)
    sections = "".join(part_section(root, p, all_results.get(p.results)) for p in PARTS)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Facial keypoint detection with neural networks</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Facial keypoint detection with neural networks</h1>"
        "<p>CS194-26/CS180 project write-up, built by <code>python -m helpers writeup</code> "
        "from <code>results/*.json</code> and <code>figures/*.png</code>.</p>"
        + overview(all_results)
        + sections
        + "</body></html>\n"
    )
    path = Path(out or root / "writeup" / "index.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="folder with results/, figures/")
    parser.add_argument("--screenshot", action="store_true", help="also save a PNG of the page")
    parser.add_argument(
        "--docs", action="store_true", help="also rewrite the tables of README.md and docs/"
    )
    args = parser.parse_args(argv)
    page = build(args.root)
    print(f"wrote {relative(page)}")
    if args.docs:
        for name in tables.PAGES:
            page = REPO_ROOT / name
            text = page.read_text()
            if tables.sync(text) != text:
                atomic_write(page, tables.sync(text))
                print(f"wrote the tables of {name}")
    if args.screenshot:
        from .browser import screenshot  # only this option needs Chromium

        shot = screenshot(page, page.parent.parent / "figures" / "writeup_page.png")
        print(f"wrote {relative(shot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
