"""What the GPU job (tools/gpu_job.py) brought back: checked, scored here and shipped.

Usage: python -m helpers gpu-results DIR [--out OUT]

Checks every file in DIR against DIR/SHA256SUMS. Then, for each student model the job wrote,
rebuilds its network from the record in its file, loads its weights (weights_only), and puts
it through the release's finishing step (helpers.training.release.conclude) on the 221
validation faces cut here from the XML: scores with and without the mirror, the detector's
calibration, the time per face beside the shipped model, figures, the Kaggle file and
results/gpu_<name>.json, and the model shipped to models/ only if it beats the one there.
OUT (default: the repository) is where results/, figures/ and models/ go.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

from .. import config
from ..data.ibug import NUM_POINTS
from ..files import sha256_of
from ..inference.modelfile import FAST_MODEL
from ..nets import models
from . import precision, release
from .recipes import recipe_data
from .train import History


def verified(folder: Path) -> dict[str, Path]:
    """The files SHA256SUMS lists, each checked against its hash; a clear error otherwise."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise ValueError(f"{folder}: no SHA256SUMS, so nothing can be verified")
    files = {}
    for line in sums.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        path = folder / name
        if not path.is_file() or sha256_of(path) != digest:
            raise ValueError(f"{path}: missing, or its SHA-256 is not the one the job wrote")
        files[name] = path
    return files


def load_student(path: Path) -> tuple[nn.Module, dict]:
    """A student the job wrote: its network rebuilt from the record, with its weights."""
    content = torch.load(path, map_location="cpu", weights_only=True)
    model = models.build(content["network"], num_points=NUM_POINTS, in_channels=3)
    model.load_state_dict(content["state_dict"])
    return model, content


def recipe(content: dict, job: dict) -> config.ReleaseConfig:
    """The release recipe that describes a student: its network, crop, loss and augmentation."""
    s = job["settings"]
    fast = content["model_file"] == FAST_MODEL.name
    return config.ReleaseConfig(
        network=content["network"],
        model_file=content["model_file"],
        label="gpu_fast" if fast else "gpu",
        crop_size=content["crop_size"],
        epochs=job["steps"][content["model_file"]]["epochs"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        loss=s["loss"],
        sigma=s["sigma"],
        augmentation=config.AugmentConfig(**s["augmentation"]),
    )


def conclude_student(path: Path, job: dict) -> dict:
    """Score, compare, time and ship one student; returns its results record."""
    start = time.perf_counter()
    model, content = load_student(path)
    cfg = recipe(content, job)
    step = job["steps"][content["model_file"]]
    data = recipe_data(cfg)
    expected = (job["pack"]["crop_factor"], job["pack"]["crop_shift"], job["pack"]["size"])
    if (data.crop_factor, data.crop_shift, data.size) != expected:
        raise ValueError(f"{path.name}: trained on other crops than the XML gives here")
    history = History(step["train_loss"], step["val_loss"], step["train_seconds"])
    bf16 = step["precision"] == "bfloat16"
    trained = release.Trained(
        model,
        history,
        precision.Precision(bf16, f"the GPU job's choice on {job['machine']}"),
        job["machine"],
        f"tools/gpu_job.py, distilled from its {job['settings']['teacher']} teacher",
    )
    return release.conclude(
        cfg, f"gpu-{job['profile']}", data, trained, release.Before.load(), start
    )


def main(argv: list[str] | None = None) -> int:
    """Check, score and ship what a GPU job wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the GPU job's OUT folder, fetched here")
    parser.add_argument("--out", type=Path, help="where results/, figures/ and models/ go")
    args = parser.parse_args(argv)
    os.environ["FKD_OUTPUT_DIR"] = str((args.out or config.REPO_ROOT).resolve())
    try:
        files = verified(args.folder)
        job = json.loads(files["job.json"].read_text())
        for name in sorted(n for n in files if n.startswith("student_")):
            results = conclude_student(files[name], job)
            print(f"{name}: validation NME {results['val_nme']:.2%}, shipped {results['shipped']}")
    except (ValueError, KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
