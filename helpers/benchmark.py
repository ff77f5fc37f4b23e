"""Training throughput of the ResNet18 landmark model, and of the data loader that feeds it.

Usage: python -m helpers.benchmark [--size 128] [--batch 8] [--steps 3]
Prints the CPU or GPU, the precision `helpers.precision` chooses on it and why, training
images/s for float32, bfloat16 autocast and bfloat16 + channels-last (each as a ratio to
float32, measured in the same run), and the augmented loader's images/s with the worker count
training uses. The loader should be far faster than the training step: if not, it is the
bottleneck.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from . import precision
from .augment import Augment
from .config import device, hardware, loader_workers
from .datasets import KeypointDataset
from .models import LandmarkResNet

MODES = {  # name: (bfloat16 autocast, channels-last)
    "float32": (False, False),
    "bfloat16 autocast": (True, False),
    "bfloat16 + channels_last": (True, True),
}


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


def loader_images_per_second(size: int, batch: int, batches: int, workers: int) -> float:
    """Images per second out of an augmenting DataLoader over random uint8 face crops."""
    torch.manual_seed(0)
    count = batch * batches
    images = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8)
    points = torch.rand(count, 68, 2) * (size - 1)
    augment = Augment(perm=np.arange(68))
    data = KeypointDataset(images, points, grayscale=False, augment=augment)
    loader = DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    for _ in loader:  # worker start-up counts: training pays it once per epoch too
        pass
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"ResNet18 training, {args.size}x{args.size}, batch {args.batch}, on {hardware()}")
    chosen = precision.choose()
    print(f"training precision chosen: {chosen.name} ({chosen.reason})")
    baseline = None
    for name, (bf16, channels_last) in MODES.items():
        speed = images_per_second(bf16, channels_last, args.size, args.batch, args.steps)
        baseline = baseline or speed
        print(f"{name:26s} {speed:7.1f} images/s  ({speed / baseline:.2f}x float32)")
    workers = loader_workers()
    speed = loader_images_per_second(args.size, args.batch, 20, workers)
    print(
        f"{'loader with augmentation':26s} {speed:7.1f} images/s  ({speed / baseline:.1f}x the "
        f"float32 training step; {workers} worker processes)"
    )


if __name__ == "__main__":
    main()
