"""Scores on validation faces: IMM errors in pixels of the original photos, and the 300-W
summary (NME, AUC@8%, failure rate @8%, by group of points and by subset)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..config import REPO_ROOT, relative, results_dir
from ..crop import crops_to_image
from ..data.datasets import to_original
from ..data.ibug import GROUPS, NUM_POINTS, IbugFace
from ..data.ibug_prep import IbugData
from ..data.imm import ImmFace
from ..geometry import auc, failure_rate, nme, nme_by_group, point_errors
from ..nets.readout import predict


def imm_errors(
    model: nn.Module,
    data: Dataset,
    faces: Sequence[ImmFace],
    size: tuple[int, int],
    readout: str = "regression",
    perm: np.ndarray | None = None,
    point_ids: Sequence[int] | None = None,
) -> np.ndarray:
    """Per-face, per-point errors (N, K) in pixels of the 640x480 photos; perm adds the
    mirrored prediction; point_ids picks the points the model predicts."""
    pred, _, _ = predict(model, DataLoader(data, batch_size=16), readout, perm)
    truth = np.stack([f.points if point_ids is None else f.points[list(point_ids)] for f in faces])
    return point_errors(to_original(pred, faces, size), truth)


def crop_points(
    model: nn.Module,
    data: Dataset,
    squares: np.ndarray,
    readout: str = "regression",
    perm: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Original-image points (N, K, 2) of face crops cut from `squares`, and the heatmap
    confidences (N, K) (None for a regressor)."""
    pred, confidence, _ = predict(model, DataLoader(data, batch_size=64), readout, perm)
    return crops_to_image(pred, squares, data.size[0]), confidence


def mean_by(values: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean of `values` per label (for example NME by 300-W subset), labels sorted."""
    return {str(s): round(float(values[labels == s].mean()), 4) for s in sorted(set(labels))}


@dataclass(frozen=True)
class IbugScores:
    """A 300-W model's validation scores: per-face NME and its summaries."""

    nme: np.ndarray  # per face
    auc8: float
    failure8: float
    by_group: dict[str, float]
    by_subset: dict[str, float]

    @property
    def mean(self) -> float:
        return float(self.nme.mean())

    def line(self) -> str:
        """One printable line: NME, AUC@8% and failure rate."""
        return (
            f"NME {100 * self.mean:.2f}% | AUC@8% {self.auc8:.3f} | "
            f"failure rate @8% {100 * self.failure8:.1f}%"
        )

    def as_dict(self, prefix: str = "val_") -> dict:
        """The summaries for a results file or a model card, rounded."""
        return {
            f"{prefix}nme": round(self.mean, 5),
            f"{prefix}auc8": round(self.auc8, 4),
            f"{prefix}failure8": round(self.failure8, 4),
            f"{prefix}nme_by_group": {g: round(v, 4) for g, v in self.by_group.items()},
            f"{prefix}nme_by_subset": self.by_subset,
        }


def ibug_scores(pred_px: np.ndarray, true_px: np.ndarray, subsets: np.ndarray) -> IbugScores:
    """Score predictions in original-image pixels against the truth; subsets label each face."""
    per_face = nme(pred_px, true_px)
    return IbugScores(
        per_face,
        auc(per_face, 0.08),
        failure_rate(per_face, 0.08),
        nme_by_group(pred_px, true_px, GROUPS),
        mean_by(per_face, np.asarray(subsets)),
    )


def imm_mean_error(model: nn.Module, data: Dataset, faces, size, readout="regression") -> float:
    """Mean error in pixels of the 640x480 photos: a study's score."""
    return float(imm_errors(model, data, faces, size, readout).mean())


def ibug_mean_nme(model: nn.Module, data: IbugData, readout: str = "regression") -> float:
    """Mean validation NME without the mirrored prediction: a study's score."""
    pred_px, _ = crop_points(model, data.val, data.val_squares, readout)
    return float(nme(pred_px, data.true_px).mean())


REGRESSION_POINTS = "ibug_regression_val_points.csv"  # Part 3's validation points, per face


def save_part3_points(points: np.ndarray) -> Path:
    """Write Part 3's validation points (N, 68, 2) to results/, where notebook 4 and the
    release compare with them."""
    path = results_dir() / REGRESSION_POINTS
    np.savetxt(path, points.reshape(len(points), -1), fmt="%.2f", delimiter=",")
    return path


def part3_points(faces: Sequence[IbugFace]) -> tuple[np.ndarray, str]:
    """Part 3's regression points (N, 68, 2) on the validation faces and the file they came
    from: those notebook 3 saved in this run's results/, else the committed ones."""
    saved = results_dir() / REGRESSION_POINTS
    saved = saved if saved.is_file() else REPO_ROOT / "results" / REGRESSION_POINTS
    points = np.loadtxt(saved, delimiter=",", ndmin=2).reshape(-1, NUM_POINTS, 2)
    if len(points) != len(faces):
        raise ValueError(f"{relative(saved)} has {len(points)} faces, expected {len(faces)}")
    return points, relative(saved)
