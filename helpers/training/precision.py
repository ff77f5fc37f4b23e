"""Which precision to train in: bfloat16 only where this machine runs it faster than float32.

bfloat16 autocast halves the work on GPUs and on CPUs with native bfloat16 (AMX, AVX512-BF16),
but CPUs without it (AVX2-only AMD EPYCs, most laptops) emulate it at a tenth of float32's
speed. So the choice is made per machine: by the GPU's support, else by the CPU's capability
and a measured probe (about 1.5 s) of ResNet18's training step (batch 4, 128 px) in both.

FKD_PRECISION=bf16|fp32 overrides the choice (benchmarks, or to reproduce a run elsewhere).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..nets.models import LandmarkResNet

PROBE_MIN_SPEEDUP = 1.1  # bfloat16 must beat float32 by this much to be worth its rounding


@dataclass(frozen=True)
class Precision:
    """The chosen precision and why, for notebook headers and results files."""

    bf16: bool
    reason: str

    @property
    def name(self) -> str:
        return "bfloat16" if self.bf16 else "float32"

    def as_dict(self) -> dict:
        return {"precision": self.name, "precision_reason": self.reason}


def cpu_capability() -> str:
    """ATen's vector capability on this CPU: 'AVX2', 'AVX512', ... ('unknown' if not reported)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def training_step(
    bf16: bool, channels_last: bool, size: int = 128, batch: int = 4, dev: str = "cpu"
) -> Callable[[], None]:
    """One training step (forward, L1 loss, backward, Adam) of the Part 3 ResNet18 on a fixed
    random batch, as a closure to time: what the probe below and helpers.reports.benchmark
    measure."""
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = LandmarkResNet(pretrained=False).to(dev, memory_format=layout).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(batch, 3, size, size, device=dev).contiguous(memory_format=layout)
    targets = torch.rand(batch, model.num_points, 2, device=dev)

    def step() -> None:
        with torch.autocast(torch.device(dev).type, dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.l1_loss(model(images).float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def measured_cpu_speedup(rounds: int = 6) -> float:
    """bfloat16's speed over float32 on this CPU (> 1 means bfloat16 is faster).

    The two steps alternate and each keeps its fastest time, so a passing slowdown of a
    shared machine hits both alike or neither.
    """
    steps = {bf16: training_step(bf16, channels_last=bf16) for bf16 in (False, True)}
    for step in steps.values():
        step()  # warm-up: oneDNN picks its kernels here
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for bf16, step in steps.items():
            start = time.perf_counter()
            step()
            best[bf16] = min(best[bf16], time.perf_counter() - start)
    return best[False] / best[True]


def choose(requested: str = "auto", device_type: str | None = None) -> Precision:
    """The precision to train in: `requested` (a profile's bf16, fp32 or auto) unless
    FKD_PRECISION overrides it; auto decides by the hardware (measured once per process)."""
    forced = os.environ.get("FKD_PRECISION", "").lower()
    source = "FKD_PRECISION" if forced else "the profile"
    forced = forced or requested.lower()
    if forced in ("bf16", "fp32"):
        return Precision(forced == "bf16", f"set to {forced} by {source}")
    if forced != "auto":
        raise ValueError(f"precision must be bf16, fp32 or auto, got {forced!r} ({source})")
    return by_hardware(device_type or ("cuda" if torch.cuda.is_available() else "cpu"))


@functools.cache
def by_hardware(device_type: str) -> Precision:
    """bfloat16 where the GPU supports it, or where the CPU has it natively and a probe
    measures it faster than float32; float32 everywhere else."""
    if device_type == "cuda":
        name = torch.cuda.get_device_name(0)
        if torch.cuda.is_bf16_supported():
            return Precision(True, f"{name} supports bfloat16")
        return Precision(False, f"{name} lacks bfloat16")
    capability = cpu_capability()
    if "AVX512" not in capability and "AMX" not in capability:
        return Precision(False, f"CPU capability {capability}: no native bfloat16")
    speedup = measured_cpu_speedup()
    verdict = "faster" if speedup >= PROBE_MIN_SPEEDUP else "not faster"
    return Precision(
        speedup >= PROBE_MIN_SPEEDUP,
        f"CPU capability {capability}; a probe measured bfloat16 at {speedup:.2f}x float32 "
        f"({verdict} than the {PROBE_MIN_SPEEDUP}x needed)",
    )
