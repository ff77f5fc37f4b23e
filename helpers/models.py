"""The three regressors: a small nose-tip CNN, FacialPointsNet and a ResNet18 head."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18


def conv_block(c_in: int, c_out: int, kernel: int, batch_norm: bool = False) -> nn.Sequential:
    """Conv (same padding) -> [BatchNorm] -> ReLU -> 2x2 max-pool."""
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=not batch_norm)
    norm = [nn.BatchNorm2d(c_out)] if batch_norm else []
    return nn.Sequential(conv, *norm, nn.ReLU(), nn.MaxPool2d(2))


def flat_size(features: nn.Module, in_channels: int, size: tuple[int, int]) -> int:
    """Number of features after `features` for an input of size (W, H)."""
    with torch.no_grad():
        return features(torch.zeros(1, in_channels, size[1], size[0])).numel()


class NoseNet(nn.Module):
    """Part 1: 3 conv blocks and 2 fully connected layers, predicting one (x, y)."""

    def __init__(
        self,
        size: tuple[int, int] = (80, 60),
        channels: int = 16,
        kernel: int = 5,
        hidden: int = 128,
        batch_norm: bool = False,
        num_points: int = 1,
    ) -> None:
        super().__init__()
        self.num_points = num_points
        c, bn = channels, batch_norm
        self.features = nn.Sequential(
            conv_block(1, c, kernel, bn),
            conv_block(c, 2 * c, kernel, bn),
            conv_block(2 * c, 4 * c, 3, bn),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat_size(self.features, 1, size), hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * num_points),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1, self.num_points, 2)


class FacialPointsNet(nn.Module):
    """Part 2: five 5x5 conv blocks (16-32-64-96-128), fc 2048, fc 2*K outputs."""

    def __init__(
        self, size: tuple[int, int] = (240, 180), num_points: int = 58, batch_norm: bool = False
    ) -> None:
        super().__init__()
        widths = [1, 16, 32, 64, 96, 128]
        self.features = nn.Sequential(
            *(conv_block(a, b, 5, batch_norm) for a, b in zip(widths, widths[1:], strict=False))
        )
        self.num_points = num_points
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat_size(self.features, 1, size), 2048),
            nn.ReLU(),
            nn.Linear(2048, 2 * num_points),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1, self.num_points, 2)


class LandmarkResNet(nn.Module):
    """Part 3: torchvision ResNet18 whose classifier regresses 2*K coordinates."""

    def __init__(
        self,
        num_points: int = 68,
        in_channels: int = 3,
        pretrained: bool = True,
        mean_target: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.num_points = num_points
        self.net, self.pretrained = _resnet18(pretrained)
        if in_channels != 3:
            self.net.conv1 = adapt_first_conv(self.net.conv1, in_channels)
        self.net.fc = nn.Linear(self.net.fc.in_features, 2 * num_points)
        if mean_target is not None:
            start_at_mean(self.net.fc, mean_target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1, self.num_points, 2)


def _resnet18(pretrained: bool) -> tuple[nn.Module, bool]:
    """ResNet18 with ImageNet weights when they load; else random init and a clear message."""
    if not pretrained:
        return resnet18(weights=None), False
    try:
        return resnet18(weights=ResNet18_Weights.IMAGENET1K_V1), True
    except Exception as err:  # offline, proxy, or corrupt cache: all mean "no weights"
        print(
            "ImageNet weights for ResNet18 could not be loaded "
            f"({type(err).__name__}: {str(err)[:120]}). Training from scratch instead."
        )
        return resnet18(weights=None), False


def adapt_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A copy of conv for in_channels inputs; RGB weights are averaged so features survive."""
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        mean = conv.weight.mean(dim=1, keepdim=True)
        new.weight.copy_(mean.repeat(1, in_channels, 1, 1) * (3 / in_channels))
    return new


def start_at_mean(layer: nn.Linear, mean_target: torch.Tensor) -> None:
    """Make an output layer start by predicting the mean shape, so training learns residuals."""
    with torch.no_grad():
        layer.weight.mul_(0.01)
        layer.bias.copy_(mean_target.reshape(-1))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_summary(
    model: nn.Module, input_shape: tuple[int, ...], depth: int = 2
) -> list[tuple[str, str, tuple[int, ...], int]]:
    """(name, layer type, output shape, parameters) of each module `depth` levels down, in the
    order a forward pass of one zero input of `input_shape` reaches them."""
    rows, hooks = [], []
    for name, module in model.named_modules():
        if name.count(".") == depth - 1:

            def record(mod, _inp, out, name=name):
                shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()
                rows.append((name, type(mod).__name__, shape, count_parameters(mod)))

            hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return rows
