"""The one finishing step of a 300-W model, for the release command and notebooks 3 and 4:
score it on the validation faces (with and without the mirror), calibrate the face detector to
its training boxes, time it, then card, ship (only if better) and export it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from ..config import get_profile, relative
from ..data.ibug_prep import IbugData
from ..images import read_image
from ..inference.detect import calibrate_on
from ..inference.export import export
from ..inference.modelfile import SHIP_METRIC, ModelCard, ModelSettings, ship
from ..inference.timing import ms_per_face as ms_per_face_of
from ..inference.timing import onnx_or_none
from ..nets.models import for_inference
from .evaluate import IbugScores, crop_points, ibug_scores


def model_settings(data: IbugData, architecture: dict, readout: str) -> ModelSettings:
    """What a model trained on these crops needs saved beside its weights."""
    return ModelSettings(
        architecture,
        readout,
        data.size,
        data.crop_factor,
        data.crop_shift,
        1 if data.grayscale else 3,
        tuple(data.perm.tolist()),
    )


@dataclass(frozen=True)
class Measured:
    """A trained 300-W model as it will be used: its settings (with the detector calibration),
    its validation points and scores with and without the mirror, and its time per face."""

    settings: ModelSettings
    points: np.ndarray  # validation points (N, 68, 2), original-image pixels, mirror averaged
    scores: IbugScores
    plain: IbugScores  # without the mirrored prediction
    ms_per_face: tuple[float, float]  # batch 1, float32: (without, with the mirror)
    matched: int  # validation faces the detector found, to fit the calibration on

    def line(self) -> str:
        """What it scores and costs, in one printable line."""
        return (
            f"{self.scores.line()} (without the mirror: NME {100 * self.plain.mean:.2f}%); "
            f"{self.ms_per_face[0]:.2f} ms/face, {self.ms_per_face[1]:.2f} with the mirror"
        )


def measure(
    model: nn.Module,
    data: IbugData,
    readout: str,
    repeats: int = 50,
    scored: tuple[np.ndarray, IbugScores, IbugScores] | None = None,
    ms_per_face: tuple[float, float] | None = None,
) -> Measured:
    """Score, calibrate and time a trained model on the validation faces of `data`. A caller
    that has scored or timed the model as this does already passes what it found: `scored`
    (the mirror-averaged points, their scores, the scores without the mirror) and
    `ms_per_face` (without, with the mirror), and the work is not done twice."""
    model = for_inference(model)
    if scored is None:
        points, plain_points = (
            crop_points(model, data.val, data.val_squares, readout, perm)[0]
            for perm in (data.perm, None)
        )
        scored = (
            points,
            *(ibug_scores(p, data.true_px, data.subsets) for p in (points, plain_points)),
        )
    calibration, matched = calibrate_on((read_image(f.image_path), f.box) for f in data.val_faces)
    settings = model_settings(data, model.architecture, readout).with_calibration(calibration)
    if ms_per_face is None:
        ms_per_face = tuple(ms_per_face_of(model, settings, 1, m, repeats) for m in (False, True))
    return Measured(settings, *scored, tuple(ms_per_face), matched)


@dataclass(frozen=True)
class Shipped:
    """What shipping did: whether the file at `target` was replaced, and if so its ONNX export
    and that export's ms per face (batch 1, no mirror; None where ONNX Runtime is missing)."""

    target: Path
    written: bool
    metric: str  # what the shipped file and the new model were compared by
    onnx: Path | None = None
    onnx_ms_per_face: float | None = None

    def line(self) -> str:
        """What happened to the shipped file, in one printable line."""
        if not self.written:
            kept = f"kept: the model there scores as well or better ({self.metric})"
            return f"{relative(self.target)}: {kept}"
        onnx = "" if self.onnx is None else f", exported {relative(self.onnx)}"
        return f"{relative(self.target)}: written{onnx}"


def onnx_speed(path: Path, model: nn.Module, settings: ModelSettings) -> float | None:
    """ms/face at batch 1 without the mirror on ONNX Runtime, None where it is unavailable."""
    net = onnx_or_none(path, model)
    return None if net is None else ms_per_face_of(net, settings, 1, False, repeats=200)


def ship_and_export(
    target: Path,
    model: nn.Module,
    measured: Measured,
    card: ModelCard,
    mirrored: bool = True,
    export_onnx: bool | None = None,
) -> Shipped:
    """Ship the model to `target` if it beats the one there, compared the way it runs
    (SHIP_METRIC), then export it to ONNX beside it and time that export. export_onnx: None
    follows the notebooks' profile (config.Profile.export_onnx); the release passes True."""
    model, metric = for_inference(model), SHIP_METRIC[mirrored]
    if not ship(target, model, measured.settings, card, mirrored):
        return Shipped(target, False, metric)
    if not (get_profile().export_onnx if export_onnx is None else export_onnx):
        return Shipped(target, True, metric)
    onnx = export(target)
    return Shipped(target, True, metric, onnx, onnx_speed(target, model, measured.settings))
