"""Training: an interrupted fit resumes to the same weights and history as an unbroken one."""

import pytest
import torch
from torch.utils.data import TensorDataset

from helpers import config
from helpers.data import augment
from helpers.data.datasets import KeypointDataset
from helpers.training import train


class Interrupt(Exception):
    """Stands for a kill: raised by the loss after a number of calls."""


class StopAfter(torch.nn.Module):
    """MSE that raises Interrupt on call `calls + 1`, like a run killed mid-epoch."""

    def __init__(self, calls: int | None = None) -> None:
        super().__init__()
        self.left = calls

    def forward(self, pred, target):
        if self.left is not None:
            if self.left == 0:
                raise Interrupt
            self.left -= 1
        return torch.nn.functional.mse_loss(pred, target)


def _run(checkpoint, loss_fn):
    """Seed 0, a small conv net on augmented random crops: shuffling and augmentation both
    draw random numbers, so a resume that lost the random state would differ."""
    config.set_seed(0)
    images = torch.randint(0, 256, (24, 3, 16, 16), dtype=torch.uint8)
    points = torch.rand(24, 2, 2) * 15
    data = KeypointDataset(images, points, False, augment.Augment(perm=[1, 0]))
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 14 * 14, 4),
        torch.nn.Unflatten(1, (2, 2)),
    )
    loaders = train.loaders(data, data.with_augment(None), 4)
    history = train.fit(model, *loaders, 5, 1e-2, loss_fn, checkpoint, scheduler="cosine")
    return model, history


@pytest.mark.parametrize("calls", [0, 7, 13, 24])  # before epoch 1, in epochs 2 and 3, at 5's start
def test_an_interrupted_fit_resumes_to_the_same_weights_and_history(tmp_path, calls):
    whole_model, whole = _run(None, StopAfter())
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(Interrupt):  # the validation pass calls the loss too: 6 calls an epoch
        _run(checkpoint, StopAfter(calls))
    model, history = _run(checkpoint, StopAfter())  # the same command again
    assert history.train == whole.train and history.val == whole.val
    for a, b in zip(model.state_dict().values(), whole_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_finished_checkpoint_is_not_trained_again(tmp_path):
    checkpoint = tmp_path / "run.pt"
    _, first = _run(checkpoint, StopAfter())
    _, again = _run(checkpoint, StopAfter(0))  # any training step would raise
    assert again.train == first.train


def test_checkpoint_paths_differ_by_settings():
    a = train.checkpoint_path("run", {"epochs": 50, "lr": 1e-3})
    assert a == train.checkpoint_path("run", {"lr": 1e-3, "epochs": 50})
    assert a != train.checkpoint_path("run", {"epochs": 60, "lr": 1e-3})


def test_loaders_shuffle_training_only():
    data = TensorDataset(torch.arange(10.0)[:, None], torch.zeros(10, 1))
    torch.manual_seed(0)
    train_loader, val_loader = train.loaders(data, data, 5)
    assert torch.cat([x for x, _ in val_loader]).flatten().tolist() == list(range(10))
    assert torch.cat([x for x, _ in train_loader]).flatten().tolist() != list(range(10))


def test_a_timed_fit_resumes_with_the_time_already_spent(tmp_path):
    checkpoint = tmp_path / "run.pt"
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 2))
    loaders = train.loaders(data, data, 8)
    model = torch.nn.Linear(4, 2)
    first = train.fit(model, *loaders, None, 1e-2, checkpoint=checkpoint, seconds=0.5)
    again = train.fit(model, *loaders, None, 1e-2, checkpoint=checkpoint, seconds=0.8)
    assert again.train[: len(first.train)] == first.train  # picked up where it stopped
    assert len(again.train) > len(first.train)
    assert 0.7 < again.seconds < 1.1  # the 0.8 s budget counted the 0.5 s already spent
    with pytest.raises(ValueError, match="epochs or seconds"):
        train.fit(model, *loaders, 3, 1e-2, seconds=1.0)
