"""Studies: fresh models from one seed, each trained the same way but for one setting, and
scored on validation; at equal epochs, or at equal wall-clock time for settings whose epochs
cost different times (input size, batch size, loss)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from ..config import set_seed
from .train import History, fit, loaders


@dataclass(frozen=True)
class Trial:
    """One setting's trained model, its loss history and its validation score."""

    model: nn.Module
    history: History
    score: float | None


def trial(
    build: Callable[[], nn.Module],
    train_set: Dataset,
    val_set: Dataset,
    *,
    lr: float,
    batch_size: int,
    epochs: int | None = None,
    seconds: float | None = None,
    loss_fn: nn.Module | None = None,
    scheduler: str | None = None,
    score: Callable[[nn.Module], float] | None = None,
    bf16: bool = False,
    drop_last: bool = False,
    workers: int = 0,
    seed: int = 0,
    checkpoint: Path | None = None,
    desc: str = "trial",
) -> Trial:
    """Seed, build a fresh model, train it for `epochs` (resuming from `checkpoint` when it
    exists) or for `seconds` of wall-clock time (cosine decay over that time), and score it
    with `score` when given."""
    set_seed(seed)
    model = build()
    train_loader, val_loader = loaders(
        train_set, val_set, batch_size, drop_last=drop_last, workers=workers
    )
    history = fit(
        model,
        train_loader,
        val_loader,
        epochs,
        lr,
        loss_fn,
        checkpoint,
        scheduler,
        bf16,
        desc,
        seconds=seconds,
    )
    return Trial(model, history, None if score is None else float(score(model)))
