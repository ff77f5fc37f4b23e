"""Small objects the tests build in several files."""

from pathlib import Path

import torch

from helpers.inference.modelfile import ModelCard, ModelSettings, save_landmarker
from helpers.nets import models


def model_card(val_nme: float, plain: float | None = None) -> ModelCard:
    """A model card with these validation NMEs (with the mirror, and without: `plain`, by
    default the same); the rest is filler."""
    return ModelCard(
        model="a test model", trained_by="tests", data="none", input="64 px", settings={},
        val_nme=val_nme, val_auc8=0.5, val_failure8=0.01,
        val_nme_without_mirrored_prediction=val_nme if plain is None else plain,
        ms_per_face_batch1=1.0, ms_per_face_batch1_mirrored=2.0, precision="float32",
        hardware="a CPU", train_seconds=1.0,
    )  # fmt: skip


def tiny_model_file(folder: Path) -> Path:
    """A saved, untrained tiny heatmap UNet (32 px crops): for the command's plumbing, fast."""
    torch.manual_seed(0)
    model = models.UNet(68, 3, width=4, depth=2, stride=4)
    settings = ModelSettings(model.architecture, "heatmap", 32, 1.5, 0.04, 3, tuple(range(68)))
    return save_landmarker(folder / "m.pt", model, settings)
