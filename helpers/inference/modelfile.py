"""The landmark model file: typed settings, safe save and load, the typed model card and its
hash, and the better-only rule for the shipped model.

A model file is a torch zip of {"model": half-precision state dict, "settings": dict of
ModelSettings, "digest": SHA-256 of both}. The digest travels inside the file, so a damaged
file is refused even with no card beside it; torch itself does not check its zip's CRCs. The
card, <name>.json beside the file, records how it was made and scored, and the file's SHA-256,
which loading also checks. Weights that are not finite are refused.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ..config import REPO_ROOT, relative
from ..files import atomic_write, sha256_of
from ..nets.models import build, for_inference
from ..nets.readout import READOUTS

DEFAULT_MODEL = REPO_ROOT / "models" / "landmarks68.pt"  # shipped: the best 300-W model
FAST_MODEL = REPO_ROOT / "models" / "landmarks68_fast.pt"  # shipped: the fast one
MAX_SHIPPED_BYTES = 25_000_000  # a shipped model stays small enough for any git host
SETTINGS_VERSION = 1


# The weights' terms, on every card: the code is MIT-licensed (LICENSE), the data is not.
WEIGHTS_TERMS = (
    "Trained on iBUG 300-W, whose annotations are for research use only: these weights are for "
    "research and non-commercial use, under 300-W's terms (cite Sagonas et al., 300 Faces "
    "in-the-Wild Challenge). The MIT licence of the code does not cover them."
)


@dataclass(frozen=True, kw_only=True)
class ModelCard:
    """What a model is and how it was made, scored and timed: the card written beside it.

    NMEs are on the 300-W validation faces, with and without the mirrored prediction; times are
    ms per face at batch 1, float32, without and with the mirror, on `hardware`."""

    model: str
    trained_by: str  # the notebook or command that trained it
    data: str
    input: str
    settings: dict
    val_nme: float
    val_auc8: float
    val_failure8: float
    val_nme_without_mirrored_prediction: float
    ms_per_face_batch1: float
    ms_per_face_batch1_mirrored: float
    precision: str
    hardware: str
    train_seconds: float
    pretrained_imagenet: bool = False
    compared_on_the_same_faces: dict = field(default_factory=dict)
    ced_figure: str | None = None
    terms: str = WEIGHTS_TERMS

    def as_dict(self) -> dict:
        """The card as the JSON beside the model holds it."""
        return {k: v for k, v in asdict(self).items() if v is not None}


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
        """Settings as saved; files from before versioned settings are refused by name."""
        data = dict(data)
        if "version" not in data:
            raise ValueError(
                "model settings without a version (written before helpers.inference.modelfile): "
                "rerun the notebook that trained it to save it again"
            )
        if data["version"] > SETTINGS_VERSION:
            raise ValueError(f"model settings version {data['version']} is newer than this code")
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


class ModelFileError(ValueError):
    """A model file that cannot be trusted or read; the message names the file and says why."""


def digest(state: dict[str, torch.Tensor], settings: dict) -> str:
    """SHA-256 of a state dict (names, dtypes, shapes and bytes, in name order) and settings."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        h.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return h.hexdigest()


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
    state = {
        k: (v.half() if v.is_floating_point() else v).contiguous()  # the file's bytes: one layout
        for k, v in model.state_dict().items()
    }
    _check_finite(state, Path(path))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    card_path(path).unlink(missing_ok=True)
    data = settings.to_dict()
    record = {"model": state, "settings": data, "digest": digest(state, data)}
    return atomic_write(Path(path), lambda tmp: torch.save(record, tmp))


def _check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse weights with NaN or infinity: they put every point in one place, silently."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ModelFileError(f"{relative(path)}: weights are not finite in {', '.join(bad[:3])}")


def write_model_card(weights: Path, card: ModelCard | dict) -> Path:
    """Write the model card beside the weights, with their size and SHA-256 for verification."""
    weights = Path(weights)
    card = card.as_dict() if isinstance(card, ModelCard) else card
    full = {**card, "weights": weights.name, "bytes": weights.stat().st_size}
    full["sha256"] = sha256_of(weights)
    path = card_path(weights)
    atomic_write(path, json.dumps(full, indent=2) + "\n")
    return path


# The card's score a shipped model is judged by: the way it runs. The accurate model runs with
# the mirrored average, the fast one (`--fast`) without it.
SHIP_METRIC = {True: "val_nme", False: "val_nme_without_mirrored_prediction"}


def ship(
    path: Path, model: nn.Module, settings: ModelSettings, card: ModelCard, mirrored: bool = True
) -> bool:
    """Save a model and its card at `path` unless the model there scores as well or better,
    compared the way it runs (SHIP_METRIC: with or without the mirror): the shipped file keeps
    its name and only ever gets better. True if written."""
    if weights_bytes(model) > MAX_SHIPPED_BYTES:
        raise ValueError(f"{weights_bytes(model) / 1e6:.1f} MB of weights: over the shipped limit")
    metric = SHIP_METRIC[mirrored]
    if card_path(path).is_file() and Path(path).is_file():
        current = json.loads(card_path(path).read_text()).get(metric, float("inf"))
        if current <= getattr(card, metric):
            return False
    write_model_card(
        save_landmarker(path, model, settings), {**card.as_dict(), "shipped_by": metric}
    )
    return True


def load_landmarker(
    path: Path = DEFAULT_MODEL, allow_unverified: bool = False
) -> tuple[nn.Module, ModelSettings]:
    """Load a saved landmark model safely: weights_only (tensors and plain data, no pickled
    code), its own digest checked, its card's SHA-256 checked when a card is beside it, and
    finite weights. A file without a digest (an older format) loads only with
    allow_unverified=True, and with a warning."""
    path = Path(path)
    if not path.is_file():
        where = "a folder" if path.is_dir() else "missing"
        raise FileNotFoundError(
            f"No model at {relative(path)} ({where}): the shipped one is {relative(DEFAULT_MODEL)}"
        )
    if card_path(path).is_file():
        expected = json.loads(card_path(path).read_text()).get("sha256")
        if expected and sha256_of(path) != expected:
            raise ModelFileError(
                f"{relative(path)}: SHA-256 differs from its model card; the file is damaged"
            )
    state = _read(path)
    if "digest" in state:
        if digest(state["model"], state["settings"]) != state["digest"]:
            raise ModelFileError(f"{relative(path)}: its weights do not match its digest (damaged)")
    elif not allow_unverified:
        raise ModelFileError(
            f"{relative(path)} carries no digest (an older format), so it cannot be verified; "
            "load it with allow_unverified=True (--allow-unverified) if you trust it"
        )
    else:
        warnings.warn(f"{relative(path)}: loading an unverified model file", stacklevel=2)
    _check_finite(state["model"], path)
    try:
        settings = ModelSettings.from_dict(state["settings"])
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{relative(path)}: {err}") from err
    model = build(settings.architecture)
    model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    return for_inference(model), settings


def _read(path: Path) -> dict:
    """torch.load with weights_only, its failures turned into one clear error naming the file."""
    try:
        with warnings.catch_warnings():  # torch's warnings about odd pickles: the error says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelFileError(
            f"{relative(path)}: refused, it holds more than tensors and plain data (pickled code)"
        ) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(
            f"{relative(path)}: not a readable model file ({type(err).__name__})"
        ) from None
    if not isinstance(state, dict) or not {"model", "settings"} <= state.keys():
        raise ModelFileError(f"{relative(path)}: not a landmark model file (no model/settings)")
    return state
