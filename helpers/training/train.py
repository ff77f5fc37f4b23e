"""A plain training loop with progress bars and per-epoch checkpoints, and its data loaders."""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..config import cache_dir, relative
from ..config import device as default_device
from ..files import atomic_write
from ..progress import progress


@dataclass
class History:
    """Per-epoch mean losses, the wall-clock seconds at each epoch's end, and the total."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)


@dataclass
class TimeBudget:
    """Cosine learning-rate decay over wall-clock seconds rather than epochs; then it stops.

    Runs given the same budget compare fairly across input sizes and batch sizes, whose
    epochs cost different times.
    """

    seconds: float
    lr: float
    start: float = field(default_factory=time.perf_counter)

    def fraction(self) -> float:
        return (time.perf_counter() - self.start) / self.seconds

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Set the learning rate for the time now; False once the budget is spent."""
        done = min(self.fraction(), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = self.lr * 0.5 * (1 + math.cos(math.pi * done))
        return done < 1.0


def run_epoch(
    model, loader, loss_fn, optimizer=None, dev=None, bf16: bool = False, budget=None
) -> float:
    """One pass over `loader`; trains when an optimizer is given, and stops early when a
    TimeBudget runs out. Returns the mean loss."""
    dev = dev or default_device()
    model.train(optimizer is not None)
    total, count = 0.0, 0
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    layout = torch.channels_last if bf16 else torch.contiguous_format
    with torch.set_grad_enabled(optimizer is not None):
        for images, targets in loader:
            if budget is not None and not budget.step(optimizer):
                break
            images, targets = images.to(dev, memory_format=layout), targets.to(dev)
            with autocast:
                loss = loss_fn(model(images).float(), targets)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total += loss.item() * len(images)
            count += len(images)
    return total / max(count, 1)


def _prepare(model: nn.Module, bf16: bool) -> torch.device:
    """Move the model to the default device, channels-last for bfloat16's fast convolutions."""
    dev = default_device()
    model.to(dev, memory_format=torch.channels_last if bf16 else torch.contiguous_format)
    return dev


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int | None,
    lr: float,
    loss_fn: nn.Module | None = None,
    checkpoint: Path | None = None,
    scheduler: str | None = None,
    bf16: bool = False,
    desc: str = "train",
    *,
    seconds: float | None = None,
) -> History:
    """Train with Adam for `epochs` passes, or for `seconds` of wall-clock time with the
    learning rate decayed as a cosine over that time (the last pass may be partial: for
    studies at equal time); checkpoint after each pass and resume from one if present.

    bf16 runs forward and backward under bfloat16 autocast (weights stay float32) with
    channels-last tensors, the layout the fast bfloat16 convolutions want
    (helpers.reports.benchmark).
    """
    if (epochs is None) == (seconds is None):
        raise ValueError("give epochs or seconds, not both")
    dev = _prepare(model, bf16)
    loss_fn = loss_fn or nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    sched = None
    if scheduler == "cosine" and epochs is not None:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history, done = History(), 0
    if checkpoint and Path(checkpoint).exists():
        done, history = _resume(checkpoint, model, optimizer, sched)
    began = time.perf_counter() - history.seconds
    budget = None if seconds is None else TimeBudget(seconds, lr, start=began)
    total = epochs if budget is None else round(seconds)
    bar = progress(total=total, initial=done if budget is None else 0, desc=desc, leave=False)
    while done < epochs if budget is None else budget.fraction() < 1.0:
        history.train.append(run_epoch(model, train_loader, loss_fn, optimizer, dev, bf16, budget))
        history.val.append(run_epoch(model, val_loader, loss_fn, None, dev, bf16))
        if sched:
            sched.step()
        done += 1
        history.seconds = time.perf_counter() - began
        history.times.append(history.seconds)
        bar.update((done if budget is None else round(min(history.seconds, seconds))) - bar.n)
        bar.set_postfix(train=f"{history.train[-1]:.4g}", val=f"{history.val[-1]:.4g}")
        if checkpoint:
            _save(checkpoint, done, model, optimizer, sched, history)
    bar.close()
    return history


def checkpoint_path(name: str, settings: dict) -> Path:
    """Where a run's checkpoint goes: named by the run and a digest of its settings, so an
    interrupted run resumes from it and a run with other settings never does."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    return cache_dir() / f"{name}_{digest.hexdigest()[:12]}.pt"


def _save(path: Path, epoch: int, model, optimizer, sched, history: History) -> None:
    """Write a training checkpoint atomically, so an interrupted save never corrupts it. The
    random states go in too: a resumed run shuffles and augments as an uninterrupted one."""
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": sched.state_dict() if sched else None,
        "history": asdict(history),
        "rng": _rng_state(),
    }
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def _rng_state() -> dict:
    """Python's, NumPy's and torch's random states, as tensors and ints (weights_only-safe)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }


def _set_rng_state(state: dict) -> None:
    """Restore what _rng_state saved."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _resume(path: Path, model, optimizer, sched) -> tuple[int, History]:
    """Load a training checkpoint written by _save (weights_only: no pickled code)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if sched and state["scheduler"]:
        sched.load_state_dict(state["scheduler"])
    if "rng" in state:
        _set_rng_state(state["rng"])
    print(f"Resuming from {relative(path)} at epoch {state['epoch']}")
    return state["epoch"], History(**state["history"])


def loaders(
    train_set: Dataset,
    val_set: Dataset,
    batch_size: int,
    val_batch_size: int = 64,
    drop_last: bool = False,
    workers: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """The training loader (shuffled) and the validation loader (in order) of a run."""
    train_loader = DataLoader(
        train_set, batch_size=batch_size, shuffle=True, drop_last=drop_last, num_workers=workers
    )
    return train_loader, DataLoader(val_set, batch_size=val_batch_size)
