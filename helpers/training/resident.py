"""Training with the crops held on the device and augmented there in whole batches
(helpers.data.batch_augment): one process on a GPU or the CPU, or one process per GPU (or per
CPU share) under torchrun, with PyTorch's DistributedDataParallel.

Every rank takes its batches from a DistributedSampler (the same seed and epoch give the same
shards) and its augmentation from a generator seeded by (seed, epoch, rank), so a resumed run
draws what an unbroken one would. Rank 0 alone evaluates and writes the checkpoint, atomically,
after each epoch; every rank resumes from that file. The learning rate follows a cosine over
the epochs; given minutes rather than epochs, the run times its second epoch and fits as many
epochs into the minutes as that pace allows (rank 0 decides, every rank follows).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from ..config import device as default_device
from ..config import relative
from ..crop import prepare_image
from ..files import atomic_write
from .train import History

Augmenter = Callable[..., tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Crops:
    """Face crops on one device: uint8 images (N, C, S, S) and their points in crop pixels."""

    images: torch.Tensor
    points: torch.Tensor

    def to(self, device: torch.device) -> Crops:
        return Crops(self.images.to(device), self.points.to(device))


@dataclass(frozen=True)
class Place:
    """Where this process trains: its rank among `world` processes and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def place() -> Place:
    """This process's rank, world size and device; under torchrun it joins the process group
    (NCCL on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Place(0, 1, default_device())
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return Place(dist.get_rank(), dist.get_world_size(), device)


def shards(n: int, batch_size: int, epoch: int, seed: int, where: Place) -> list[torch.Tensor]:
    """This rank's batches of sample indices for one epoch (full batches only)."""
    sampler = DistributedSampler(
        range(n), num_replicas=where.world, rank=where.rank, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    order = torch.tensor(list(sampler), dtype=torch.long)
    return list(order[: len(order) // batch_size * batch_size].split(batch_size))


def model_input(images: torch.Tensor, points: torch.Tensor, grayscale: bool):
    """Augmented crops (float in [0, 1]) and points to the model's input and targets."""
    size = torch.tensor(images.shape[-1:-3:-1], dtype=torch.float32, device=points.device)
    return prepare_image(images, grayscale), (points + 0.5) / size


def cosine(lr: float, epoch: int, epochs: int | None) -> float:
    """The learning rate of an epoch: a cosine from lr to 0 over `epochs` (lr while unknown)."""
    return lr if epochs is None else lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


@dataclass
class Run:
    """What a checkpoint holds beside the weights: epochs done, the run's length once known,
    the losses and the seconds trained."""

    done: int = 0
    epochs: int | None = None
    history: History | None = None
    images_per_second: float = 0.0


def save(path: Path, model: nn.Module, optimizer, run: Run) -> None:
    """Write the checkpoint atomically (rank 0 only calls this)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "done": run.done,
        "epochs": run.epochs if run.epochs is not None else -1,
        "history": asdict(run.history),
        "images_per_second": run.images_per_second,
    }
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def resume(path: Path, model: nn.Module, optimizer, device: torch.device) -> Run:
    """Load a checkpoint written by save (weights_only: no pickled code)."""
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    epochs = None if state["epochs"] < 0 else state["epochs"]
    history = History(**state["history"])
    return Run(state["done"], epochs, history, state["images_per_second"])


def fit(
    model: nn.Module,
    train: Crops,
    val: Crops,
    *,
    augment: Augmenter,
    loss_fn: nn.Module,
    lr: float,
    batch_size: int,
    epochs: int | None = None,
    minutes: float | None = None,
    grayscale: bool = False,
    bf16: bool = False,
    seed: int = 0,
    checkpoint: Path | None = None,
    where: Place | None = None,
    log: Callable[[str], None] = print,
) -> Run:
    """Train `model` (built alike on every rank) with Adam for `epochs`, or for as many as
    fit in `minutes`; `batch_size` is per rank. The model trains in place; returns the run."""
    if (epochs is None) == (minutes is None):
        raise ValueError("give epochs or minutes, not both")
    where = where or place()
    layout = torch.channels_last if bf16 else torch.contiguous_format
    model.to(where.device, memory_format=layout)
    net = model if where.world == 1 else DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = loss_fn.to(where.device)
    train, val = train.to(where.device), val.to(where.device)
    state = Run(0, epochs, History())
    if checkpoint and Path(checkpoint).exists():
        state = resume(checkpoint, model, optimizer, where.device)
        log(f"resuming from {relative(Path(checkpoint))} after epoch {state.done}")
    began = time.perf_counter() - state.history.seconds
    generator = torch.Generator(where.device)
    while state.epochs is None or state.done < state.epochs:
        epoch_start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = cosine(lr, state.done, state.epochs)
        generator.manual_seed(seed * 1_000_003 + state.done * 1_009 + where.rank)
        net.train()
        total, count = torch.zeros((), device=where.device), 0
        for index in shards(len(train.images), batch_size, state.done, seed, where):
            index = index.to(where.device)
            images, points = augment(train.images[index], train.points[index], generator)
            x, target = model_input(images, points, grayscale)
            with torch.autocast(where.device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(net(x.contiguous(memory_format=layout)).float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
            count += len(index)
        seconds = time.perf_counter() - epoch_start
        state.done += 1
        state.history.train.append(float(total) / max(count, 1))
        state.history.val.append(validation_loss(model, val, loss_fn, grayscale, bf16))
        state.history.seconds = time.perf_counter() - began
        state.history.times.append(state.history.seconds)
        if state.done >= 2:  # the first epoch pays for warm-up; later ones give the pace
            state.images_per_second = count * where.world / seconds
        if state.epochs is None and state.done == 2:
            state.epochs = agreed_epochs(minutes * 60, state.history.seconds, seconds, where)
        log(
            f"epoch {state.done}/{state.epochs or '?'}: train {state.history.train[-1]:.4g}, "
            f"val {state.history.val[-1]:.4g}, {count * where.world / seconds:.0f} images/s"
        )
        if checkpoint and where.main:
            save(checkpoint, model, optimizer, state)
        if where.world > 1:
            dist.barrier()  # no rank runs ahead of the checkpoint it would resume from
    return state


def agreed_epochs(budget: float, spent: float, epoch_seconds: float, where: Place) -> int:
    """How many epochs fit the budget at this pace, as rank 0 measured it (broadcast)."""
    epochs = torch.tensor([2 + max(0, int((budget - spent) / epoch_seconds))])
    if where.world > 1:
        epochs = epochs.to(where.device)
        dist.broadcast(epochs, src=0)
    return int(epochs.item())


@torch.no_grad()
def validation_loss(
    model: nn.Module, val: Crops, loss_fn: nn.Module, grayscale: bool, bf16: bool
) -> float:
    """Mean loss over the validation crops, unaugmented (every rank computes the same)."""
    model.eval()
    total = 0.0
    for index in torch.arange(len(val.images), device=val.images.device).split(256):
        images = val.images[index].float() / 255
        x, target = model_input(images, val.points[index].float(), grayscale)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            total += float(loss_fn(model(x).float(), target)) * len(index)
    return total / len(val.images)
