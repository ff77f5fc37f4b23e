"""The ResNet18 landmark model: adapted first convolution and output shape."""

import torch

from helpers import models


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
