"""Training throughput of the ResNet18 landmark model: float32 against bfloat16 autocast.

Usage: python -m helpers.benchmark [--size 224] [--batch 32] [--steps 5]
Prints images per second for each mode and the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from .config import device, hardware
from .models import LandmarkResNet


def images_per_second(bf16: bool, size: int, batch: int, steps: int) -> float:
    """Training images per second over `steps` steps, after one warm-up step."""
    dev = device()
    torch.manual_seed(0)
    model = LandmarkResNet(pretrained=False).to(dev).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(batch, 3, size, size, device=dev)
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
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"ResNet18 training, {args.size}x{args.size}, batch {args.batch}, on {hardware()}")
    fp32 = images_per_second(False, args.size, args.batch, args.steps)
    print(f"float32:         {fp32:8.1f} images/s")
    bf16 = images_per_second(True, args.size, args.batch, args.steps)
    print(f"bfloat16 autocast: {bf16:6.1f} images/s  ({bf16 / fp32:.2f}x float32)")


if __name__ == "__main__":
    main()
