"""A 300-W training recipe (config.ReleaseConfig) made concrete: its network, its loss and its
data; shared by the release run and the recipe study so that both train the same things."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..config import IbugConfig, ReleaseConfig
from ..data.ibug import GROUPS, NUM_POINTS
from ..data.ibug_prep import IbugData, prepare
from ..data.pack import as_stored
from ..nets import models
from .losses import HeatmapLoss


def student_builder(cfg: ReleaseConfig):
    """A builder of the recipe's fresh network."""
    return partial(models.build, cfg.network, num_points=NUM_POINTS, in_channels=3)


def warm_start(build, model: nn.Module):
    """A builder of the recipe's network that starts from `model`'s weights (the same
    network: a mismatch fails loudly in load_state_dict)."""
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def build_warm() -> nn.Module:
        fresh = build()
        fresh.load_state_dict(weights)
        return fresh

    return build_warm


def recipe_loss(cfg: ReleaseConfig) -> HeatmapLoss:
    """The recipe's heatmap loss, with its weight on the face outline (1: none)."""
    weights = None
    if cfg.jaw_weight != 1.0:
        weights = torch.ones(NUM_POINTS)
        weights[GROUPS["jaw"]] = cfg.jaw_weight
    return HeatmapLoss(cfg.loss, cfg.sigma, point_weights=weights)


def recipe_data(cfg: ReleaseConfig) -> IbugData:
    """Notebooks 3 and 4's split and validation faces, cropped and augmented as the recipe says,
    with the training crops as a pack stores them (helpers.data.pack), so that training from
    the XML and from a pack give the same model."""
    ibug_cfg = IbugConfig(crop_size=cfg.crop_size, augmentation=cfg.augmentation)
    return as_stored(prepare(ibug_cfg, cfg.max_train_faces))
