"""The 300-W crops a release trains on, in one file that travels: to a GPU machine, which has
no copy of the dataset, or to another computer.

Usage: python -m helpers pack [--size 128] [--max-train-faces N] [--out FILE] [--record]

A pack holds the training and validation faces of notebooks 3 and 4's split, cut at one crop
size as uint8 crops with their points, the validation faces' squares, true points and
subsets, the mirror permutation and the crop's settings. Training crops are JPEG (quality 90,
no chroma subsampling): about 40 dB against the crop as cut and 13 MB for 1,987 faces, where
lossless PNG or WebP need 40 to 55 MB. Validation crops are lossless WebP, so a model scores
the same on them as on the crops cut from the images. The release trains on the training
crops as the pack stores them (`as_stored`) whether it reads the pack or the XML, so both give
the same model from the same seed.

The file's SHA-256 goes beside it (FILE.sha256, in sha256sum's format), and a digest of the
decoded training pixels goes inside: reading checks both, so a changed file or a JPEG decoder
that decodes otherwise fails loudly rather than training on other pixels.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..config import IbugConfig, cache_dir, dataset_dir, relative
from ..files import atomic_write, sha256_of
from ..plots import save_results
from .augment import Augment
from .datasets import KeypointDataset
from .ibug import IBUG_DIR, IbugFace
from .ibug_prep import IbugData, prepare

FORMAT = 1
TRAIN_CODEC = {"format": "JPEG", "quality": 90, "subsampling": 0}  # 4:4:4, quality 90
LOSSLESS = {"format": "WEBP", "lossless": True, "quality": 100, "method": 4}


def encode(images: torch.Tensor, codec: dict) -> list[bytes]:
    """Each uint8 (C, H, W) image of a batch as an image file's bytes."""
    blobs = []
    for image in images.numpy():
        buffer = io.BytesIO()
        pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        Image.fromarray(pixels).save(buffer, **codec)
        blobs.append(buffer.getvalue())
    return blobs


def decode(blobs: list[bytes], channels: int) -> torch.Tensor:
    """The uint8 (N, C, H, W) batch of image files' bytes."""
    mode = "L" if channels == 1 else "RGB"
    arrays = [np.asarray(Image.open(io.BytesIO(b)).convert(mode)) for b in blobs]
    stacked = np.stack(arrays)
    return torch.from_numpy(stacked[:, None] if channels == 1 else stacked.transpose(0, 3, 1, 2))


def stored(images: torch.Tensor) -> torch.Tensor:
    """Training crops as a pack stores them: through the JPEG codec and back."""
    return decode(encode(images, TRAIN_CODEC), images.shape[1]).contiguous()


def as_stored(data: IbugData) -> IbugData:
    """The same faces, with the training crops as the pack stores them (same augmentation)."""
    train = KeypointDataset(stored(data.train.images), data.train.points, data.grayscale)
    return replace(data, train=train.with_augment(data.augment))


def pixels_digest(images: torch.Tensor) -> str:
    """Hex SHA-256 of a uint8 batch's pixels."""
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()


@dataclass(frozen=True)
class Pack:
    """What a pack holds: crops (uint8, N x C x S x S) and points in crop pixels, the
    validation faces' squares in their images, true points in image pixels and subsets."""

    train_images: torch.Tensor
    train_points: torch.Tensor
    val_images: torch.Tensor
    val_points: torch.Tensor
    val_squares: np.ndarray
    val_true_px: np.ndarray
    val_subsets: np.ndarray
    perm: np.ndarray
    train_files: np.ndarray
    val_files: np.ndarray
    meta: dict

    @property
    def size(self) -> int:
        return int(self.meta["size"])

    @property
    def grayscale(self) -> bool:
        return self.meta["channels"] == 1

    def train_set(self, augment: Augment | None = None) -> KeypointDataset:
        """The training crops as a dataset, with `augment` on each sample."""
        return KeypointDataset(self.train_images, self.train_points, self.grayscale, augment)

    def val_set(self) -> KeypointDataset:
        """The validation crops as a dataset (no augmentation)."""
        return KeypointDataset(self.val_images, self.val_points, self.grayscale)


def _joined(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Image files' bytes as one uint8 array and the offsets that cut it back."""
    offsets = np.cumsum([0] + [len(b) for b in blobs], dtype=np.int64)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets


def _split(joined: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    """Inverse of _joined."""
    data = joined.tobytes()
    return [data[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def _names(faces: list[IbugFace]) -> np.ndarray:
    """The faces' image files, relative to the dataset's folder: which faces a pack holds."""
    folder = dataset_dir(IBUG_DIR)
    return np.array([str(Path(f.image_path).relative_to(folder)) for f in faces])


def write(data: IbugData, path: Path) -> str:
    """Pack `data`'s training and validation faces into `path` (atomically), with its SHA-256
    beside it; returns the SHA-256."""
    channels = data.train.images.shape[1]
    train_blobs = encode(data.train.images, TRAIN_CODEC)
    train_pixels = decode(train_blobs, channels)
    meta = {
        "format": FORMAT,
        "size": data.size,
        "channels": channels,
        "crop_factor": data.crop_factor,
        "crop_shift": data.crop_shift,
        "train_codec": TRAIN_CODEC,
        "val_codec": LOSSLESS,
        "train_pixels_sha256": pixels_digest(train_pixels),
        "faces": {"train": len(data.train), "val": len(data.val)},
        "split": "notebooks 3 and 4's: by image, 10% for validation, seed 0",
    }
    train_joined, train_offsets = _joined(train_blobs)
    val_joined, val_offsets = _joined(encode(data.val.images, LOSSLESS))
    arrays = {
        "train_blobs": train_joined,
        "train_offsets": train_offsets,
        "train_points": data.train.points.numpy().astype(np.float32),
        "val_blobs": val_joined,
        "val_offsets": val_offsets,
        "val_points": data.val.points.numpy().astype(np.float32),
        "val_squares": np.asarray(data.val_squares, dtype=np.float32),
        "val_true_px": data.true_px.astype(np.float32),
        "val_subsets": data.subsets.astype(str),
        "perm": np.asarray(data.perm, dtype=np.int64),
        "train_files": _names(data.train_faces),
        "val_files": _names(data.val_faces),
        "meta": np.array(json.dumps(meta)),
    }
    path = Path(path)
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
    digest = sha256_of(path)
    atomic_write(checksum_path(path), f"{digest}  {path.name}\n")
    return digest


def checksum_path(path: Path) -> Path:
    """Where a pack's SHA-256 goes: beside it, FILE.sha256."""
    return Path(path).with_name(Path(path).name + ".sha256")


def read(path: Path, sha256: str | None = None) -> Pack:
    """Load a pack after checking its SHA-256 (given, else from FILE.sha256) and, once
    decoded, its training pixels' digest."""
    path = Path(path)
    if sha256 is None:
        if not checksum_path(path).exists():
            raise ValueError(f"{path}: no {checksum_path(path).name} beside it to verify it by")
        sha256 = checksum_path(path).read_text().split()[0]
    if sha256_of(path) != sha256:
        raise ValueError(f"{path}: SHA-256 differs from {sha256}: the file changed or is cut short")
    with np.load(path, allow_pickle=False) as arrays:
        a = {key: arrays[key] for key in arrays.files}
    meta = json.loads(str(a["meta"]))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: pack format {meta.get('format')}, this code reads {FORMAT}")
    channels = meta["channels"]
    train_images = decode(_split(a["train_blobs"], a["train_offsets"]), channels)
    if pixels_digest(train_images) != meta["train_pixels_sha256"]:
        raise ValueError(
            f"{path}: this machine's JPEG decoder gives other pixels than the packing one did"
        )
    return Pack(
        train_images,
        torch.from_numpy(a["train_points"]),
        decode(_split(a["val_blobs"], a["val_offsets"]), channels),
        torch.from_numpy(a["val_points"]),
        a["val_squares"],
        a["val_true_px"],
        a["val_subsets"],
        a["perm"],
        a["train_files"],
        a["val_files"],
        meta,
    )


def megabytes(blobs: list[bytes]) -> float:
    return sum(len(b) for b in blobs) / 1e6


def record(data: IbugData, path: Path) -> dict:
    """What a pack costs and loses: its size by part, the training crops' distance from the
    crops as cut, and what lossless formats would take for all its crops."""
    cut = data.train.images
    error = stored(cut).float() - cut.float()
    every = torch.cat([cut, data.val.images])
    with np.load(path, allow_pickle=False) as arrays:
        parts = {key: arrays[key].nbytes / 1e6 for key in arrays.files}
    crops = {"train_blobs": "training crops", "val_blobs": "validation crops"}
    return {
        "faces": {"train": len(data.train), "val": len(data.val)},
        "size": data.size,
        "megabytes": round(Path(path).stat().st_size / 1e6, 2),
        "megabytes_by_part": {
            **{name: round(parts[key], 2) for key, name in crops.items()},
            "points, squares, split, file names": round(
                sum(v for k, v in parts.items() if k not in crops), 2
            ),
        },
        "train_psnr_db": round(float(10 * torch.log10(255**2 / error.pow(2).mean())), 1),
        "train_mean_abs_difference": round(float(error.abs().mean()), 2),
        "train_max_abs_difference": int(error.abs().max()),
        "lossless_megabytes_all_crops": {
            "PNG": round(megabytes(encode(every, {"format": "PNG", "optimize": True})), 1),
            "WebP": round(megabytes(encode(every, LOSSLESS)), 1),
        },
    }


def default_path(size: int, max_train_faces: int | None = None) -> Path:
    """Where the pack of a crop size goes by default: the cache, named by its settings."""
    limit = "" if max_train_faces is None else f"_{max_train_faces}faces"
    return cache_dir() / f"300w_{size}px{limit}.npz"


def main(argv: list[str] | None = None) -> int:
    """Pack the release's training and validation crops for a crop size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="crop size in pixels")
    parser.add_argument("--max-train-faces", type=int, help="the first N training faces only")
    parser.add_argument("--out", type=Path, help="the pack file (default: under the cache)")
    parser.add_argument(
        "--record", action="store_true", help="also measure it into results/pack.json"
    )
    args = parser.parse_args(argv)
    out = args.out or default_path(args.size, args.max_train_faces)
    data = prepare(IbugConfig(crop_size=args.size), args.max_train_faces)
    digest = write(data, out)
    mb = out.stat().st_size / 1e6
    print(f"{relative(out)}: {len(data.train)} training and {len(data.val)} validation faces")
    print(f"{mb:.1f} MB, SHA-256 {digest} (in {relative(checksum_path(out))})")
    if args.record:
        print(save_results("pack", record(data, out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
