"""A few epochs of resident.fit on random crops, as one torchrun worker: the test of training
through torchrun (tests/test_gpu_job.py) starts two of these and reads what rank 0 wrote.

Usage: torchrun --standalone --nproc-per-node=2 tests/ddp_worker.py CHECKPOINT OUT EPOCHS
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.config import AugmentConfig, set_seed  # noqa: E402
from helpers.data.batch_augment import BatchAugment  # noqa: E402
from helpers.training import resident  # noqa: E402


def main() -> None:
    checkpoint, out, epochs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    where = resident.place()
    set_seed(0)
    images = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8)
    points = torch.rand(48, 2, 2) * 15
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 14 * 14, 4),
        torch.nn.Unflatten(1, (2, 2)),
    )
    augment = BatchAugment(np.array([1, 0]), AugmentConfig(degrees=10.0, translate=0.1))
    resident.fit(
        model,
        resident.Crops(images[:40], points[:40]),
        resident.Crops(images[40:], points[40:]),
        augment=augment,
        loss_fn=torch.nn.MSELoss(),
        lr=1e-2,
        batch_size=4,
        epochs=epochs,
        checkpoint=checkpoint,
        where=where,
        log=lambda line: None,
    )
    torch.save(model.state_dict(), out / f"rank{where.rank}.pt")


if __name__ == "__main__":
    main()
