"""The landmark model file: typed settings, safe save and load, the model card and its hash,
and the better-only rule for the shipped model.

A model file is a torch zip of {"model": half-precision state dict, "settings": dict of
ModelSettings}. Its card, <name>.json beside it, records how it was made and scored, and the
file's SHA-256, which loading checks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from .config import REPO_ROOT, relative
from .download import sha256_of
from .models import build
from .readout import READOUTS

DEFAULT_MODEL = REPO_ROOT / "models" / "landmarks68.pt"  # shipped: the best 300-W model
MAX_SHIPPED_BYTES = 25_000_000  # a shipped model stays small enough for any git host
SETTINGS_VERSION = 1


@dataclass(frozen=True)
class ModelSettings:
    """What it takes to use saved weights: the network to rebuild (models.build), how to read
    its output (readout.READOUTS), the crop it expects, its mirror permutation (None: no
    mirrored average) and the detector calibration (dx, dy, scale; detect.calibrate)."""

    architecture: dict
    readout: str
    crop_size: int
    crop_factor: float
    crop_shift: float
    in_channels: int = 3
    flip_perm: tuple[int, ...] | None = None
    detector_calibration: tuple[float, float, float] = (0.0, 0.0, 1.0)
    version: int = field(default=SETTINGS_VERSION)

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"unknown readout {self.readout!r}; choose one of {READOUTS}")
        if self.flip_perm is not None:
            object.__setattr__(self, "flip_perm", tuple(int(i) for i in self.flip_perm))
        calibration = tuple(float(v) for v in self.detector_calibration)
        object.__setattr__(self, "detector_calibration", calibration)

    def without_mirror(self) -> ModelSettings:
        """The same model read without the mirrored average (half the time)."""
        return replace(self, flip_perm=None)

    def with_calibration(self, calibration) -> ModelSettings:
        """The same model with a measured detector calibration."""
        return replace(self, detector_calibration=tuple(float(v) for v in calibration))

    def to_dict(self) -> dict:
        """Plain data (lists, numbers, strings), which a weights_only load accepts."""
        data = asdict(self)
        data["flip_perm"] = None if self.flip_perm is None else list(self.flip_perm)
        data["detector_calibration"] = list(self.detector_calibration)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelSettings:
        """Settings as saved; version 0 is notebook 3's untyped dict (a ResNet18 regressor)."""
        data = dict(data)
        if data.get("version", 0) > SETTINGS_VERSION:
            raise ValueError(f"model settings version {data['version']} is newer than this code")
        if "version" not in data:  # notebook 3's files, until its next full run
            data.setdefault("architecture", {"name": "LandmarkResNet", "in_channels": 3})
            data.setdefault("readout", "regression")
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def weights_bytes(model: nn.Module) -> int:
    """The size of a model's weights as save_landmarker stores them (half precision)."""
    return sum(
        v.numel() * (2 if v.is_floating_point() else v.element_size())
        for v in model.state_dict().values()
    )


def card_path(weights: Path) -> Path:
    """Where a model's card lives: beside its weights, as JSON."""
    return Path(weights).with_suffix(".json")


def save_landmarker(path: Path, model: nn.Module, settings: ModelSettings | dict) -> Path:
    """Save weights (half precision, to stay small) with their settings. A card left from
    earlier weights is removed: it would describe (and hash) another file."""
    if isinstance(settings, dict):
        settings = ModelSettings.from_dict(settings)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    card_path(path).unlink(missing_ok=True)
    torch.save({"model": state, "settings": settings.to_dict()}, path)
    return Path(path)


def write_model_card(weights: Path, card: dict) -> Path:
    """Write the model card beside the weights, with their size and SHA-256 for verification."""
    weights = Path(weights)
    full = {**card, "weights": weights.name, "bytes": weights.stat().st_size}
    full["sha256"] = sha256_of(weights)
    path = card_path(weights)
    path.write_text(json.dumps(full, indent=2) + "\n")
    return path


def ship(path: Path, model: nn.Module, settings: ModelSettings, card: dict) -> bool:
    """Save a model and its card at `path` unless the model there has a lower val_nme on its
    card: the shipped file keeps its name and only ever gets better. True if written."""
    if weights_bytes(model) > MAX_SHIPPED_BYTES:
        raise ValueError(f"{weights_bytes(model) / 1e6:.1f} MB of weights: over the shipped limit")
    if card_path(path).is_file() and Path(path).is_file():
        current = json.loads(card_path(path).read_text()).get("val_nme", float("inf"))
        if current <= card["val_nme"]:
            return False
    write_model_card(save_landmarker(path, model, settings), card)
    return True


def load_landmarker(path: Path = DEFAULT_MODEL) -> tuple[nn.Module, ModelSettings]:
    """Load a saved landmark model safely: its hash checked against its card when it has one,
    and weights_only (tensors and plain data, no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No model at {relative(path)}: the shipped one is {relative(DEFAULT_MODEL)}"
        )
    if card_path(path).is_file():
        expected = json.loads(card_path(path).read_text()).get("sha256")
        if expected and sha256_of(path) != expected:
            raise ValueError(f"{path}: SHA-256 differs from its model card; the file is damaged")
    state = torch.load(path, map_location="cpu", weights_only=True)
    settings = ModelSettings.from_dict(state["settings"])
    model = build(settings.architecture)
    model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    return model.eval(), settings
