"""Settings in one place: profiles, paths, seeds and the hardware a run used.

Coordinate convention, used by every module of this package: a keypoint is (x, y) in
pixels, 0-based, x to the right and y down, with integer values at pixel centres
(the centre of the top-left pixel is (0, 0)). Arrays of keypoints have shape (..., 2).
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_HELP = (
    "Download the datasets with `python -m helpers download all` (into ./data), "
    "or point FKD_DATA_DIR at a folder that holds them."
)


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation ranges (helpers.data.augment.Augment): rotation +-degrees, shift as a
    fraction of the size, scale range, colour jitter strength, and the probabilities of an
    occluding patch and of a blur (0: never, and no random numbers drawn for them)."""

    degrees: float = 15.0
    translate: float = 0.05
    scale: tuple[float, float] = (0.95, 1.05)
    jitter: float = 0.3
    occlude: float = 0.0
    blur: float = 0.0


IMM_AUGMENT = AugmentConfig()  # Parts 2 and 4 on IMM
IBUG_AUGMENT = AugmentConfig(degrees=15.0, translate=0.08, scale=(0.9, 1.1))  # Parts 3 and 4
# The release's stronger augmentation: rotation +-30 degrees, scale 0.8-1.2, a patch hiding part of
# the face on half the crops, blur on a third.
STRONG_AUGMENT = AugmentConfig(30.0, 0.1, (0.8, 1.2), 0.4, occlude=0.5, blur=0.3)


@dataclass(frozen=True)
class NoseConfig:
    """Part 1: nose-tip regression on 80x60 grayscale IMM faces."""

    epochs: int = 25
    batch_size: int = 4
    lr: float = 1e-3
    scheduler: str | None = "cosine"
    augment: bool = True
    augmentation: AugmentConfig = AugmentConfig(degrees=10.0, translate=0.06)
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
    augmentation: AugmentConfig = IMM_AUGMENT
    study_epochs: int = 8
    study_lrs: tuple[float, ...] = (1e-4, 3e-4, 1e-3)


@dataclass(frozen=True)
class IbugConfig:
    """Part 3: 68 iBUG landmarks with ResNet18 on square face crops.

    The defaults are the full profile: the course's recipe (50 epochs, lr 1e-3, L1, Adam) at
    128 px instead of 224, over an hour for the whole notebook on two CPU cores. At equal
    wall-clock time 128 px is not behind 160 and 224 px and trains the most passes (notebook
    3's study). Batches of 4: whole runs at the course's 50 epochs rank them ahead of 8 and 16
    (the network is short of updates); short equal-time runs rank batch sizes the other way.
    COURSE_IBUG keeps the course's size.
    """

    epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    scheduler: str | None = "cosine"
    augmentation: AugmentConfig = IBUG_AUGMENT
    crop_size: int = 128
    in_channels: int = 3
    val_fraction: float = 0.1
    max_train_faces: int | None = None
    study_sizes: tuple[int, ...] = (224, 160, 128)  # input sizes compared at equal wall-clock time
    study_batches: tuple[int, ...] = (4, 8, 16)  # batch sizes compared at crop_size, likewise
    study_seconds: float = 180.0  # the wall-clock budget of each setting in that study
    study_lrs: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    study_lr_seconds: float = 90.0  # the wall-clock budget of each learning rate
    data_ablation: bool = True  # also train without LFPW, to measure what those faces bring
    pretrained: bool = True
    precision: str = "auto"  # auto (bfloat16 only where measured faster), bf16 or fp32


# Networks are records that helpers.nets.models.build turns into a fresh model: the class name
# and its arguments, the points and input channels left to the data.
UNET = {"name": "UNet", "width": 16, "depth": 4, "stride": 4}  # the shipped UNet: maps at 32x32
FASTNET = {"name": "FastNet", "width": 16, "blocks": (2, 2, 4)}  # the shipped fast model


def _network(record: dict):
    """A config field holding a network record (a fresh copy per config)."""
    return field(default_factory=lambda: dict(record))


@dataclass(frozen=True)
class ImmMaps:
    """Part 4 on IMM: a small grey UNet with maps at half the input's size (stride 2), for the
    nose tip at Part 1's size and all 58 points at Part 2's, and the loss study between them."""

    network: dict = _network({"name": "UNet", "width": 16, "depth": 3, "stride": 2})
    batch_size: int = 4
    lr: float = 1e-3
    nose_size: tuple[int, int] = (80, 60)  # (W, H), Part 1's size
    nose_epochs: int = 60
    face_size: tuple[int, int] = (240, 180)  # Part 2's size
    face_epochs: int = 60
    loss_study_size: tuple[int, int] = (160, 120)  # the IMM loss comparison runs here
    loss_study_epochs: int = 25


@dataclass(frozen=True)
class IbugMaps:
    """Part 4 on 300-W: ResNet18 with a decoder back to stride 4 (32x32 maps for 128 px crops),
    and the IMM UNet's design one level deeper, the model that ships."""

    resnet: dict = _network({"name": "HeatmapResNet", "width": 128})  # width: decoder channels
    unet: dict = _network(UNET)
    resnet_epochs: int = 50
    unet_epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-3
    loss_study_seconds: float = 120.0  # each loss, at equal wall-clock time
    max_train_faces: int | None = None
    pretrained: bool = True  # ImageNet weights for the ResNet18 where they can be loaded


@dataclass(frozen=True)
class HeatmapConfig:
    """Part 4: one heatmap per keypoint, on all three datasets, with Part 1-3's splits.

    The defaults are the full profile. Adaptive Wing on Gaussian maps (sigma in map pixels)
    beat foreground-weighted MSE and soft-argmax L1 in equal-time trials (notebook 4 measures
    it again)."""

    loss: str = "awing"
    sigma: float = 1.5
    imm: ImmMaps = field(default_factory=ImmMaps)
    ibug: IbugMaps = field(default_factory=IbugMaps)
    precision: str = "auto"


@dataclass(frozen=True)
class ReleaseConfig:
    """The recipe of a shipped 300-W model's release training (python -m helpers release),
    outside the notebooks' time budget. The defaults are notebook 4's UNet recipe; the study
    of notebook 5 (helpers.training.recipe_study) compares others, and RELEASES["full"] is
    the one it chose. Same split and validation faces as notebooks 3 and 4. With distill > 0
    the shipped model is the teacher (helpers.training.distil): the fast model."""

    network: dict = _network(UNET)  # built by helpers.nets.models.build
    distill: float = 0.0  # weight of the teacher's maps in the loss (0: no teacher)
    from_shipped: bool = False  # start from the shipped model's weights, not random ones
    model_file: str = "landmarks68.pt"  # under models/, written only if better (modelfile.ship)
    label: str = "release"  # names its results, figures and Kaggle file
    crop_size: int = 128
    epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-3
    loss: str = "awing"
    sigma: float = 1.5
    jaw_weight: float = 1.0  # loss weight of the 17 outline points against the others' 1
    augmentation: AugmentConfig = IBUG_AUGMENT
    max_train_faces: int | None = None
    precision: str = "auto"


FAST_RELEASE = ReleaseConfig(
    network=FASTNET, epochs=60, distill=0.5, model_file="landmarks68_fast.pt", label="fast"
)
RELEASES: dict[str, ReleaseConfig] = {
    # The release recipe, from notebook 5's study (results/recipe_study.json): the shipped UNet's
    # network and loss, with STRONG_AUGMENT, trained about five times notebook 4's 50 epochs. No
    # candidate beat the shipped recipe at equal short time, where strong augmentation loses as
    # a regulariser does; but the UNet's validation error stopped falling well before its 50th
    # epoch while its training loss kept falling, so a long run needs the regulariser.
    "full": ReleaseConfig(epochs=255, augmentation=STRONG_AUGMENT),
    # Refine the shipped release model rather than start again: its weights to start, a fresh
    # cosine schedule at a third of the learning rate, the same strong augmentation, and the
    # jaw (the group with the largest error, results/release.json) weighted twice in the loss.
    # Writes results/refine.json; ships only if better.
    "refine": ReleaseConfig(
        epochs=100,
        lr=3e-4,
        jaw_weight=2.0,
        augmentation=STRONG_AUGMENT,
        from_shipped=True,
        label="refine",
    ),
    # A minute on two CPU cores: the same code path, for tests and a first look.
    "quick": ReleaseConfig(
        network={**UNET, "width": 4, "depth": 2}, crop_size=64, epochs=2, max_train_faces=32
    ),
    # The fast model: FastNet distilled from the shipped model, at its crop size. Width 16,
    # blocks (2, 2, 4): of the sizes `benchmark --candidates` times, the only one under dlib's
    # predictor in the same rounds (results/benchmark_candidates.json; docs/speed.md).
    "fast": FAST_RELEASE,
    # Its validation loss was still falling at the 60th epoch, so it trains on from its shipped
    # weights for 100 more, with a fresh cosine schedule (results/fast_refine.json).
    "fast-refine": replace(FAST_RELEASE, epochs=100, from_shipped=True, label="fast_refine"),
    # Its training loss stayed above the validation loss and both still fell at the end: it
    # underfits, so 100 more epochs from the refined weights, at half the learning rate (the
    # weights are nearer a minimum than at the first restart; results/fast_refine2.json).
    "fast-refine-2": replace(
        FAST_RELEASE, epochs=100, lr=5e-4, from_shipped=True, label="fast_refine2"
    ),
    "fast-quick": replace(
        FAST_RELEASE,
        network={**FASTNET, "width": 8, "blocks": (1, 1, 1)},
        epochs=2,
        max_train_faces=32,
    ),
}

# The profiles whose outputs are the repository's own (the others write under runs/)
COMMITTED_RELEASES = ("full", "refine", "fast", "fast-refine", "fast-refine-2")

# The release's recipe study (python -m helpers recipe-study): candidates for the release, each
# trained from the same seed for the same wall-clock seconds on the release's data. The first
# three share the shipped UNet's network and cost; the last three cost more per face.
RECIPE_STUDIES: dict[str, dict[str, ReleaseConfig]] = {
    "full": {
        "shipped recipe": ReleaseConfig(),
        "strong augmentation": ReleaseConfig(augmentation=STRONG_AUGMENT),
        "outline weight 2": ReleaseConfig(jaw_weight=2.0),
        "deeper (depth 5)": ReleaseConfig(network={**UNET, "depth": 5}),
        "wider (width 24)": ReleaseConfig(network={**UNET, "width": 24}),
        "160 px": ReleaseConfig(crop_size=160),
    },
    "quick": {
        "shipped recipe": RELEASES["quick"],
        "outline weight 2": replace(RELEASES["quick"], jaw_weight=2.0),
    },
}
STUDY_SECONDS = {"full": 210.0, "quick": 3.0}  # each candidate's training budget

# The GPU job (tools/gpu_job.py): a larger teacher trained from the pack
# (python -m helpers pack), then the shipped UNet and the fast model distilled from it. Teachers
# are named options; their maps have the students' stride, so a student can learn from them.
TEACHERS = {
    "unet-w32": {"name": "UNet", "width": 32, "depth": 4, "stride": 4},  # 7.7M parameters
    "unet-w48": {"name": "UNet", "width": 48, "depth": 4, "stride": 4},  # 17.3M parameters
    "tiny": {"name": "UNet", "width": 4, "depth": 2, "stride": 4},
}


@dataclass(frozen=True)
class GpuJobConfig:
    """One GPU job: each step trained for minutes (the whole job must fit one command on the
    GPU machine) or, in the tiny profile that tests it on a CPU, for epochs. batch_size and
    lr are per process; under torchrun the batch grows with the processes."""

    teacher: str = "unet-w32"  # a key of TEACHERS
    students: tuple[tuple[str, dict], ...] = (
        ("landmarks68.pt", dict(UNET)),
        ("landmarks68_fast.pt", dict(FASTNET)),
    )
    teacher_minutes: float = 3.0
    student_minutes: float = 1.5  # each
    epochs: int | None = None  # every step's epochs instead of minutes
    batch_size: int = 64
    lr: float = 2e-3
    distill: float = 0.5
    loss: str = "awing"
    sigma: float = 1.5
    augmentation: AugmentConfig = STRONG_AUGMENT
    precision: str = "auto"  # bfloat16 on GPUs that have it (training.precision)


GPU_JOBS = {
    "h200": GpuJobConfig(),
    "tiny": GpuJobConfig(
        teacher="tiny",
        students=(
            ("landmarks68.pt", {**UNET, "width": 4, "depth": 2}),
            ("landmarks68_fast.pt", {**FASTNET, "width": 4, "blocks": (1, 1, 1)}),
        ),
        epochs=2,
        batch_size=8,
        precision="fp32",
    ),
}

# The course's exact Part 3 settings (224 px, 50 epochs, lr 1e-3, L1): hours on a CPU, minutes
# on a GPU. Select them with `--profile course` or FKD_PROFILE=course.
COURSE_IBUG = IbugConfig(crop_size=224)


@dataclass(frozen=True)
class Profile:
    """A named set of per-part settings."""

    name: str
    nose: NoseConfig = field(default_factory=NoseConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    ibug: IbugConfig = field(default_factory=IbugConfig)
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)
    export_onnx: bool = True  # notebooks 3 and 4 export the model they ship to ONNX, and time it


PROFILES: dict[str, Profile] = {
    # Reproduces the committed results on two CPU cores.
    "full": Profile("full"),
    # The course's settings for every part; Part 3 at full size wants a GPU.
    "course": Profile("course", ibug=COURSE_IBUG),
    # Minutes for all four notebooks on two CPU cores, AVX2-only ones included: the same code
    # paths, with fewer epochs, faces and study settings, and no ONNX export of a model trained
    # for one epoch (the export's own tests run it). The first thing a student and CI run.
    "quick": Profile(
        "quick",
        export_onnx=False,
        nose=NoseConfig(epochs=4, study_epochs=2, study_lrs=(1e-3, 1e-2), study_channels=(8, 16)),
        face=FaceConfig(epochs=2, tuned_epochs=2, study_epochs=1, study_lrs=(1e-3,)),
        ibug=IbugConfig(
            epochs=2,
            max_train_faces=96,
            study_sizes=(128,),
            study_batches=(),
            study_seconds=4.0,
            study_lrs=(1e-3,),
            study_lr_seconds=3.0,
            data_ablation=False,
            pretrained=False,
        ),
        heatmap=HeatmapConfig(
            imm=ImmMaps(nose_epochs=2, face_size=(160, 120), face_epochs=1, loss_study_epochs=1),
            ibug=IbugMaps(
                resnet_epochs=1,
                unet_epochs=1,
                loss_study_seconds=3.0,
                max_train_faces=64,
                pretrained=False,
            ),
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


def relative(path: Path | str) -> str:
    """A path as printed for people: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


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


def models_dir() -> Path:
    """The shipped model and its card (under FKD_OUTPUT_DIR in tests, like figures)."""
    path = output_dir() / "models"
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


def _cpuinfo(field: str) -> str:
    """The first value of a /proc/cpuinfo field ('' where there is none, as off Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), since speed differs per CPU."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_features() -> str:
    """The instruction sets that set a CPU's speed here: AVX2 or AVX-512, native bfloat16, AMX;
    and the vector kind torch runs with when it is held lower (ATEN_CPU_CAPABILITY), as when an
    AVX-512 CPU emulates an AVX2-only one. CPUs of one model name differ in these."""
    flags = set(_cpuinfo("flags").split())
    found = ["AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"]
    found += [
        name for flag, name in (("avx512_bf16", "BF16"), ("amx_tile", "AMX")) if flag in flags
    ]
    running = str(torch.backends.cpu.get_cpu_capability())
    if os.environ.get("ATEN_CPU_CAPABILITY") or os.environ.get("ONEDNN_MAX_CPU_ISA"):
        found.append(f"run as {running}")
    return ", ".join(found)


def hardware() -> str:
    """A short description of the machine, for results files, notebook headers and timings."""
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cores = f"{os.cpu_count()} cores, {cpu_features()}"
    return f"CPU {cpu_name()} ({cores}), {torch.get_num_threads()} threads"


def loader_workers() -> int:
    """DataLoader worker processes: only the cores that torch's own threads leave spare."""
    spare = (os.cpu_count() or 1) - (1 if torch.cuda.is_available() else torch.get_num_threads())
    return max(0, min(spare, 8))
