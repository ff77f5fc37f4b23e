"""The networks: three regressors (nose-tip CNN, FacialPointsNet, ResNet18) and three heatmap
models (a small UNet, ResNet18 with an upsampling decoder, and FastNet, the fast 300-W model)."""

from __future__ import annotations

import contextlib
import inspect
import io
import math
from collections.abc import Mapping

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
        self.architecture = {
            "name": "LandmarkResNet",
            "num_points": num_points,
            "in_channels": in_channels,
        }
        self.net, self.pretrained = _resnet18(pretrained)
        if in_channels != 3:
            self.net.conv1 = adapt_first_conv(self.net.conv1, in_channels)
        self.net.fc = nn.Linear(self.net.fc.in_features, 2 * num_points)
        if mean_target is not None:
            start_at_mean(self.net.fc, mean_target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1, self.num_points, 2)


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 conv -> BatchNorm -> ReLU layers at one resolution."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class UpBlock(nn.Module):
    """Upsample x2, concatenate the encoder's skip at that resolution, then `conv` (two 3x3
    convs by default; FastNet uses one depthwise-separable block)."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, conv=None) -> None:
        super().__init__()
        self.conv = (conv or double_conv)(c_in + c_skip, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class UNet(nn.Module):
    """Part 4 on IMM: a small UNet giving one heatmap per point at `stride` (1, 2, 4, ...).

    `depth` downsamplings with widths width * 2**i; the decoder climbs back to the output
    stride only, since finer maps cost time and sub-pixel decoding recovers the rest.
    """

    def __init__(
        self,
        num_points: int,
        in_channels: int = 1,
        width: int = 16,
        depth: int = 3,
        stride: int = 2,
    ) -> None:
        super().__init__()
        self.architecture = {
            "name": "UNet",
            "num_points": num_points,
            "in_channels": in_channels,
            "width": width,
            "depth": depth,
            "stride": stride,
        }
        widths = [width * 2**i for i in range(depth + 1)]
        self.stride = stride
        self.down = nn.ModuleList(
            [double_conv(in_channels, widths[0])]
            + [double_conv(a, b) for a, b in zip(widths, widths[1:], strict=False)]
        )
        levels = int(math.log2(stride))  # decoder levels that are never reached
        self.up = nn.ModuleList(
            UpBlock(widths[i + 1], widths[i], widths[i]) for i in reversed(range(levels, depth))
        )
        self.head = nn.Conv2d(widths[levels], num_points, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for block in self.up:
            x = block(x, skips.pop())
        return self.head(x)


def ladder(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The encoder-decoder pass of HeatmapResNet and FastNet: stem, stages (each output kept
    as a skip), then up-blocks from the deepest stage back, each joining the next skip."""
    x, skips = model.stem(x), []
    for stage in model.stages:
        x = stage(x)
        skips.append(x)
    x = skips.pop()
    for block in model.up:
        x = block(x, skips.pop())
    return model.head(x)


class HeatmapResNet(nn.Module):
    """Part 4 on 300-W: ResNet18's stages as the encoder, and a decoder that climbs from
    stride 32 back to stride 4 with the stage outputs as skips (UNet-style), one map per point."""

    def __init__(
        self, num_points: int = 68, in_channels: int = 3, pretrained: bool = True, width: int = 128
    ) -> None:
        super().__init__()
        self.architecture = {
            "name": "HeatmapResNet",
            "num_points": num_points,
            "in_channels": in_channels,
            "width": width,
        }
        net, self.pretrained = _resnet18(pretrained)
        if in_channels != 3:
            net.conv1 = adapt_first_conv(net.conv1, in_channels)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.stages = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self.stride = 4
        self.up = nn.ModuleList(
            [UpBlock(512, 256, width), UpBlock(width, 128, width), UpBlock(width, 64, width)]
        )
        self.head = nn.Conv2d(width, num_points, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ladder(self, x)


def _resnet18(pretrained: bool) -> tuple[nn.Module, bool]:
    """ResNet18 with ImageNet weights when they load; else random init and a clear message."""
    if not pretrained:
        return resnet18(weights=None), False
    try:
        quiet = io.StringIO()  # torch.hub prints "Downloading: url to <cache path>" to stdout
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
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


def separable(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """MobileNet's block: a depthwise 3x3 conv (stride), then a pointwise 1x1, each with
    BatchNorm and ReLU; about a ninth of a full 3x3 conv's cost."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FastNet(nn.Module):
    """The fast 300-W model: a stride-2 stem, depthwise-separable stages at strides 4, 8 and
    16 (widths 2, 4 and 8 x `width`, `blocks` blocks each), and a light decoder that climbs
    back to maps at stride 4 with the stride-8 and stride-4 features as skips. Nothing runs at
    the input's full resolution, where the UNet spends most of its time."""

    def __init__(
        self,
        num_points: int = 68,
        in_channels: int = 3,
        width: int = 16,
        blocks: tuple[int, ...] = (2, 2, 4),
    ) -> None:
        super().__init__()
        self.architecture = {
            "name": "FastNet",
            "num_points": num_points,
            "in_channels": in_channels,
            "width": width,
            "blocks": list(blocks),
        }
        self.stride = 4
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        widths = [width * 2 ** (i + 1) for i in range(len(blocks))]
        stages, c_in = [], width
        for c_out, n in zip(widths, blocks, strict=True):
            stages.append(
                nn.Sequential(
                    separable(c_in, c_out, 2), *(separable(c_out, c_out) for _ in range(n - 1))
                )
            )
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.up = nn.ModuleList(
            UpBlock(widths[i + 1], widths[i], widths[i], conv=separable)
            for i in reversed(range(len(blocks) - 1))
        )
        self.head = nn.Conv2d(widths[0], num_points, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ladder(self, x)


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


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "LandmarkResNet": LandmarkResNet,
    "HeatmapResNet": HeatmapResNet,
    "UNet": UNet,
    "FastNet": FastNet,
}


def build(architecture: Mapping, **given) -> nn.Module:
    """A fresh model from a network record {"name": class name, **constructor arguments}: a
    config's, or the `architecture` a saved model records. `given` adds arguments the data sets
    (num_points, in_channels). ImageNet weights only when given pretrained=True: saved weights
    replace any start."""
    kwargs = {**architecture, **given}
    name = kwargs.pop("name")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}")
    parameters = inspect.signature(ARCHITECTURES[name]).parameters
    if "pretrained" in parameters:
        kwargs.setdefault("pretrained", False)
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(f"{name} takes no {', '.join(unknown)}")
    return ARCHITECTURES[name](**kwargs)


def for_inference(model: nn.Module) -> nn.Module:
    """The model as every inference path runs it: on the CPU, float32, evaluation mode, and
    channels-last, where oneDNN's float32 convolutions run faster than in torch's default
    layout (benchmark --inference times both; docs/speed.md)."""
    return model.cpu().float().eval().to(memory_format=torch.channels_last)
