"""Settings in one place: profiles, paths, seeds and the hardware a run used.

Coordinate convention, used by every module of this package: a keypoint is (x, y) in
pixels, 0-based, x to the right and y down, with integer values at pixel centres
(the centre of the top-left pixel is (0, 0)). Arrays of keypoints have shape (..., 2).
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_HELP = (
    "Download the datasets with `python -m helpers.download all` (into ./data), "
    "or point FKD_DATA_DIR at a folder that holds them."
)


@dataclass(frozen=True)
class NoseConfig:
    """Part 1: nose-tip regression on 80x60 grayscale IMM faces."""

    epochs: int = 25
    batch_size: int = 4
    lr: float = 1e-3
    scheduler: str | None = "cosine"
    augment: bool = True
    study_epochs: int = 15
    study_lrs: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    study_channels: tuple[int, ...] = (8, 16, 32)


@dataclass(frozen=True)
class FaceConfig:
    """Part 2: all 58 IMM keypoints at 240x180 with augmentation."""

    epochs: int = 30
    batch_size: int = 4
    lr: float = 1e-4
    tuned_lr: float = 1e-3
    tuned_epochs: int = 60
    tuned_batch_norm: bool = True
    image_size: tuple[int, int] = (240, 180)  # (W, H)
    study_epochs: int = 8
    study_lrs: tuple[float, ...] = (1e-4, 3e-4, 1e-3)


@dataclass(frozen=True)
class IbugConfig:
    """Part 3: 68 iBUG landmarks with ResNet18 on 224x224 face crops."""

    epochs: int = 50
    batch_size: int = 4  # 16 gave NME 5.73%, 8 gave 5.26%: still short of updates at 50 epochs
    lr: float = 1e-3
    scheduler: str | None = "cosine"
    degrees: float = 15.0  # rotation augmentation range, +-
    crop_size: int = 224
    in_channels: int = 3
    val_fraction: float = 0.1
    max_train_faces: int | None = None
    study_epochs: int = 4
    study_faces: int = 400
    study_lrs: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    pretrained: bool = True
    bf16: bool = True  # bfloat16 autocast: faster on CPUs with AMX/AVX-512 and on GPUs


@dataclass(frozen=True)
class Profile:
    """A named set of per-part settings."""

    name: str
    nose: NoseConfig = field(default_factory=NoseConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    ibug: IbugConfig = field(default_factory=IbugConfig)


PROFILES: dict[str, Profile] = {
    # The course's settings.
    "full": Profile("full"),
    # A few minutes per notebook on two CPU cores: same code paths, fewer epochs and samples.
    "quick": Profile(
        "quick",
        nose=NoseConfig(epochs=4, study_epochs=2, study_lrs=(1e-3, 1e-2), study_channels=(8, 16)),
        face=FaceConfig(epochs=2, tuned_epochs=2, study_epochs=1, study_lrs=(1e-4, 1e-3)),
        ibug=IbugConfig(
            epochs=4,
            max_train_faces=256,
            study_epochs=1,
            study_faces=64,
            study_lrs=(1e-4, 1e-3, 1e-2),
            pretrained=False,
        ),
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile named by `name`, else by FKD_PROFILE, else 'quick'."""
    name = name or os.environ.get("FKD_PROFILE", "quick")
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}; choose one of {sorted(PROFILES)}.")
    return PROFILES[name]


def profile_dict(profile: Profile, part: str) -> dict:
    """The settings of one part as a plain dict, for results files."""
    return {"profile": profile.name, **asdict(getattr(profile, part))}


def data_root() -> Path:
    """The dataset folder: FKD_DATA_DIR, else ./data in the repository."""
    return Path(os.environ.get("FKD_DATA_DIR", REPO_ROOT / "data")).expanduser().resolve()


def pin_data_root() -> None:
    """Make a relative FKD_DATA_DIR absolute, so notebook kernels (run in notebooks/) find it."""
    if "FKD_DATA_DIR" in os.environ:
        os.environ["FKD_DATA_DIR"] = os.path.abspath(os.environ["FKD_DATA_DIR"])


def dataset_dir(name: str) -> Path:
    """One dataset's folder under the data root; a clear error if it is missing."""
    root = data_root()
    path = root / name
    if not path.is_dir():
        where = "FKD_DATA_DIR" if "FKD_DATA_DIR" in os.environ else "the default data root"
        raise FileNotFoundError(f"Dataset {name!r} not found at {path} ({where}). {DATA_HELP}")
    return path


def output_dir() -> Path:
    """Where figures/ and results/ go: FKD_OUTPUT_DIR (tests use a temp dir), else the repo."""
    return Path(os.environ.get("FKD_OUTPUT_DIR", REPO_ROOT)).expanduser().resolve()


def figures_dir() -> Path:
    """The figures folder, created on demand."""
    path = output_dir() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """The results folder, created on demand."""
    path = output_dir() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoints_dir() -> Path:
    """Trained models (git-ignored: weights are too large to commit)."""
    path = output_dir() / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Scratch space for preprocessed data and checkpoints (git-ignored)."""
    path = Path(os.environ.get("FKD_CACHE_DIR", REPO_ROOT / "cache")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and torch so runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device() -> torch.device:
    """The fastest device available: CUDA if present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def hardware() -> str:
    """A short description of the machine, for results files and notebook headers."""
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads"
