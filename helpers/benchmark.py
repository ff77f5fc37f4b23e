"""Training throughput of the ResNet18 landmark model: float32 against bfloat16 autocast.

Usage: python -m helpers.benchmark [--size 224] [--batch 16] [--steps 3]
Prints images per second for each mode and its ratio to float32, measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from .config import device, hardware
from .models import LandmarkResNet


def images_per_second(bf16: bool, channels_last: bool, size: int, batch: int, steps: int) -> float:
    """Training images per second over `steps` steps, after one warm-up step."""
    dev = device()
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = LandmarkResNet(pretrained=False).to(dev, memory_format=layout).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(batch, 3, size, size, device=dev).contiguous(memory_format=layout)
    targets = torch.rand(batch, 68, 2, device=dev)

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.l1_loss(model(images).float(), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"ResNet18 training, {args.size}x{args.size}, batch {args.batch}, on {hardware()}")
    modes = {
        "float32": (False, False),
        "bfloat16 autocast": (True, False),
        "bfloat16 + channels_last": (True, True),
    }
    baseline = None
    for name, (bf16, channels_last) in modes.items():
        speed = images_per_second(bf16, channels_last, args.size, args.batch, args.steps)
        baseline = baseline or speed
        print(f"{name:26s} {speed:7.1f} images/s  ({speed / baseline:.2f}x float32)")


if __name__ == "__main__":
    main()
