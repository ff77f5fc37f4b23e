"""The GPU job: a larger teacher trained from the pack, then the shipped UNet and the fast model
distilled from it, each written with its scores under OUT.

Usage, from the repository root with the pack beside it (python -m helpers pack):
    python tools/gpu_job.py --pack cache/300w_128px.npz --out OUT [--profile h200] [--teacher T]
    torchrun --standalone --nproc-per-node=N tools/gpu_job.py ...         (N GPUs, one machine)
    torchrun --nnodes=M --node-rank=R --master-addr=HOST --master-port=29500 \\
        --nproc-per-node=N tools/gpu_job.py ...                           (M machines)

The profile (config.GPU_JOBS) sizes each step in minutes, so the whole job fits one command on
the GPU machine; `tiny` trains tiny networks for two epochs and is how the tests run it on a
CPU. Each step prints its images per second, epochs and wall time, and resumes from its
checkpoint (under the cache) when run again. OUT receives job.json (every step's record),
job.log, teacher.pt (half precision, when under 16 MiB), one file per student (its weights,
network record and read-out) and SHA256SUMS; `python -m helpers gpu-results OUT` scores the
students here and ships each one that beats the shipped model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from helpers import config  # noqa: E402
from helpers.data import pack  # noqa: E402
from helpers.data.batch_augment import BatchAugment  # noqa: E402
from helpers.data.ibug import NUM_POINTS  # noqa: E402
from helpers.files import atomic_write, sha256_of  # noqa: E402
from helpers.nets import models  # noqa: E402
from helpers.training import distil, evaluate, precision, resident  # noqa: E402
from helpers.training.losses import HeatmapLoss  # noqa: E402
from helpers.training.train import checkpoint_path  # noqa: E402

RETURN_LIMIT = 16 * 2**20  # the largest file the GPU machine sends back


class Log:
    """Print a line, and on rank 0 append it to OUT/job.log."""

    def __init__(self, path: Path, main: bool) -> None:
        self.path, self.main = path, main

    def __call__(self, line: str) -> None:
        if self.main:
            print(line, flush=True)
            with open(self.path, "a") as fh:
                fh.write(line + "\n")


def machine(where: resident.Place) -> str:
    """The accelerator (or CPU) this job runs on, and how many processes share the work."""
    if where.device.type == "cuda":
        name = f"{torch.cuda.get_device_name(where.device)}, torch {torch.__version__}"
    else:
        name = config.hardware()
    return f"{name}; {where.world} process(es)"


def score(model: torch.nn.Module, data: pack.Pack, readout: str) -> dict:
    """NME on the pack's validation crops, with and without the mirror (rank 0, on the CPU)."""
    model = models.for_inference(model)
    scores = {}
    for label, perm in (("val_nme", data.perm), ("val_nme_without_mirror", None)):
        points, _ = evaluate.crop_points(model, data.val_set(), data.val_squares, readout, perm)
        scores[label] = evaluate.ibug_scores(points, data.val_true_px, data.val_subsets).mean
    return {k: round(float(v), 5) for k, v in scores.items()}


def run_step(name, network, teacher, cfg, data, where, log) -> tuple[torch.nn.Module, dict]:
    """Train one network (distilled from `teacher` when given) and return it with its record."""
    config.set_seed(0)
    model = models.build(network, num_points=NUM_POINTS, in_channels=3)
    loss = HeatmapLoss(cfg.loss, cfg.sigma)
    trained, loss_fn = model, loss
    if teacher is not None:
        trained = distil.Distiller(model, teacher)
        loss_fn = distil.DistillLoss(loss, cfg.distill)
    prec = precision.choose(cfg.precision, where.device.type)
    settings = {"step": name, "network": network, **asdict(cfg), "world": where.world}
    log(f"{name}: {network['name']} {models.count_parameters(model):,} parameters, {prec.name}")
    start = time.perf_counter()
    run = resident.fit(
        trained,
        resident.Crops(data.train_images, data.train_points),
        resident.Crops(data.val_images, data.val_points),
        augment=BatchAugment.of(data.perm, cfg.augmentation),
        loss_fn=loss_fn,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        minutes=None if cfg.epochs else minutes_of(name, cfg),
        bf16=prec.bf16,
        checkpoint=checkpoint_path(f"gpu_job_{name}", settings),
        where=where,
        log=log,
    )
    record = {
        "network": network,
        "parameters": models.count_parameters(model),
        "teacher": None if teacher is None else cfg.teacher,
        "epochs": run.done,
        "images_per_second": round(run.images_per_second, 1),
        "train_seconds": round(run.history.seconds, 1),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "train_loss": run.history.train,
        "val_loss": run.history.val,
        "precision": prec.name,
    }
    if where.main:
        record |= score(model, data, loss.readout)
        log(
            f"{name}: {run.done} epochs in {record['train_seconds']:.0f} s, "
            f"{record['images_per_second']:.0f} images/s; validation NME {record['val_nme']:.2%}"
        )
    return model.to(where.device), record


def minutes_of(name: str, cfg: config.GpuJobConfig) -> float:
    return cfg.teacher_minutes if name == "teacher" else cfg.student_minutes


def save_model(path: Path, model: torch.nn.Module, network: dict, readout: str, meta: dict):
    """Write a trained network's weights with what rebuilds it, atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if path.stem == "teacher":  # half precision: a teacher to distil from, not a model to ship
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    content = {"network": network, "readout": readout, "state_dict": state, **meta}
    atomic_write(path, lambda tmp: torch.save(content, tmp))


def main(argv: list[str] | None = None) -> int:
    """Train the teacher and the students from the pack; write them and their records."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", type=Path, required=True, help="a pack (python -m helpers pack)")
    parser.add_argument("--out", type=Path, required=True, help="where the results go")
    parser.add_argument("--profile", choices=config.GPU_JOBS, default="h200")
    parser.add_argument("--teacher", choices=config.TEACHERS, help="instead of the profile's")
    args = parser.parse_args(argv)
    cfg = config.GPU_JOBS[args.profile]
    cfg = replace(cfg, teacher=args.teacher or cfg.teacher)
    where = resident.place()
    torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    args.out.mkdir(parents=True, exist_ok=True)
    log = Log(args.out / "job.log", where.main)
    start = time.perf_counter()
    data = pack.read(args.pack)
    pack_sha = sha256_of(args.pack)
    log(f"{machine(where)}; pack {args.pack.name} {pack_sha[:12]}, {len(data.train_images)} faces")
    meta = {"crop_size": data.size, "pack_sha256": pack_sha, "profile": args.profile}
    readout = HeatmapLoss(cfg.loss, cfg.sigma).readout
    network = config.TEACHERS[cfg.teacher]
    teacher, record = run_step("teacher", network, None, cfg, data, where, log)
    steps = {"teacher": record}
    files = []
    if where.main:
        path = args.out / "teacher.pt"
        save_model(path, teacher, network, readout, meta)
        if path.stat().st_size > RETURN_LIMIT:
            log(f"teacher.pt: {path.stat().st_size / 2**20:.1f} MiB, over what comes back: removed")
            path.unlink()
        else:
            files.append(path)
    for name, network in cfg.students:
        student, record = run_step(name, network, teacher, cfg, data, where, log)
        steps[name] = record
        if where.main:
            path = args.out / f"student_{name}"
            save_model(path, student, network, readout, {**meta, "model_file": name})
            files.append(path)
    if where.main:
        job = {
            "machine": machine(where),
            "profile": args.profile,
            "settings": asdict(cfg),
            "pack": {"file": args.pack.name, "sha256": pack_sha, **data.meta},
            "steps": steps,
            "seconds": round(time.perf_counter() - start, 1),
        }
        files.append(atomic_write(args.out / "job.json", json.dumps(job, indent=1) + "\n"))
        sums = "".join(f"{sha256_of(p)}  {p.name}\n" for p in files)
        atomic_write(args.out / "SHA256SUMS", sums)
        log(f"done in {job['seconds']:.0f} s: {', '.join(p.name for p in files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
