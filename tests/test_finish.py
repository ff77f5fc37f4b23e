"""The finishing step's ONNX export follows the profile: the quick profile ships without it, the
full profile and the release command export and time it."""

import numpy as np
import pytest
import torch
from factories import model_card

from helpers.inference.modelfile import ModelSettings
from helpers.nets import models
from helpers.training import finish
from helpers.training.evaluate import IbugScores


@pytest.fixture
def measured():
    """A tiny untrained heatmap UNet (32 px crops) and what measuring it would have given."""
    torch.manual_seed(0)
    model = models.UNet(68, 3, width=4, depth=2, stride=4)
    settings = ModelSettings(model.architecture, "heatmap", 32, 1.5, 0.04, 3, tuple(range(68)))
    scores = IbugScores(np.full(2, 0.1), auc8=0.1, failure8=0.5, by_group={}, by_subset={})
    return model, finish.Measured(settings, np.zeros((2, 68, 2)), scores, scores, (1.0, 2.0), 2)


@pytest.mark.parametrize(
    ("profile", "export_onnx", "exported"),
    [("quick", None, False), ("full", None, True), ("quick", True, True)],
)
def test_the_export_follows_the_profile_unless_told(
    tmp_path, monkeypatch, measured, profile, export_onnx, exported
):
    monkeypatch.setenv("FKD_PROFILE", profile)
    model, record = measured
    shipped = finish.ship_and_export(
        tmp_path / "m.pt", model, record, model_card(0.1), export_onnx=export_onnx
    )
    assert shipped.written and (tmp_path / "m.pt").is_file()
    assert (shipped.onnx is not None) == exported == (tmp_path / "m.onnx").is_file()
