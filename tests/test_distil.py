"""The fast model and its distillation: FastNet's maps, the teacher kept frozen, the loss's
two ends, and how --fast and Landmarker.load(fast=True) find the fast model file."""

import argparse

import pytest
import torch

from helpers.inference import predict
from helpers.inference.modelfile import ModelSettings, save_landmarker
from helpers.nets import models
from helpers.training import distil, losses


def test_fastnet_gives_maps_at_stride_4_and_rebuilds_from_its_architecture():
    net = models.FastNet(68, 3, width=8, blocks=(1, 2, 1)).eval()
    maps = net(torch.rand(2, 3, 128, 128))
    assert maps.shape == (2, 68, 32, 32) and net.stride == 4
    again = models.build(net.architecture)
    assert models.count_parameters(again) == models.count_parameters(net)


def test_training_a_distiller_moves_the_student_and_never_the_teacher():
    torch.manual_seed(0)
    teacher = models.UNet(68, 3, width=4, depth=2, stride=4)
    pair = distil.Distiller(models.FastNet(68, 3, width=4, blocks=(1, 1, 1)), teacher)
    before = {k: v.clone() for k, v in pair.state_dict().items()}
    pair.train()
    assert pair.student.training and not pair.teacher.training  # teacher BatchNorm frozen
    loss_fn = distil.DistillLoss(losses.HeatmapLoss("awing", 1.5), 0.5)
    optimizer = torch.optim.Adam([p for p in pair.parameters() if p.requires_grad], 1e-2)
    loss = loss_fn(pair(torch.rand(2, 3, 64, 64)), torch.rand(2, 68, 2))
    loss.backward()
    optimizer.step()
    after = pair.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("teacher."))
    moved = [k for k in before if k.startswith("student.") and not torch.equal(before[k], after[k])]
    assert moved


def test_distill_loss_ends_the_truth_alone_and_the_teacher_alone():
    truth = losses.HeatmapLoss("awing", 1.5)
    student, teacher = torch.rand(2, 68, 16, 16), torch.rand(2, 68, 16, 16)
    target = torch.rand(2, 68, 2)
    maps = torch.cat([student, teacher], 1)
    torch.testing.assert_close(distil.DistillLoss(truth, 0.0)(maps, target), truth(student, target))
    same = torch.cat([teacher, teacher], 1)
    assert distil.DistillLoss(truth, 1.0)(same, target).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="not in"):
        distil.DistillLoss(truth, 1.5)


def test_a_teacher_with_other_maps_is_refused():
    teacher = models.UNet(68, 3, width=4, depth=2, stride=2)  # maps at stride 2, not 4
    pair = distil.Distiller(models.FastNet(68, 3, width=4, blocks=(1, 1, 1)), teacher)
    with pytest.raises(ValueError, match="teacher"):
        pair(torch.rand(1, 3, 64, 64))


def test_fast_selects_the_fast_model_file_without_the_mirror(tmp_path, monkeypatch):
    net = models.FastNet(68, 3, width=4, blocks=(1, 1, 1))
    settings = ModelSettings(net.architecture, "heatmap", 64, 1.5, 0.0, 3, tuple(range(68)))
    fast_file = save_landmarker(tmp_path / "fast.pt", net, settings)
    monkeypatch.setattr(predict, "FAST_MODEL", fast_file)
    lm = predict.Landmarker.load(fast=True, runtime="torch")
    assert lm.settings.architecture["name"] == "FastNet" and lm.settings.flip_perm is None
    assert predict.Landmarker.load(fast=True, mirrored=True).settings.flip_perm is not None
    parser = argparse.ArgumentParser()
    predict.add_model_options(parser)
    args = parser.parse_args(["--fast", "--runtime", "torch"])
    assert predict.landmarker_from(args).settings.flip_perm is None and args.model == fast_file


class Killed(Exception):
    """Stands in for a kill: raised from inside the training loop."""


class KilledAfter(distil.DistillLoss):
    """The distillation loss, raising Killed on call `calls + 1` (None: never)."""

    def __init__(self, calls: int | None) -> None:
        super().__init__(losses.HeatmapLoss("awing", 1.5), 0.5)
        self.calls, self.seen = calls, 0

    def forward(self, maps, target):
        self.seen += 1
        if self.calls is not None and self.seen > self.calls:
            raise Killed
        return super().forward(maps, target)


def test_a_killed_distillation_resumes_to_the_same_student(tmp_path):
    # Killed in epoch 2 of 3, then the same command again: the student of a run never killed.
    from torch.utils.data import DataLoader, TensorDataset

    from helpers.training import train

    torch.manual_seed(0)
    teacher = models.UNet(68, 3, width=4, depth=2, stride=4)
    data = TensorDataset(torch.rand(8, 3, 64, 64), torch.rand(8, 68, 2))

    def run(checkpoint, calls=None):
        torch.manual_seed(1)
        pair = distil.Distiller(models.FastNet(68, 3, width=4, blocks=(1, 1, 1)), teacher)
        loader = DataLoader(data, batch_size=4, shuffle=True)
        train.fit(pair, loader, loader, 3, 1e-3, KilledAfter(calls), checkpoint, "cosine")
        return pair.student.state_dict()

    with pytest.raises(Killed):
        run(tmp_path / "a.pt", calls=5)  # 4 loss calls an epoch: killed in epoch 2
    resumed, straight = run(tmp_path / "a.pt"), run(tmp_path / "b.pt")
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
