"""The results records of notebooks 1-4 (results/nose_tip.json, full_face.json, ibug.json,
heatmaps.json): the keys the write-up, the README and the tests read, written once here rather
than in cells. IMM errors are in pixels of the 640x480 photos."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..config import Profile, profile_dict
from ..data.imm import GROUPS as IMM_GROUPS
from ..data.imm import NOSE_TIP
from ..geometry import point_errors

if TYPE_CHECKING:  # annotations only: notebooks 1 and 2 need none of the 300-W or finishing code
    from ..data.ibug_prep import IbugData
    from .evaluate import IbugScores
    from .finish import Measured, Shipped
    from .precision import Precision
    from .train import History


def part1(
    *,
    err_full: np.ndarray,
    err_small: np.ndarray,
    history: History,
    epochs: int,
    profile: Profile,
    started: float,
) -> dict:
    """results/nose_tip.json: the nose-tip regressor's validation errors, at 640x480 and at
    the model's input size, and its training time."""
    return {
        "val_mean_error_px": round(float(err_full.mean()), 2),
        "val_median_error_px": round(float(np.median(err_full)), 2),
        "val_mean_error_px_80x60": round(float(err_small.mean()), 3),
        "epochs": epochs,
        "train_seconds": round(history.seconds, 1),
        **_timed(profile, "nose", started),
    }


def part2(
    *,
    seed_err: np.ndarray,
    tuned_err: np.ndarray,
    tuned_err_plain: np.ndarray,
    histories: Mapping[str, History],
    epochs: Mapping[str, int],
    input_size: tuple[int, int],
    profile: Profile,
    started: float,
) -> dict:
    """results/full_face.json: the 58-point regressor with the course's seed settings and
    tuned (errors (faces, points), the tuned one with the mirrored prediction and without);
    the better of the two is the part's result."""
    best, best_err = min((("seed", seed_err), ("tuned", tuned_err)), key=lambda x: x[1].mean())
    return {
        "val_mean_error_px": round(float(best_err.mean()), 2),
        "val_error_px_by_group": {
            g: round(float(best_err[:, idx].mean()), 2) for g, idx in IMM_GROUPS.items()
        },
        "best_run": best,
        "seed_val_mean_error_px": round(float(seed_err.mean()), 2),
        "tuned_val_mean_error_px": round(float(tuned_err.mean()), 2),
        "tuned_val_mean_error_px_without_tta": round(float(tuned_err_plain.mean()), 2),
        "epochs": dict(epochs),
        "input_size": list(input_size),
        "train_seconds": {k: round(h.seconds, 1) for k, h in histories.items()},
        **_timed(profile, "face", started),
    }


def _timed(profile: Profile, part: str, started: float) -> dict:
    """The keys every notebook record ends with: the notebook's time, settings and profile."""
    return {
        "notebook_seconds": round(time.perf_counter() - started, 1),
        "settings": profile_dict(profile, part),
        "profile": profile.name,
    }


def _finished(measured: Measured, shipped: Shipped) -> dict:
    """How the model was finished: time per face, the detector calibration, shipped or not."""
    return {
        "ms_per_face_batch1": round(measured.ms_per_face[0], 2),
        "ms_per_face_batch1_mirrored": round(measured.ms_per_face[1], 2),
        "detector_calibration": [
            round(float(v), 4) for v in measured.settings.detector_calibration
        ],
        "shipped_landmarks68": shipped.written,
    }


def _study(scores: Mapping[str, float], digits: int) -> dict[str, float]:
    return {name: round(float(score), digits) for name, score in scores.items()}


def part3(
    *,
    data: IbugData,
    measured: Measured,
    shipped: Shipped,
    pretrained: bool,
    epochs: int,
    mean_shape_nme: np.ndarray,
    size_study: Mapping[str, float],
    lr_study: Mapping[str, float],
    history: History,
    prec: Precision,
    profile: Profile,
    started: float,
    ablation: tuple[int, IbugScores] | None = None,
) -> dict:
    """results/ibug.json: Part 3's ResNet18 regressor on 300-W, its studies and its cost.
    ablation: the faces and scores of the same recipe trained without LFPW."""
    pred_px, true_px = measured.points, data.true_px
    record = {
        "val_mae_px": round(float(np.abs(pred_px - true_px).mean()), 3),  # the Kaggle metric
        **measured.scores.as_dict("val_"),
        "val_nme_without_mirrored_prediction": round(measured.plain.mean, 5),
        "val_mean_point_error_px": round(float(point_errors(pred_px, true_px).mean()), 3),
        "val_nme_mean_shape": round(float(mean_shape_nme.mean()), 5),
        "val_faces": len(data.val_faces),
        "train_faces": len(data.train_faces),
        "test_faces": len(data.test_faces),
        "pretrained": pretrained,
        "crop_factor": data.crop_factor,
        "crop_shift": data.crop_shift,
        "crop_size": data.size,
        "epochs": epochs,
        "size_study_nme": _study(size_study, 5),
        "lr_study_nme": _study(lr_study, 5),
        **_finished(measured, shipped),
        "train_seconds": round(history.seconds, 1),
        "train_images_per_second": round(epochs * len(data.train_faces) / history.seconds, 1),
        **prec.as_dict(),
        **_timed(profile, "ibug", started),
    }
    if ablation is not None:
        faces, scores = ablation
        record["ablation_without_lfpw"] = {
            "train_faces": faces,
            "epochs": epochs,
            "val_nme": round(scores.mean, 5),
            "val_nme_by_subset": scores.by_subset,
        }
    return record


def part4(
    *,
    data: IbugData,
    nose_err: np.ndarray,
    face_err: np.ndarray,
    face_err_plain: np.ndarray,
    scores: Mapping[str, tuple[IbugScores, IbugScores]],
    best: str,
    best_architecture: dict,
    regression: IbugScores,
    mean_shape_nme: np.ndarray,
    speed: Mapping[str, tuple[float, float]],
    loss_study_imm_px: Mapping[str, float],
    loss_study_ibug_nme: Mapping[str, float],
    train_seconds: Mapping[str, float],
    shipped_name: str,
    measured: Measured,
    shipped: Shipped,
    prec: Precision,
    profile: Profile,
    started: float,
) -> dict:
    """results/heatmaps.json: Part 4's heatmap models on IMM (errors in px at 640x480, nose
    tip and 58 points, with the mirrored prediction) and on 300-W (scores: per model, with and
    without the mirror; best: the one that stands for heatmaps), beside Part 3's regression."""
    nose_58 = float(face_err[:, NOSE_TIP].mean())
    best_scores = scores[best][0]
    return {
        "nose_tip_error_px": round(min(float(nose_err.mean()), nose_58), 2),
        "nose_tip_error_px_nose_model": round(float(nose_err.mean()), 2),
        "nose_tip_error_px_58_point_model": round(nose_58, 2),
        "full_face_error_px": round(float(face_err.mean()), 2),
        "full_face_error_px_without_mirrored_prediction": round(float(face_err_plain.mean()), 2),
        "full_face_error_px_by_group": {
            g: round(float(face_err[:, idx].mean()), 2) for g, idx in IMM_GROUPS.items()
        },
        "ibug_model": best,
        "ibug_architecture": best_architecture,
        "crop_size": data.size,
        **best_scores.as_dict("ibug_val_"),
        **{
            f"{model_key(name)}_val_nme{suffix}": round(s.mean, 5)
            for name, both in scores.items()
            for suffix, s in zip(("", "_without_mirrored_prediction"), both, strict=True)
        },
        **{k: v for k, v in regression.as_dict("ibug_regression_val_").items() if "by" not in k},
        "ibug_mean_shape_val_nme": round(float(mean_shape_nme.mean()), 5),
        "ms_per_face_batch1": {k: round(v[0], 2) for k, v in speed.items()},
        "ms_per_face_batch1_mirrored": {k: round(v[1], 2) for k, v in speed.items()},
        "shipped_model": shipped_name,
        "loss_study_imm_px": _study(loss_study_imm_px, 2),
        "loss_study_ibug_nme": _study(loss_study_ibug_nme, 5),
        "shipped_landmarks68": shipped.written,
        "kaggle_model": best,
        "detector_calibration": [
            round(float(v), 4) for v in measured.settings.detector_calibration
        ],
        "train_seconds": {k: round(v, 1) for k, v in train_seconds.items()},
        **prec.as_dict(),
        **_timed(profile, "heatmap", started),
    }


def model_key(model_name: str) -> str:
    """'ResNet18 heatmaps' -> 'resnet18_heatmaps', the records' spelling of a model's name."""
    return model_name.lower().replace(" ", "_")
