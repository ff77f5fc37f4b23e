"""What a point's confidence means: its error on the validation faces, and how well it flags a
point hidden under a patch.

Usage: python -m helpers confidence [--rounds 4]

For each shipped model, run as `predict` runs it, on the 221 validation faces of notebooks 3
and 4: every point's error (over the face's outer-eye-corner distance) against its confidence,
by tenths of the confidence; then with the augmentation's occluding patch (2-15% of the crop,
at a random place, filled with noise) laid on each crop `--rounds` times, the area under the ROC
curve of "1 - confidence" for "this point is under the patch". Writes results/confidence.json
and figures/confidence.png.
"""

from __future__ import annotations

import argparse
import sys

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter, ScalarFormatter
from scipy.stats import rankdata, spearmanr

from .. import plots
from ..config import IbugConfig, relative
from ..crop import prepare_image
from ..data.batch_augment import erase, patch_boxes
from ..data.ibug_prep import IbugData, prepare
from ..geometry import normalized_errors
from ..inference.modelfile import DEFAULT_MODEL, FAST_MODEL
from ..inference.predict import Landmarker

BINS = np.linspace(0, 1, 11)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive scores above a negative (ties
    count half), by the rank-sum statistic."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if not n_pos or not n_neg:
        raise ValueError("the ROC area needs positives and negatives")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def covered(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which crop points (N, K, 2) lie under each crop's box (N, 4: top, left, height, width)."""
    top, left, tall, wide = (boxes[:, i, None] for i in range(4))
    x, y = points[..., 0], points[..., 1]
    return (x >= left - 0.5) & (x < left + wide - 0.5) & (y >= top - 0.5) & (y < top + tall - 0.5)


def by_tenths(confidence: np.ndarray, errors: np.ndarray) -> list[dict]:
    """Mean and median error, and the share of points, for each tenth of the confidence."""
    rows = []
    for low, high in zip(BINS[:-1], BINS[1:], strict=True):
        inside = (confidence >= low) & (confidence < high if high < 1 else confidence <= high)
        if inside.any():
            rows.append(
                {
                    "confidence": [round(float(low), 1), round(float(high), 1)],
                    "share": round(float(inside.mean()), 4),
                    "mean_error": round(float(errors[inside].mean()), 4),
                    "median_error": round(float(np.median(errors[inside])), 4),
                }
            )
    return rows


def measure(landmarker: Landmarker, data: IbugData, rounds: int) -> dict:
    """One model's error against confidence on the validation faces, and its occlusion AUC."""
    grey = landmarker.settings.in_channels == 1
    images = data.val.images

    def run(crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        ready = torch.stack([prepare_image(c, grey) for c in crops])
        return landmarker.from_crops(ready, data.val_squares)

    points, confidence = run(images)
    if confidence is None:
        raise ValueError("a coordinate regressor gives no confidence")
    errors = normalized_errors(points, data.true_px)
    generator = torch.Generator().manual_seed(0)
    hidden, conf_hidden = [], []
    for _ in range(rounds):
        boxes = patch_boxes(len(images), (data.size, data.size), generator)
        noise = torch.randint(0, 256, images.shape, generator=generator, dtype=torch.uint8)
        _, conf = run(erase(images, boxes, noise))
        hidden.append(covered(data.val.points.numpy(), boxes.numpy()))
        conf_hidden.append(conf)
    hidden, conf_hidden = np.concatenate(hidden).ravel(), np.concatenate(conf_hidden).ravel()
    rho = spearmanr(confidence.ravel(), errors.ravel()).statistic
    return {
        "points": int(errors.size),
        "spearman_confidence_error": round(float(rho), 3),
        "by_confidence": by_tenths(confidence.ravel(), errors.ravel()),
        "occlusion_rounds": rounds,
        "covered_points": int(hidden.sum()),
        "occlusion_auc": round(roc_auc(1 - conf_hidden, hidden), 3),
        "mean_confidence_covered": round(float(conf_hidden[hidden].mean()), 3),
        "mean_confidence_uncovered": round(float(conf_hidden[~hidden].mean()), 3),
    }


def figure(records: dict[str, dict]) -> plt.Figure:
    """Mean error by tenth of the confidence, one line per model."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, record in records.items():
        rows = record["by_confidence"]
        centres = [sum(r["confidence"]) / 2 for r in rows]
        ax.plot(centres, [100 * r["mean_error"] for r in rows], "o-", label=name)
    ax.set(xlabel="point confidence (tenths)", ylabel="mean point error (% of eye distance)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title("Validation faces: error against confidence")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    """Measure both shipped models' confidence; write the record and the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="patches laid on each face")
    args = parser.parse_args(argv)
    records = {}
    for name, path, fast in (("release UNet", DEFAULT_MODEL, False), ("fast", FAST_MODEL, True)):
        landmarker = Landmarker.load(path, fast=fast, runtime="torch")
        data = prepare(IbugConfig(crop_size=landmarker.size), max_train_faces=1)
        records[name] = {"model": relative(path), **measure(landmarker, data, args.rounds)}
        r = records[name]
        print(
            f"{name}: Spearman (confidence, error) {r['spearman_confidence_error']}; occlusion "
            f"AUC {r['occlusion_auc']} over {r['covered_points']:,} covered points"
        )
    print(plots.save_figure(figure(records), "confidence"))
    print(plots.save_results("confidence", records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
