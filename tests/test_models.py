"""The ResNet18 landmark model (adapted first convolution, output shape) and training loops."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers.nets import models
from helpers.training import train


def test_grey_first_conv_computes_what_rgb_did_on_a_grey_image():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    grey = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(
        models.adapt_first_conv(conv, 1)(grey), conv(grey.expand(-1, 3, -1, -1))
    )


def test_landmark_model_starts_at_the_mean_shape():
    mean = torch.rand(68, 2)
    model = models.LandmarkResNet(pretrained=False, mean_target=mean).eval()
    out = model(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 68, 2)
    assert (out - mean).abs().max() < 0.05  # the head starts near the mean shape


def test_fit_for_seconds_stops_on_time_and_decays_the_learning_rate():
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 4), torch.randn(64, 2))
    model = torch.nn.Linear(4, 2)
    history = train.fit(
        model,
        DataLoader(data, batch_size=4),
        DataLoader(data, batch_size=64),
        None,
        1e-2,
        seconds=0.5,
    )
    assert 0.5 <= history.seconds < 3 and len(history.val) == len(history.times) >= 1
    assert history.times == sorted(history.times)
    budget = train.TimeBudget(seconds=10.0, lr=1.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    assert budget.step(optimizer) and optimizer.param_groups[0]["lr"] == pytest.approx(1, 1e-3)
    budget.start -= 5.0  # half way: cosine gives half the learning rate
    assert budget.step(optimizer) and optimizer.param_groups[0]["lr"] == pytest.approx(0.5, 1e-2)
    budget.start -= 5.0
    assert not budget.step(optimizer) and optimizer.param_groups[0]["lr"] == pytest.approx(0)


def test_layer_summary_follows_the_forward_pass():
    rows = models.layer_summary(models.NoseNet((80, 60)), (1, 60, 80))
    names = [name for name, *_ in rows]
    assert names == [
        "features.0",
        "features.1",
        "features.2",
        "head.0",
        "head.1",
        "head.2",
        "head.3",
    ]
    assert rows[0][2] == (16, 30, 40) and rows[-1][2] == (2,)
    assert sum(params for *_, params in rows) == models.count_parameters(models.NoseNet((80, 60)))
    resnet = models.layer_summary(models.LandmarkResNet(pretrained=False), (3, 128, 128))
    assert resnet[0][:2] == ("net.conv1", "Conv2d") and resnet[-1][2] == (136,)


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_unet_gives_one_map_per_point_at_its_stride(stride):
    model = models.UNet(num_points=5, in_channels=1, width=4, depth=3, stride=stride).eval()
    out = model(torch.zeros(2, 1, 48, 64))
    assert out.shape == (2, 5, 48 // stride, 64 // stride)


def test_heatmap_resnet_maps_are_at_stride_four():
    model = models.HeatmapResNet(num_points=68, pretrained=False, width=16).eval()
    assert model(torch.zeros(1, 3, 128, 128)).shape == (1, 68, 32, 32)


def test_build_makes_the_architecture_a_saved_model_names():
    model = models.build({"name": "UNet", "num_points": 3, "in_channels": 3, "width": 4})
    assert isinstance(model, models.UNet) and model.head.out_channels == 3
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build({"name": "Transformer"})


def test_build_adds_what_the_data_sets_and_refuses_what_the_network_does_not_take():
    model = models.build({"name": "FastNet", "width": 8, "blocks": (1, 1, 1)}, num_points=5)
    assert model.architecture["num_points"] == 5 and model.architecture["blocks"] == [1, 1, 1]
    assert not models.build({"name": "HeatmapResNet", "width": 8}).pretrained  # saved weights
    with pytest.raises(ValueError, match="UNet takes no blocks"):
        models.build({"name": "UNet", "blocks": (1,)}, num_points=5)


def test_every_configured_network_is_a_record_build_turns_into_a_model():
    from helpers import config

    recipes = [*config.RELEASES.values()]
    recipes += [cfg for study in config.RECIPE_STUDIES.values() for cfg in study.values()]
    records = [cfg.network for cfg in recipes]
    for profile in config.PROFILES.values():
        maps = profile.heatmap
        records += [maps.imm.network, maps.ibug.resnet, maps.ibug.unet]
    for record in records:
        model = models.build(record, num_points=68, in_channels=3)
        assert {k: v for k, v in model.architecture.items() if k in record} == {
            k: list(v) if isinstance(v, tuple) else v for k, v in record.items()
        }
